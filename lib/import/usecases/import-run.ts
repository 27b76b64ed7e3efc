import { createHash } from "node:crypto";
import { type Candidate, modelOf, newCandidateFromLine } from "../../shared/domain/candidate.ts";
import { splitLines } from "../domain/lines.ts";
import { classifyRunLine, excerpt, type QuarantineReason } from "../domain/run-line.ts";
import { runIdFromKey } from "../domain/run-upload.ts";
import type {
  CandidateImportStore,
  QuarantineSink,
  RunCounts,
  RunObjectReader,
  RunRecordStore,
  RunStart,
  RunSummary,
  StoredCandidateOrigin,
} from "../ports.ts";

/** One uploaded run object, as an S3 event notification names it (key already decoded). */
export interface RunUpload {
  readonly bucket: string;
  readonly key: string;
  /** Distinguishes two uploads of the same bytes; a redelivered notification repeats it. */
  readonly sequencer?: string;
  readonly eTag?: string;
  /** The folder holding run folders when not `runs/` (a manual import from a configured prefix). */
  readonly runsPrefix?: string;
}

export interface ImportRunDeps {
  readonly objects: RunObjectReader;
  readonly candidates: CandidateImportStore;
  readonly runs: RunRecordStore;
  readonly quarantine: QuarantineSink;
  readonly now?: () => Date;
  readonly limits?: Partial<ImportLimits>;
}

export interface ImportLimits {
  /** Lines longer than this are quarantined without being parsed. */
  maxLineBytes: number;
  /** Candidates per atomic insert (a transaction holds at most 100 items, one is the counter). */
  chunkSize: number;
  /** Serialized bytes per atomic insert, under the 4 MB transaction limit. */
  chunkBytes: number;
  /** Inserts in flight at once. */
  parallelChunks: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxLineBytes: 8 * 1024 * 1024,
  chunkSize: 99,
  chunkBytes: 3 * 1024 * 1024,
  parallelChunks: 8,
};

export type ImportOutcome =
  | {
      readonly status: "imported";
      readonly runId: string;
      readonly importId: string;
      readonly summary: RunSummary;
    }
  | { readonly status: "already_imported"; readonly runId: string; readonly importId: string };

interface Pending {
  readonly candidate: Candidate;
  readonly line: number;
  readonly raw: string;
}

/** A stable id for one upload of one object: a redelivered notification maps to the same id. */
export function importIdOf(upload: RunUpload, etag: string): string {
  return createHash("sha256")
    .update([upload.bucket, upload.key, etag, upload.sequencer ?? ""].join("\n"))
    .digest("hex")
    .slice(0, 32);
}

/**
 * Imports one uploaded run: streams it line by line, stores every valid candidate once as
 * `needs_review`, quarantines every bad line with its number and reason, and records the run.
 * Idempotent: a stored id is skipped, never overwritten; a redelivery of a finished import does
 * nothing; a redelivery after a crash finishes with the counts of one clean run.
 */
export async function importRun(deps: ImportRunDeps, upload: RunUpload): Promise<ImportOutcome> {
  const limits = { ...DEFAULT_IMPORT_LIMITS, ...deps.limits };
  const now = deps.now ?? (() => new Date());
  const runId = runIdFromKey(upload.key, upload.runsPrefix);
  const object = await deps.objects.open(upload.bucket, upload.key);
  const importId = importIdOf(upload, object.etag);
  const startedAt = now();
  const start: RunStart = {
    runId,
    importId,
    bucket: upload.bucket,
    key: upload.key,
    etag: object.etag,
    size: object.size,
    startedAt: startedAt.toISOString(),
  };
  if ((await deps.runs.begin(start)) === "already_completed") {
    return { status: "already_imported", runId, importId };
  }

  const counts: RunCounts = { lines: 0, imported: 0, skipped: 0, quarantined: 0, quarantined_by_reason: {} };
  const capacity = { writeUnits: 0, readUnits: 0 };
  const quarantine = deps.quarantine.open(runId, importId);
  const hash = createHash("sha256");

  const quarantineLine = async (line: number, raw: string, reason: QuarantineReason, detail: string) => {
    counts.quarantined += 1;
    counts.quarantined_by_reason[reason] = (counts.quarantined_by_reason[reason] ?? 0) + 1;
    await quarantine.write({
      run_id: runId,
      import_id: importId,
      source_key: upload.key,
      line,
      reason,
      detail,
      raw: excerpt(raw),
    });
  };

  /**
   * A fresh run is inserted optimistically: the conditional insert itself reports the ids already
   * stored, so a new candidate costs one write and no read. Once a chunk meets stored ids (a
   * re-upload, a resumed crash) chunks are looked up first, which spares the failed insert, until a
   * looked-up chunk finds none again.
   */
  let lookUpFirst = false;
  const flush = async (chunk: Pending[]) => {
    let fresh = chunk;
    if (lookUpFirst) {
      const existing = await deps.candidates.findExisting(chunk.map((p) => p.candidate.id));
      capacity.readUnits += existing.readUnits;
      lookUpFirst = existing.found.size > 0;
      fresh = [];
      for (const pending of chunk) {
        const origin = existing.found.get(pending.candidate.id);
        if (origin) await settleExisting(pending, origin);
        else fresh.push(pending);
      }
    }
    if (fresh.length === 0) return;
    const result = await deps.candidates.insertNew(fresh.map((p) => p.candidate));
    capacity.writeUnits += result.writeUnits;
    counts.imported += result.inserted.length;
    if (result.tooLarge.length > 0) {
      const tooLarge = new Set(result.tooLarge);
      for (const pending of fresh) {
        if (tooLarge.has(pending.candidate.id)) {
          await quarantineLine(
            pending.line,
            pending.raw,
            "item_too_large",
            "the record does not fit in an item",
          );
        }
      }
    }
    if (result.alreadyStored.length > 0) {
      // Stored already (or by another writer since the lookup): find out whose they are.
      lookUpFirst = true;
      const stored = new Set(result.alreadyStored);
      const origins = await deps.candidates.findExisting([...stored]);
      capacity.readUnits += origins.readUnits;
      for (const pending of fresh) {
        if (stored.has(pending.candidate.id)) {
          await settleExisting(pending, origins.found.get(pending.candidate.id) ?? {});
        }
      }
    }
  };

  /** A stored id is this import's own earlier write (a resumed crash), an in-run repeat, or a skip. */
  const settleExisting = async (pending: Pending, origin: StoredCandidateOrigin) => {
    if (origin.importId === importId && origin.line === pending.line) counts.imported += 1;
    else if (origin.importId === importId) {
      await quarantineLine(
        pending.line,
        pending.raw,
        "duplicate_id",
        `id already on line ${origin.line} of this run`,
      );
    } else counts.skipped += 1;
  };

  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  const submit = async (chunk: Pending[]) => {
    const task = flush(chunk).catch((error: unknown) => {
      failure ??= error;
    });
    inFlight.add(task);
    void task.finally(() => inFlight.delete(task));
    while (inFlight.size >= limits.parallelChunks) await Promise.race(inFlight);
    if (failure) throw failure;
  };

  try {
    let chunk: Pending[] = [];
    let chunkIds = new Map<string, number>();
    let chunkBytes = 0;
    for await (const raw of splitLines(object.body, {
      maxLineBytes: limits.maxLineBytes,
      onBytes: (bytes) => hash.update(bytes),
    })) {
      counts.lines += 1;
      if (raw.tooLong) {
        await quarantineLine(raw.number, raw.text, "line_too_large", `${raw.tooLong.bytes} bytes`);
        continue;
      }
      const verdict = classifyRunLine(raw.text);
      if (!verdict.ok) {
        await quarantineLine(raw.number, raw.text, verdict.reason, verdict.detail);
        continue;
      }
      const firstLine = chunkIds.get(verdict.line.id);
      if (firstLine !== undefined) {
        await quarantineLine(
          raw.number,
          raw.text,
          "duplicate_id",
          `id already on line ${firstLine} of this run`,
        );
        continue;
      }
      const candidate = newCandidateFromLine(verdict.line, {
        source: verdict.line.source ?? "benchmark",
        channel: "s3-upload",
        model: modelOf(verdict.line),
        captured_at: now().toISOString(),
        source_run_id: runId,
        bucket: upload.bucket,
        key: upload.key,
        etag: object.etag,
        line: raw.number,
        import_id: importId,
      });
      chunk.push({ candidate, line: raw.number, raw: raw.text });
      chunkIds.set(candidate.id, raw.number);
      chunkBytes += Buffer.byteLength(raw.text);
      if (chunk.length >= limits.chunkSize || chunkBytes >= limits.chunkBytes) {
        await submit(chunk);
        chunk = [];
        chunkIds = new Map();
        chunkBytes = 0;
      }
    }
    if (chunk.length > 0) await submit(chunk);
    await Promise.all(inFlight);
    if (failure) throw failure;
    const quarantineKey = await quarantine.close();
    const finishedAt = now();
    const summary: RunSummary = {
      counts,
      sha256: hash.digest("hex"),
      quarantineKey,
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      capacity,
    };
    await deps.runs.complete(start, summary);
    return { status: "imported", runId, importId, summary };
  } catch (error) {
    await Promise.allSettled(inFlight);
    await quarantine.abort();
    await deps.runs
      .fail(start, error instanceof Error ? error.message : String(error))
      .catch(() => undefined);
    throw error;
  }
}

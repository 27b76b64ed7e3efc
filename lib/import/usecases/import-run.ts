import { createHash, randomUUID } from "node:crypto";
import { createSHA256, type IHasher } from "hash-wasm";
import { type Candidate, modelOf, newCandidateFromLine } from "../../common/domain/candidate.ts";
import { type Metrics, metrics as processMetrics } from "../../common/metrics.ts";
import { type RawLine, splitLines } from "../domain/lines.ts";
import { classifyRunLine, excerpt, QUARANTINE_REASONS, type QuarantineReason } from "../domain/run-line.ts";
import { runIdFromKey } from "../domain/run-upload.ts";
import { IMPORT_METRICS } from "../metrics.ts";
import type {
  CandidateImportStore,
  ContinuationQueue,
  ImportCheckpoint,
  QuarantineSink,
  QuarantineWriter,
  RunCounts,
  RunObjectReader,
  RunRecordStore,
  RunStart,
  RunSummary,
  StoredCandidateOrigin,
} from "../ports.ts";
import { trackImport } from "./imports-in-progress.ts";

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
  /** Where the rest of an import that stops before its deadline is handed on. */
  readonly continuations?: ContinuationQueue;
  readonly now?: () => Date;
  readonly limits?: Partial<ImportLimits>;
  /** Where each invocation's counts go (candidates imported, skipped, lines quarantined by reason); the process's metrics unless given. */
  readonly metrics?: Metrics;
}

/** The time an invocation has: an import stops reading once less than `reserveMs` is left. */
export interface ImportDeadline {
  readonly remainingMs: () => number;
  /** Room to settle the chunks in flight, save the checkpoint and hand the rest on. */
  readonly reserveMs: number;
}

/** The deadline of an invocation whose clock is `clock` (a Lambda context), keeping `reserveMs` in hand. */
export function deadlineOf(
  clock: { readonly getRemainingTimeInMillis: () => number },
  reserveMs: number,
): ImportDeadline {
  return { remainingMs: () => clock.getRemainingTimeInMillis(), reserveMs };
}

export interface ImportRunOptions {
  readonly deadline?: ImportDeadline;
  /** Resuming from a continuation: the import it continues (an object replaced since is not). */
  readonly continuationOf?: string;
  /** Told the import's run and id as soon as they are known (before any line is read). */
  readonly onStart?: (ids: { readonly runId: string; readonly importId: string }) => void;
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
  | { readonly status: "already_imported"; readonly runId: string; readonly importId: string }
  | {
      readonly status: "handed_on";
      readonly runId: string;
      readonly importId: string;
      /** What the import counted up to its checkpoint. */
      readonly counts: RunCounts;
    }
  /** A continuation of an import whose object has been replaced since: the new upload imports itself. */
  | { readonly status: "superseded"; readonly runId: string; readonly importId: string };

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
 *
 * With a deadline, an import that runs short of time stops after a line, settles what it has
 * read, saves a checkpoint (byte offset, counts, hash state, quarantine so far) on the run record
 * and hands the rest on; the invocation that picks it up reads on from the checkpoint, so a run of
 * any size finishes across invocations with the counts of one uninterrupted import.
 */
export async function importRun(
  deps: ImportRunDeps,
  upload: RunUpload,
  options: ImportRunOptions = {},
): Promise<ImportOutcome> {
  if (options.deadline && !deps.continuations) {
    throw new Error("an import with a deadline needs a continuation queue to hand the rest on");
  }
  const now = deps.now ?? (() => new Date());
  const opened = await openRun(deps, upload, now());
  const { runId, importId } = opened.start;
  options.onStart?.({ runId, importId });
  if (options.continuationOf !== undefined && options.continuationOf !== importId) {
    return { status: "superseded", runId, importId };
  }
  const begun = await deps.runs.begin(opened.start);
  if (begun.status === "already_completed") return { status: "already_imported", runId, importId };
  const resumed = begun.checkpoint?.importId === importId ? begun.checkpoint : null;
  const start = resumed ? { ...opened.start, startedAt: resumed.startedAt } : opened.start;
  const body = resumed
    ? (await deps.objects.open(upload.bucket, upload.key, { offset: resumed.offset, etag: start.etag })).body
    : opened.body;
  const hasher = await createSHA256();
  if (resumed) hasher.load(Buffer.from(resumed.hashState, "base64"));
  const run = new RunImport(deps, upload, start, now, hasher, resumed);
  const untrack = trackImport({
    runId,
    importId,
    key: upload.key,
    sizeBytes: start.size,
    counts: run.counts,
  });
  try {
    const position = await run.readLines(body, options.deadline);
    if (position) {
      const outcome = await run.handOn(position);
      run.recordMetrics();
      return outcome;
    }
    const summary = await run.finish();
    run.recordMetrics();
    return { status: "imported", runId, importId, summary };
  } catch (error) {
    await run.abandon(error);
    // What it stored stays stored (a retry skips it): counted now, its quarantine not (redone).
    run.recordMetrics({ storedOnly: true });
    throw error;
  } finally {
    untrack();
  }
}

/** Opens the object and names the import: its run, its stable id and where it came from. */
async function openRun(deps: ImportRunDeps, upload: RunUpload, startedAt: Date) {
  const runId = runIdFromKey(upload.key, upload.runsPrefix);
  const object = await deps.objects.open(upload.bucket, upload.key);
  const start: RunStart = {
    runId,
    importId: importIdOf(upload, object.etag),
    bucket: upload.bucket,
    key: upload.key,
    etag: object.etag,
    size: object.size,
    startedAt: startedAt.toISOString(),
  };
  return { start, body: object.body };
}

/** Where an import stopped: lines read and the byte just past the last of them. */
interface Position {
  readonly lines: number;
  readonly offset: number;
}

/**
 * One import in progress: what it counted so far, its quarantine object and its chunk pipeline.
 * Resumed from a checkpoint, it starts from the checkpoint's counts and writes its quarantine
 * entries as a further part of the import's quarantine object.
 */
class RunImport {
  private readonly limits: ImportLimits;
  /** What it counted so far; read (never changed) by whoever lists the imports in progress. */
  readonly counts: RunCounts;
  private readonly capacity: { writeUnits: number; readUnits: number };
  private readonly quarantine: QuarantineWriter;
  private readonly chunks: ChunkPipeline;
  /**
   * Ids of the lines read whose chunks have not settled, with their line: a later line repeating
   * one is the repeat, whichever chunk would have reached the table first. (Once a chunk has
   * settled, the table itself names the first line.)
   */
  private readonly unsettled = new Map<string, number>();
  /**
   * A fresh run is inserted optimistically: the conditional insert itself reports the ids already
   * stored, so a new candidate costs one write and no read. Once a chunk meets stored ids (a
   * re-upload, a resumed crash) chunks are looked up first, which spares the failed insert, until a
   * looked-up chunk finds none again.
   */
  private lookUpFirst = false;

  constructor(
    private readonly deps: ImportRunDeps,
    private readonly upload: RunUpload,
    private readonly start: RunStart,
    private readonly now: () => Date,
    private readonly hasher: IHasher,
    private readonly resumed: ImportCheckpoint | null,
  ) {
    this.limits = { ...DEFAULT_IMPORT_LIMITS, ...deps.limits };
    this.counts = resumed ? structuredClone(resumed.counts) : emptyCounts();
    this.capacity = resumed ? { ...resumed.capacity } : { writeUnits: 0, readUnits: 0 };
    this.quarantine = resumed
      ? deps.quarantine.open(start.runId, start.importId, partName(resumed.lines + 1))
      : deps.quarantine.open(start.runId, start.importId);
    this.chunks = new ChunkPipeline(this.limits.parallelChunks, (chunk) => this.store(chunk));
  }

  /**
   * Reads every line: a bad one is quarantined, a good one joins the chunk being filled. Once
   * the deadline is near it stops after the line in hand and answers where it stopped; `null`
   * when it read to the end. Either way every line read is settled when it returns.
   */
  async readLines(body: AsyncIterable<Uint8Array>, deadline?: ImportDeadline): Promise<Position | null> {
    let chunk = new Chunk();
    let stoppedAt: Position | null = null;
    for await (const raw of splitLines(body, {
      maxLineBytes: this.limits.maxLineBytes,
      onBytes: (bytes) => this.hasher.update(bytes),
      linesBefore: this.resumed?.lines ?? 0,
      offset: this.resumed?.offset ?? 0,
    })) {
      this.counts.lines += 1;
      const pending = await this.accept(raw);
      if (pending) {
        chunk.add(pending);
        if (chunk.size >= this.limits.chunkSize || chunk.bytes >= this.limits.chunkBytes) {
          await this.chunks.submit(chunk.pending);
          chunk = new Chunk();
        }
      }
      if (deadline && raw.end < this.start.size && deadline.remainingMs() < deadline.reserveMs) {
        stoppedAt = { lines: raw.number, offset: raw.end };
        break;
      }
    }
    if (chunk.size > 0) await this.chunks.submit(chunk.pending);
    await this.chunks.drain();
    return stoppedAt;
  }

  /** Closes the quarantine and records the finished run with its counts. */
  async finish(): Promise<RunSummary> {
    const own = await this.quarantine.close();
    const { runId, importId } = this.start;
    const parts = this.resumed ? [...this.resumed.quarantineParts, ...(own ? [own] : [])] : [];
    const quarantineKey = this.resumed ? await this.deps.quarantine.join(runId, importId, parts) : own;
    const finishedAt = this.now();
    const summary: RunSummary = {
      counts: this.counts,
      sha256: this.hasher.digest("hex"),
      quarantineKey,
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - Date.parse(this.start.startedAt),
      capacity: this.capacity,
      invocations: (this.resumed?.invocations ?? 0) + 1,
    };
    await this.deps.runs.complete(this.start, summary);
    if (parts.length > 0) await this.deps.quarantine.removeParts(parts);
    return summary;
  }

  /**
   * Saves where the import stopped and hands the rest on. Only the invocation whose checkpoint
   * is saved hands on: a duplicate resuming the same checkpoint stops there.
   */
  async handOn(position: Position): Promise<ImportOutcome> {
    const { runId, importId } = this.start;
    const own = await this.quarantine.close();
    const part =
      own && !this.resumed ? await this.deps.quarantine.keepAsPart(runId, importId, partName(1)) : own;
    const checkpoint: ImportCheckpoint = {
      importId,
      offset: position.offset,
      lines: position.lines,
      counts: this.counts,
      capacity: this.capacity,
      hashState: Buffer.from(this.hasher.save()).toString("base64"),
      quarantineParts: [...(this.resumed?.quarantineParts ?? []), ...(part ? [part] : [])],
      startedAt: this.start.startedAt,
      invocations: (this.resumed?.invocations ?? 0) + 1,
    };
    if (await this.deps.runs.saveCheckpoint(this.start, checkpoint, this.resumed)) {
      await this.deps.continuations?.handOn({
        bucket: this.upload.bucket,
        key: this.upload.key,
        ...(this.upload.sequencer !== undefined ? { sequencer: this.upload.sequencer } : {}),
        ...(this.upload.runsPrefix !== undefined ? { runsPrefix: this.upload.runsPrefix } : {}),
        importId,
      });
    }
    return { status: "handed_on", runId, importId, counts: this.counts };
  }

  /**
   * Counts what this invocation did (a resumed import counted its checkpoint's share before):
   * candidates imported and skipped, lines quarantined by reason.
   */
  recordMetrics(only: { storedOnly?: boolean } = {}): void {
    const metrics = this.deps.metrics ?? processMetrics;
    const before = this.resumed?.counts;
    metrics.count(IMPORT_METRICS.imported, this.counts.imported - (before?.imported ?? 0));
    if (only.storedOnly) return;
    metrics.count(IMPORT_METRICS.skipped, this.counts.skipped - (before?.skipped ?? 0));
    for (const reason of QUARANTINE_REASONS) {
      const now = this.counts.quarantined_by_reason[reason] ?? 0;
      metrics.count(IMPORT_METRICS.quarantined, now - (before?.quarantined_by_reason[reason] ?? 0), reason);
    }
  }

  /** Lets the chunks in flight settle, drops the partial quarantine and marks the run failed. */
  async abandon(error: unknown): Promise<void> {
    await this.chunks.settle();
    await this.quarantine.abort();
    await this.deps.runs
      .fail(this.start, error instanceof Error ? error.message : String(error))
      .catch(() => undefined);
  }

  /** The candidate a line holds, or `null` once the line is quarantined. */
  private async accept(raw: RawLine): Promise<Pending | null> {
    if (raw.tooLong) {
      await this.quarantineLine(raw.number, raw.text, "line_too_large", `${raw.tooLong.bytes} bytes`);
      return null;
    }
    const verdict = classifyRunLine(raw.text);
    if (!verdict.ok) {
      await this.quarantineLine(raw.number, raw.text, verdict.reason, verdict.detail);
      return null;
    }
    const firstLine = this.unsettled.get(verdict.line.id);
    if (firstLine !== undefined) {
      await this.quarantineLine(
        raw.number,
        raw.text,
        "duplicate_id",
        `id already on line ${firstLine} of this run`,
      );
      return null;
    }
    const candidate = newCandidateFromLine(verdict.line, {
      source: verdict.line.source ?? "benchmark",
      channel: "s3-upload",
      model: modelOf(verdict.line),
      captured_at: this.now().toISOString(),
      source_run_id: this.start.runId,
      bucket: this.upload.bucket,
      key: this.upload.key,
      etag: this.start.etag,
      line: raw.number,
      import_id: this.start.importId,
    });
    this.unsettled.set(candidate.id, raw.number);
    return {
      candidate: { ...candidate, content_sha256: contentFingerprint(candidate) },
      line: raw.number,
      raw: raw.text,
    };
  }

  /** Stores one chunk; its ids are then settled, and the table names their first line. */
  private async store(chunk: readonly Pending[]): Promise<void> {
    try {
      await this.insert(chunk);
    } finally {
      for (const pending of chunk) this.unsettled.delete(pending.candidate.id);
    }
  }

  /** Inserts one chunk: looked up first while stored ids keep turning up. */
  private async insert(chunk: readonly Pending[]): Promise<void> {
    const fresh = this.lookUpFirst ? await this.withoutStored(chunk) : chunk;
    if (fresh.length === 0) return;
    const result = await this.deps.candidates.insertNew(fresh.map((p) => p.candidate));
    this.capacity.writeUnits += result.writeUnits;
    this.counts.imported += result.inserted.length;
    const tooLarge = new Set(result.tooLarge);
    for (const pending of fresh.filter((p) => tooLarge.has(p.candidate.id))) {
      await this.quarantineLine(
        pending.line,
        pending.raw,
        "item_too_large",
        "the record does not fit in an item",
      );
    }
    // A record the store refused for what it holds is quarantined alone, never lost from the counts.
    const refused = new Map(result.refused.map((r) => [r.id, r.detail]));
    for (const pending of fresh.filter((p) => refused.has(p.candidate.id))) {
      await this.quarantineLine(
        pending.line,
        pending.raw,
        "invalid_field",
        `the store refused the record: ${refused.get(pending.candidate.id)}`,
      );
    }
    if (result.alreadyStored.length > 0) {
      // Stored already (or by another writer since the lookup): find out whose they are.
      this.lookUpFirst = true;
      const stored = new Set(result.alreadyStored);
      const origins = await this.deps.candidates.findExisting([...stored]);
      this.capacity.readUnits += origins.readUnits;
      for (const pending of fresh.filter((p) => stored.has(p.candidate.id))) {
        await this.settleExisting(pending, origins.found.get(pending.candidate.id) ?? {});
      }
    }
  }

  /** The lines of a chunk whose ids are not stored yet; the stored ones are settled on the way. */
  private async withoutStored(chunk: readonly Pending[]): Promise<Pending[]> {
    const existing = await this.deps.candidates.findExisting(chunk.map((p) => p.candidate.id));
    this.capacity.readUnits += existing.readUnits;
    this.lookUpFirst = existing.found.size > 0;
    const fresh: Pending[] = [];
    for (const pending of chunk) {
      const origin = existing.found.get(pending.candidate.id);
      if (origin) await this.settleExisting(pending, origin);
      else fresh.push(pending);
    }
    return fresh;
  }

  /**
   * A stored id is this import's own earlier write (a resumed crash), an in-run repeat, another
   * run's different prompt or answer under the same id (a conflict, never a silent skip), or a
   * skip (a re-upload, or the same content from another run).
   */
  private async settleExisting(pending: Pending, origin: StoredCandidateOrigin): Promise<void> {
    const { importId, runId } = this.start;
    if (origin.importId === importId && origin.line === pending.line) this.counts.imported += 1;
    else if (origin.importId === importId) {
      await this.quarantineLine(
        pending.line,
        pending.raw,
        "duplicate_id",
        `id already on line ${origin.line} of this run`,
      );
    } else if (
      origin.runId !== undefined &&
      origin.runId !== runId &&
      origin.contentSha256 !== undefined &&
      origin.contentSha256 !== pending.candidate.content_sha256
    ) {
      await this.quarantineLine(
        pending.line,
        pending.raw,
        "id_conflict",
        `id stored from run ${origin.runId} with a different prompt or answer than in run ${runId}`,
      );
    } else this.counts.skipped += 1;
  }

  private async quarantineLine(line: number, raw: string, reason: QuarantineReason, detail: string) {
    this.counts.quarantined += 1;
    this.counts.quarantined_by_reason[reason] = (this.counts.quarantined_by_reason[reason] ?? 0) + 1;
    await this.quarantine.write({
      run_id: this.start.runId,
      import_id: this.start.importId,
      source_key: this.upload.key,
      line,
      reason,
      detail,
      raw: excerpt(raw),
    });
  }
}

/** The candidates of one atomic insert being filled. */
class Chunk {
  readonly pending: Pending[] = [];
  bytes = 0;

  get size(): number {
    return this.pending.length;
  }

  add(pending: Pending): void {
    this.pending.push(pending);
    this.bytes += Buffer.byteLength(pending.raw);
  }
}

function emptyCounts(): RunCounts {
  return { lines: 0, imported: 0, skipped: 0, quarantined: 0, quarantined_by_reason: {} };
}

/** A quarantine part's name: the first line it covers, and a token that keeps two writers apart. */
function partName(firstLine: number): string {
  return `${String(firstLine).padStart(12, "0")}-${randomUUID().slice(0, 8)}`;
}

/** Runs up to `parallel` chunk stores at once; the first failure stops the reading that feeds it. */
class ChunkPipeline {
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;

  constructor(
    private readonly parallel: number,
    private readonly store: (chunk: readonly Pending[]) => Promise<void>,
  ) {}

  async submit(chunk: readonly Pending[]): Promise<void> {
    const task = this.store(chunk).catch((error: unknown) => {
      this.failure ??= error;
    });
    this.inFlight.add(task);
    void task.finally(() => this.inFlight.delete(task));
    while (this.inFlight.size >= this.parallel) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for every chunk in flight and throws the first failure, if any. */
  async drain(): Promise<void> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
  }

  /** Waits for every chunk in flight, whatever happens to it. */
  async settle(): Promise<void> {
    await Promise.allSettled(this.inFlight);
  }
}

/** The fingerprint of what a candidate teaches: its prompt and the model's answer. */
function contentFingerprint(candidate: Candidate): string {
  return createHash("sha256")
    .update(JSON.stringify([candidate.prompt_messages ?? null, candidate.model_response ?? null]))
    .digest("hex");
}

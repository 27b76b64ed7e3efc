import type { Candidate } from "../../lib/common/domain/candidate.ts";
import {
  type CandidateImportStore,
  type QuarantineEntry,
  type QuarantineSink,
  RunObjectMissingError,
  type RunObjectReader,
  type RunRecordStore,
  type RunStart,
  type RunSummary,
  type StoredCandidateOrigin,
} from "../../lib/import/ports.ts";

/** In-memory stand-ins for the import's ports. */
export class MemoryObjects implements RunObjectReader {
  readonly objects = new Map<string, { body: Buffer; etag: string }>();

  put(bucket: string, key: string, body: string | Buffer, etag = "etag-1") {
    this.objects.set(`${bucket}/${key}`, { body: Buffer.from(body), etag });
  }

  async open(bucket: string, key: string) {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw new RunObjectMissingError(`${bucket}/${key}`);
    const { body } = object;
    async function* chunks() {
      // Small uneven chunks, so lines straddle chunk boundaries.
      for (let i = 0; i < body.length; i += 7) yield body.subarray(i, i + 7);
    }
    return { body: chunks(), etag: object.etag, size: body.length };
  }
}

export class MemoryCandidates implements CandidateImportStore {
  readonly stored = new Map<string, Candidate>();
  counters: Record<string, number> = {};
  maxInlineBytes = Number.POSITIVE_INFINITY;

  async findExisting(ids: readonly string[]) {
    const found = new Map<string, StoredCandidateOrigin>();
    for (const id of ids) {
      const candidate = this.stored.get(id);
      if (candidate)
        found.set(id, {
          importId: candidate.provenance.import_id,
          line: candidate.provenance.line,
          runId: candidate.provenance.source_run_id,
          contentSha256: candidate.content_sha256 as string | undefined,
        });
    }
    return { found, readUnits: ids.length * 0.5 };
  }

  async insertNew(candidates: readonly Candidate[]) {
    const alreadyStored = candidates.filter((c) => this.stored.has(c.id)).map((c) => c.id);
    const tooLarge = candidates
      .filter((c) => Buffer.byteLength(JSON.stringify(c)) > this.maxInlineBytes)
      .map((c) => c.id);
    const inserted: string[] = [];
    for (const candidate of candidates) {
      if (alreadyStored.includes(candidate.id) || tooLarge.includes(candidate.id)) continue;
      this.stored.set(candidate.id, candidate);
      inserted.push(candidate.id);
      this.counters.total = (this.counters.total ?? 0) + 1;
    }
    return { inserted, alreadyStored, tooLarge, refused: [], writeUnits: inserted.length };
  }
}

export class MemoryRuns implements RunRecordStore {
  readonly records = new Map<
    string,
    { start: RunStart; state: string; summary?: RunSummary; error?: string }
  >();

  async begin(start: RunStart) {
    const current = this.records.get(start.runId);
    if (current && current.start.importId === start.importId && current.state === "completed") {
      return "already_completed" as const;
    }
    this.records.set(start.runId, { start, state: "importing" });
    return "started" as const;
  }

  async complete(start: RunStart, summary: RunSummary) {
    this.records.set(start.runId, { start, state: "completed", summary });
  }

  async fail(start: RunStart, error: string) {
    this.records.set(start.runId, { start, state: "failed", error });
  }
}

export class MemoryQuarantine implements QuarantineSink {
  readonly objects = new Map<string, QuarantineEntry[]>();

  open(runId: string, importId: string) {
    const key = `quarantine/runs/${runId}/${importId}.jsonl`;
    const entries: QuarantineEntry[] = [];
    return {
      write: async (entry: QuarantineEntry) => {
        entries.push(entry);
      },
      close: async () => {
        if (entries.length === 0) return null;
        this.objects.set(key, entries);
        return key;
      },
      abort: async () => undefined,
    };
  }
}

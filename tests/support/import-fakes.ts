import type { Candidate } from "../../lib/common/domain/candidate.ts";
import {
  type BeginOutcome,
  type CandidateImportStore,
  type ImportCheckpoint,
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

  async open(bucket: string, key: string, from?: { offset: number; etag: string }) {
    const object = this.objects.get(`${bucket}/${key}`);
    if (!object) throw new RunObjectMissingError(`${bucket}/${key}`);
    if (from && from.etag !== object.etag) throw new RunObjectMissingError(`${bucket}/${key} replaced`);
    const body = object.body.subarray(from?.offset ?? 0);
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
  /** Ids the store refuses for what they hold, as DynamoDB refuses an item past one of its limits. */
  readonly refuse = new Set<string>();

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
    const refused = candidates
      .filter((c) => this.refuse.has(c.id) && !alreadyStored.includes(c.id))
      .map((c) => ({
        id: c.id,
        detail: "ValidationException: item size has exceeded the maximum allowed size",
      }));
    const inserted: string[] = [];
    for (const candidate of candidates) {
      if (alreadyStored.includes(candidate.id) || tooLarge.includes(candidate.id)) continue;
      if (refused.some((r) => r.id === candidate.id)) continue;
      this.stored.set(candidate.id, candidate);
      inserted.push(candidate.id);
      this.counters.total = (this.counters.total ?? 0) + 1;
    }
    return { inserted, alreadyStored, tooLarge, refused, writeUnits: inserted.length };
  }
}

export class MemoryRuns implements RunRecordStore {
  readonly records = new Map<
    string,
    { start: RunStart; state: string; summary?: RunSummary; error?: string; checkpoint?: ImportCheckpoint }
  >();

  async begin(start: RunStart): Promise<BeginOutcome> {
    const current = this.records.get(start.runId);
    if (current && current.start.importId === start.importId && current.state === "completed") {
      return { status: "already_completed" };
    }
    const checkpoint = current?.checkpoint?.importId === start.importId ? current.checkpoint : undefined;
    this.records.set(start.runId, { start, state: "importing", ...(checkpoint ? { checkpoint } : {}) });
    return { status: "started", checkpoint: checkpoint ? structuredClone(checkpoint) : null };
  }

  async saveCheckpoint(start: RunStart, checkpoint: ImportCheckpoint, previous: ImportCheckpoint | null) {
    const current = this.records.get(start.runId);
    if (!current || current.start.importId !== start.importId) return false;
    const saved = current.checkpoint?.importId === start.importId ? current.checkpoint : undefined;
    if ((saved?.offset ?? null) !== (previous?.offset ?? null)) return false;
    current.checkpoint = structuredClone(checkpoint);
    return true;
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

  open(runId: string, importId: string, part?: string) {
    const key = part
      ? `quarantine/runs/${runId}/${importId}/part-${part}.jsonl`
      : `quarantine/runs/${runId}/${importId}.jsonl`;
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

  async keepAsPart(runId: string, importId: string, part: string) {
    const key = `quarantine/runs/${runId}/${importId}/part-${part}.jsonl`;
    this.objects.set(key, [...(this.objects.get(`quarantine/runs/${runId}/${importId}.jsonl`) ?? [])]);
    return key;
  }

  async join(runId: string, importId: string, parts: readonly string[]) {
    if (parts.length === 0) return null;
    const key = `quarantine/runs/${runId}/${importId}.jsonl`;
    this.objects.set(
      key,
      parts.flatMap((part) => this.objects.get(part) ?? []),
    );
    return key;
  }

  async removeParts(parts: readonly string[]) {
    for (const part of parts) this.objects.delete(part);
  }
}

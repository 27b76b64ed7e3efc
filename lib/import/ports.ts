import type { Candidate } from "../common/domain/candidate.ts";
import type { RunImportState } from "./domain/run-folders.ts";
import type { QuarantineReason } from "./domain/run-line.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
export interface RunObject {
  readonly body: AsyncIterable<Uint8Array>;
  readonly etag: string;
  readonly size: number;
}

export interface RunObjectReader {
  /** Throws `RunObjectMissingError` when the object is gone. */
  open(bucket: string, key: string): Promise<RunObject>;
}

export class RunObjectMissingError extends Error {}

export interface StoredCandidateOrigin {
  readonly importId?: string;
  readonly line?: number;
  /** The run that stored it, and the fingerprint of its prompt and answer (absent on older items). */
  readonly runId?: string;
  readonly contentSha256?: string;
}

export interface CandidateImportStore {
  /** Origin of those ids that are already stored. */
  findExisting(
    ids: readonly string[],
  ): Promise<{ found: Map<string, StoredCandidateOrigin>; readUnits: number }>;
  /**
   * Inserts candidates that must not exist yet, with the stats counters moved in the same
   * transaction as the candidates they count (one transaction per group that fits DynamoDB's limits).
   * Ids that turned out to exist already are returned, not overwritten.
   */
  insertNew(candidates: readonly Candidate[]): Promise<{
    inserted: readonly string[];
    alreadyStored: readonly string[];
    /** Ids whose fields other than the body are too big to store at all. */
    tooLarge: readonly string[];
    /** Records the store refused for what they hold, each alone (its neighbours are stored). */
    refused: readonly { readonly id: string; readonly detail: string }[];
    writeUnits: number;
  }>;
}

export interface RunCounts {
  lines: number;
  imported: number;
  skipped: number;
  quarantined: number;
  quarantined_by_reason: Partial<Record<QuarantineReason, number>>;
}

export interface RunStart {
  readonly runId: string;
  readonly importId: string;
  readonly bucket: string;
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  readonly startedAt: string;
}

export interface RunSummary {
  readonly counts: RunCounts;
  readonly sha256: string;
  readonly quarantineKey: string | null;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly capacity: { readonly writeUnits: number; readonly readUnits: number };
}

export interface RunRecordStore {
  /** Marks the run as importing under `importId`, unless that very import already completed. */
  begin(start: RunStart): Promise<"started" | "already_completed">;
  complete(start: RunStart, summary: RunSummary): Promise<void>;
  fail(start: RunStart, reason: string): Promise<void>;
}

export interface QuarantineEntry {
  readonly run_id: string;
  readonly import_id: string;
  readonly source_key: string;
  readonly line: number;
  readonly reason: QuarantineReason;
  readonly detail: string;
  readonly raw: string;
}

export interface QuarantineWriter {
  write(entry: QuarantineEntry): Promise<void>;
  /** Finishes the object; `null` when nothing was written. */
  close(): Promise<string | null>;
  abort(): Promise<void>;
}

export interface QuarantineSink {
  open(runId: string, importId: string): QuarantineWriter;
}

export interface RunFolderLister {
  /** The run ids: the names of the folders directly under `prefix`. */
  listRunFolders(prefix: string): Promise<string[]>;
}

export interface RunRecordReader {
  /** The run records of those ids that have one. */
  readRunRecords(runIds: readonly string[]): Promise<Map<string, RunImportState>>;
}

/** Avocet's `bench_results_dir`, kept in the table so every function instance sees the same. */
export interface ReviewSettingsStore {
  readRunsPrefix(): Promise<string | null>;
  writeRunsPrefix(prefix: string, changedBy: string, at: string): Promise<void>;
}

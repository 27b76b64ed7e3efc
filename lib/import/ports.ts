import type { Candidate } from "../common/domain/candidate.ts";
import type { ImportContinuation } from "./domain/continuation.ts";
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
  /**
   * Throws `RunObjectMissingError` when the object is gone. With `from`, the body starts at that
   * byte (a resumed import), and only if the object still has the ETag `etag`.
   */
  open(
    bucket: string,
    key: string,
    from?: { readonly offset: number; readonly etag: string },
  ): Promise<RunObject>;
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
  /** Invocations the import took: more than one when it stopped before a deadline and went on. */
  readonly invocations: number;
}

/**
 * Where an import that stopped before its function's deadline stands: every line before `offset`
 * is settled (stored, skipped or quarantined) and counted, and the quarantine entries of those
 * lines are in `quarantineParts`, in order.
 */
export interface ImportCheckpoint {
  readonly importId: string;
  /** Bytes of the object read: the next invocation reads from here. */
  readonly offset: number;
  /** Lines read: the next line is `lines + 1`. */
  readonly lines: number;
  readonly counts: RunCounts;
  readonly capacity: { readonly writeUnits: number; readonly readUnits: number };
  /** The saved state of the SHA-256 of the bytes before `offset`, base64. */
  readonly hashState: string;
  readonly quarantineParts: readonly string[];
  /** When the import's first invocation started, and how many invocations have stopped so far. */
  readonly startedAt: string;
  readonly invocations: number;
}

export type BeginOutcome =
  | { readonly status: "started"; readonly checkpoint: ImportCheckpoint | null }
  | { readonly status: "already_completed" };

export interface RunRecordStore {
  /**
   * Marks the run as importing under `importId`, unless that very import already completed; the
   * checkpoint this import saved, if it stopped before.
   */
  begin(start: RunStart): Promise<BeginOutcome>;
  /**
   * Saves how far the import got, only if it is still the run's import and its checkpoint is
   * still `previous` (another invocation resuming the same checkpoint has not saved first).
   */
  saveCheckpoint(
    start: RunStart,
    checkpoint: ImportCheckpoint,
    previous: ImportCheckpoint | null,
  ): Promise<boolean>;
  complete(start: RunStart, summary: RunSummary): Promise<void>;
  fail(start: RunStart, reason: string): Promise<void>;
}

export interface ContinuationQueue {
  handOn(continuation: ImportContinuation): Promise<void>;
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
  /**
   * The writer of an import's quarantine object; with `part`, of one part of it (what one
   * invocation of an import that spans several quarantined).
   */
  open(runId: string, importId: string, part?: string): QuarantineWriter;
  /** Keeps what the writer of the import's object wrote as a part of it, before a checkpoint. */
  keepAsPart(runId: string, importId: string, part: string): Promise<string>;
  /** Joins the parts, in order, into the import's quarantine object; `null` when there are none. */
  join(runId: string, importId: string, parts: readonly string[]): Promise<string | null>;
  /** Deletes parts once the object joining them is recorded. */
  removeParts(parts: readonly string[]): Promise<void>;
}

export interface RunFolderLister {
  /** The run ids: the names of the folders directly under `prefix`. */
  listRunFolders(prefix: string): Promise<string[]>;
}

/** Counts a run object's lines when that is cheap. */
export interface RunLineCounter {
  /** The non-blank lines of the object at `key`; `null` when it is larger than `maxBytes` or absent. */
  countLines(key: string, maxBytes: number): Promise<number | null>;
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

/** What a run's record says of its latest import's quarantine. */
export interface RunQuarantineRecord {
  readonly run_id: string;
  readonly import_id: string;
  readonly state: string;
  /** The import's quarantine file; `null` when it quarantined nothing or has not finished. */
  readonly quarantine_key: string | null;
  readonly quarantined: number | null;
  readonly quarantined_by_reason: Readonly<Record<string, number>> | null;
}

/** One line of a quarantine file and its byte range (`end` is just past its newline). */
export interface QuarantineFileLine {
  readonly text: string | null;
  readonly start: number;
  readonly end: number;
}

/** A signed, expiring link to a file. */
export interface QuarantineFileLink {
  readonly url: string;
  readonly file_name: string;
  readonly expires_in: number;
  readonly expires_at: string;
}

/** Reads runs' quarantine files for people to look at. */
export interface RunQuarantineReader {
  /** The run's record; `null` when the run was never imported. */
  readRun(runId: string): Promise<RunQuarantineRecord | null>;
  /** The file of one import of a run (it may not exist). */
  keyOf(runId: string, importId: string): string;
  /** The file's lines from byte `from`, which must begin a line (else a 422 naming the cursor). */
  openLines(
    key: string,
    from: number,
  ): Promise<{ readonly size: number; readonly lines: AsyncIterable<QuarantineFileLine> }>;
  signedLink(key: string, fileName: string, expiresInSeconds: number): Promise<QuarantineFileLink>;
}

import type { CandidateStatus } from "../common/domain/candidate.ts";
import type { QueueFilters } from "../review/domain/queue.ts";
import type { CandidateView } from "../review/ports.ts";
import type { EvalItem } from "./domain/decontamination.ts";
import type { ExportJob, ExportProgress } from "./domain/export-job.ts";
import type { ExportManifest } from "./domain/export-manifest.ts";
import type { ExportMessage } from "./domain/export-request.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
/** What an export reads: partitions of the status index, narrowed by attribute filters and a time range. */
export interface CandidateSelection {
  readonly statuses: readonly CandidateStatus[];
  readonly filters: QueueFilters;
  /** Bounds on the index's sort key (`<ISO time>#<id>`): `from` inclusive, `to` exclusive. */
  readonly range: { readonly from?: string | undefined; readonly to?: string | undefined };
}

export interface ExportCandidateSource {
  /**
   * Every candidate of the selection, full bodies loaded, in index order (time, then id) merged
   * over the partitions, in batches; never the whole selection in memory.
   */
  stream(selection: CandidateSelection): AsyncIterable<readonly CandidateView[]>;
}

export interface ObjectWriter {
  /** Resolves once the chunk is taken; waits while the upload is behind (backpressure). */
  write(chunk: string): Promise<void>;
  /** Completes the object (an empty one when nothing was written). */
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface ExportObjects {
  /** A streamed upload to `key`, multipart once it grows. */
  openWriter(key: string, contentType: string): ObjectWriter;
  put(key: string, body: string, contentType: string): Promise<void>;
  /** A presigned GET of `key` whose response carries `contentType` and names the file `fileName`. */
  signedDownload(
    key: string,
    download: { fileName: string; contentType: string; expiresInSeconds: number },
  ): Promise<string>;
}

export interface ExportJobStore {
  /** Stores a new job; `exists` (and nothing written) when a job with its id is stored already. */
  create(job: ExportJob): Promise<"created" | "exists">;
  get(id: string): Promise<ExportJob | null>;
  /** The newest jobs first. */
  list(limit: number): Promise<ExportJob[]>;
  /**
   * Marks the job `running` and counts the attempt; `null` when it already finished (a
   * redelivered message then changes nothing). Throws `NotFoundError` for an unknown id.
   */
  start(id: string, at: string): Promise<ExportJob | null>;
  progress(id: string, progress: ExportProgress): Promise<void>;
  succeed(id: string, manifest: ExportManifest): Promise<void>;
  /** Records why an attempt failed; `final` also ends the job as `failed`. */
  fail(id: string, error: string, at: string, final: boolean): Promise<void>;
}

export interface ExportQueue {
  send(message: ExportMessage): Promise<void>;
}

/** The eval sets a team registered, item by item, in batches: what every export is checked against. */
export interface EvalSetSource {
  items(): AsyncIterable<readonly EvalItem[]>;
}

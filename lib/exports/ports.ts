import type { CandidateStatus } from "../common/domain/candidate.ts";
import type { QueueFilters } from "../review/domain/queue.ts";
import type { CandidateView } from "../review/ports.ts";
import type { EvalIndex, EvalItem } from "./domain/decontamination.ts";
import type { EvalIndexMeta, EvalSetListing } from "./domain/evalsets.ts";
import type { ExportContinuation } from "./domain/export-continuation.ts";
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

/**
 * Where a stream of a selection stands after a batch (plain JSON): saved in an export's
 * checkpoint, and handed back to `stream` to carry on after it in a later invocation.
 */
export type ReadPosition = object;

/** A batch of a stream; `position` when the source can say where the stream stands after it. */
export type CandidateBatch = readonly CandidateView[] & { readonly position?: ReadPosition };

export interface ExportCandidateSource {
  /**
   * Every candidate of the selection, full bodies loaded, in index order (time, then id) merged
   * over the partitions, in batches; never the whole selection in memory. With `after` (a
   * batch's `position` from an earlier stream of the same selection), the candidates after it.
   * A source whose batches carry no position is read from the start again and the candidates
   * already screened are skipped.
   */
  stream(selection: CandidateSelection, options?: { after?: ReadPosition }): AsyncIterable<CandidateBatch>;
}

/** A part of a multipart upload: its number and the ETag S3 answered. */
export interface UploadedPart {
  readonly number: number;
  readonly etag: string;
}

/**
 * S3's multipart upload, driven part by part so that an export can stop and go on in another
 * invocation, and the export's state objects (its checkpoints), read and removed by key.
 */
export interface ExportPartStore {
  /** Starts a multipart upload of `key`: its upload id. */
  startUpload(key: string, contentType: string): Promise<string>;
  /** Uploads part `number` (1-based): its ETag. */
  uploadPart(key: string, uploadId: string, number: number, body: Uint8Array): Promise<string>;
  completeUpload(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void>;
  abortUpload(key: string, uploadId: string): Promise<void>;
  /** Puts an object whole from its chunks, in order. */
  putBytes(key: string, chunks: readonly Uint8Array[], contentType: string): Promise<void>;
  getBytes(key: string): Promise<Uint8Array>;
  remove(keys: readonly string[]): Promise<void>;
}

/**
 * Where an export stands between invocations, on its job: the sequence of its last checkpoint
 * (1, 2, …), the state object holding it, and whether the message that continues from it was
 * sent.
 */
export interface ExportCheckpointPointer {
  readonly seq: number;
  readonly state_key: string;
  readonly handed_on: boolean;
  readonly saved_at: string;
}

export interface ExportCheckpointStore {
  read(exportId: string): Promise<ExportCheckpointPointer | null>;
  /**
   * Saves `next` while the job runs and its checkpoint is still at `previousSeq` (0: none yet):
   * `false` when another invocation got there first (or the job finished), and nothing changed.
   */
  save(exportId: string, next: ExportCheckpointPointer, previousSeq: number): Promise<boolean>;
  /** Notes that the message continuing from checkpoint `seq` was sent. */
  markHandedOn(exportId: string, seq: number): Promise<void>;
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
  send(message: ExportMessage | ExportContinuation): Promise<void>;
}

/** The eval sets a team registered, item by item, in batches: what every export is checked against. */
export interface EvalSetSource {
  items(): AsyncIterable<readonly EvalItem[]>;
}

/** The registered eval sets' n-gram indexes, each built once per set version and stored. */
export interface EvalIndexSource {
  /** Every registered set's index for this n-gram length, in one; `null` when none is registered. */
  load(ngram: number): Promise<EvalIndex | null>;
  /**
   * Exactly these set versions' indexes, whatever the sets are now (an export's later invocations
   * check what its first did). Throws `EvalSetVersionGoneError` when one can no longer be read.
   */
  pinned(
    ngram: number,
    sets: readonly { readonly name: string; readonly version: string }[],
  ): Promise<EvalIndex>;
}

/**
 * The registered eval sets in the bucket (`evalsets/<name>/*.jsonl`) and their n-gram indexes
 * (`evalset-index/<name>/<version>/`), one per set version and n-gram length.
 */
export interface EvalSetStore {
  /** Every set (or the one named) with its `.jsonl` objects and version; empty sets are not listed. */
  list(name?: string): Promise<EvalSetListing[]>;
  /** The lines of one of a set's objects, streamed. */
  lines(key: string): AsyncIterable<string>;
  /** Writes a set's `items.jsonl` (the API's registration). */
  putItems(name: string, body: string): Promise<void>;
  /** Removes a set's objects and its indexes; how many objects were removed. */
  remove(name: string): Promise<number>;
  /** The index of a set version for an n-gram length, if built. */
  indexMeta(name: string, version: string, ngram: number): Promise<EvalIndexMeta | null>;
  /** The index's grams, 12 bytes each, read into one buffer of `bytes`. */
  indexGrams(name: string, version: string, ngram: number, bytes: number): Promise<Uint8Array>;
  /** Stores a built index: the grams first, then the meta that says it is complete. */
  putIndex(meta: EvalIndexMeta, grams: Uint8Array): Promise<void>;
}

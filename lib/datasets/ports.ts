import type { ExportJobStore } from "../exports/ports.ts";
import type { CopyStep, DatasetSummary, DatasetVersion, VersionFiles } from "./domain/dataset-version.ts";

/**
 * The ports of dataset versions: where versions are recorded (DynamoDB) and where their files
 * are copied and read (S3); in-memory fakes in the unit tests.
 */
export interface DatasetStore {
  /** The version `exportId` was pinned as under `name`, or `null`. */
  pinnedVersion(name: string, exportId: string): Promise<number | null>;
  /** The next version number of `name` (creating the dataset): never the same number twice. */
  nextVersion(name: string, at: string): Promise<number>;
  /**
   * Stores a new version (`copying`) with its pin, both only if absent. When the export was pinned
   * under this name meanwhile, nothing is written and the version it has is returned.
   */
  create(version: DatasetVersion): Promise<{ readonly created: boolean; readonly version: number }>;
  get(name: string, version: number): Promise<DatasetVersion | null>;
  /** Every version of `name`, oldest first. */
  versions(name: string): Promise<DatasetVersion[]>;
  dataset(name: string): Promise<DatasetSummary | null>;
  /** Datasets by name, at most `limit`, those after the name `after` when given. */
  list(limit: number, after?: string): Promise<DatasetSummary[]>;
  /** A `copying` version's documents are copied up to this key (in listing order). */
  saveProgress(name: string, version: number, copiedThrough: string): Promise<void>;
  /** `copying` → `ready` with the files copied; a ready version is never written again. */
  markReady(name: string, version: number, files: VersionFiles, at: string): Promise<void>;
}

export interface DatasetObjects {
  /**
   * Copies one object server-side (one copy up to 5 GiB, a multipart copy beyond), only if the
   * destination does not exist: `present` when it does with the expected size (an earlier,
   * interrupted pin copied it). Throws `NotFoundError` when the source is gone and `ConflictError`
   * when the destination holds something else.
   */
  copy(step: CopyStep): Promise<"copied" | "present">;
  /** The objects under `prefix` in key order (after `startAfter`), a page at a time. */
  list(
    prefix: string,
    startAfter?: string,
  ): AsyncIterable<readonly { readonly key: string; readonly bytes: number }[]>;
  /** The lines of an object, streamed. */
  lines(key: string): AsyncIterable<string>;
  signedDownload(
    key: string,
    download: { fileName: string; contentType: string; expiresInSeconds: number },
  ): Promise<string>;
}

/** The export jobs a pin reads (the job, its status and manifest). */
export type PinnedExports = Pick<ExportJobStore, "get">;

import { createHash } from "node:crypto";
import * as z from "zod";
import { BUCKET_PREFIXES, EXPORT_FILES } from "../../common/resources.ts";
import type { ExportManifest, FileReceipt } from "../../exports/domain/export-manifest.ts";

/**
 * A dataset is a name; each of its versions is one finished export, pinned: its files copied out
 * of the expiring `exports/` prefix to `datasets/<name>/v<n>/`, where no lifecycle rule applies,
 * and never written again. Version numbers count up from 1 per name and are never reused.
 */

/** Letters, digits, `.`, `_` and `-`: safe in an S3 key, a DynamoDB key and a shell. */
export const DatasetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/, "letters, digits, '.', '_' and '-' only, at most 100");

/** `POST /api/datasets`. */
export const PinRequest = z.strictObject({
  name: DatasetName,
  export_id: z.string().min(1).max(64),
});
export type PinRequest = z.infer<typeof PinRequest>;

/** `copying` while its files are being copied (a repeated pin carries on); `ready` for good. */
export type VersionState = "copying" | "ready";

/** The files of a version, as the export's manifest lists them, at their pinned keys. */
export interface VersionFiles {
  readonly dataset: FileReceipt;
  readonly quarantine: FileReceipt;
  readonly records: FileReceipt;
  readonly validation?: FileReceipt;
  /** `manifest.json`, copied byte for byte. */
  readonly manifest: { readonly key: string };
  /** RAG: a prefix holding nothing but the documents and their Knowledge Bases sidecars. */
  readonly documents: { readonly prefix: string; readonly count: number } | null;
  /** A job of several formats: each other format's files, under `formats/<format>/`. */
  readonly formats?: Readonly<Record<string, Omit<VersionFiles, "formats">>>;
}

export interface DatasetVersion {
  readonly name: string;
  readonly version: number;
  readonly export_id: string;
  readonly format: string;
  readonly state: VersionState;
  readonly pinned_by: string;
  readonly pinned_at: string;
  readonly ready_at: string | null;
  readonly prefix: string;
  readonly files: VersionFiles;
  /** While `copying`: the last of the export's documents copied, where a repeated pin lists on from. */
  readonly copied_through?: string | null;
  /** The export's manifest as it was written (its keys name the export's own, expiring, files). */
  readonly manifest: ExportManifest;
}

export interface DatasetSummary {
  readonly name: string;
  /** The highest version number handed out (a pin that never finished leaves a gap, never a reuse). */
  readonly last_version: number;
  readonly created_at: string;
  readonly updated_at: string;
}

export const datasetPrefix = (name: string): string => `${BUCKET_PREFIXES.datasets}${name}/`;
export const versionPrefix = (name: string, version: number): string => `${datasetPrefix(name)}v${version}/`;

/** One object to copy: from the export's key to the version's. */
export interface CopyStep {
  readonly from: string;
  readonly to: string;
  readonly bytes?: number;
}

/** The copies of one format's files, and where its documents are listed from and go. */
export interface FormatPlan {
  readonly steps: CopyStep[];
  readonly files: Omit<VersionFiles, "formats">;
  readonly documentsFrom: string | null;
}

/**
 * What pinning one format's files copies, and the files the version then lists: the dataset,
 * quarantine and record index (and validation file), then its `manifest.json`. The documents of a
 * RAG export are listed from their prefix and copied under `documents/`.
 */
export function planFormat(
  source: ExportManifest["files"],
  manifestFrom: string,
  prefix: string,
): FormatPlan {
  const moved = (receipt: FileReceipt, name: string): FileReceipt => ({
    ...receipt,
    key: `${prefix}${name}`,
  });
  const { dataset, quarantine, records, validation } = source;
  const files = {
    dataset: moved(dataset, EXPORT_FILES.dataset),
    quarantine: moved(quarantine, EXPORT_FILES.quarantine),
    records: moved(records, EXPORT_FILES.records),
    ...(validation ? { validation: moved(validation, basename(validation.key)) } : {}),
    manifest: { key: `${prefix}${EXPORT_FILES.manifest}` },
    documents: source.documents
      ? { prefix: `${prefix}${EXPORT_FILES.documents}`, count: source.documents.count }
      : null,
  };
  const steps: CopyStep[] = [
    { from: dataset.key, to: files.dataset.key, bytes: dataset.bytes },
    { from: quarantine.key, to: files.quarantine.key, bytes: quarantine.bytes },
    { from: records.key, to: files.records.key, bytes: records.bytes },
    ...(validation && files.validation
      ? [{ from: validation.key, to: files.validation.key, bytes: validation.bytes }]
      : []),
    { from: manifestFrom, to: files.manifest.key },
  ];
  return { steps, files, documentsFrom: source.documents?.prefix ?? null };
}

/**
 * Every format a pin copies: the export's own (its files at `exports/<id>/`, pinned at the
 * version's prefix) and, for a job of several formats, each other one (`exports/<id>/formats/<f>/`
 * → `formats/<f>/` under the version's prefix).
 */
export function planVersion(
  manifest: ExportManifest,
  exportPrefix: string,
  prefix: string,
): { main: FormatPlan; others: (FormatPlan & { readonly format: string })[] } {
  const main = planFormat(manifest.files, `${exportPrefix}${EXPORT_FILES.manifest}`, prefix);
  const others = (manifest.formats ?? []).slice(1).map((part) => ({
    format: part.format,
    ...planFormat(
      part.files,
      `${exportPrefix}formats/${part.format}/${EXPORT_FILES.manifest}`,
      `${prefix}formats/${part.format}/`,
    ),
  }));
  return { main, others };
}

/** The files a version lists, all of them copied. */
export function versionFiles(plan: ReturnType<typeof planVersion>): VersionFiles {
  if (plan.others.length === 0) return plan.main.files;
  return {
    ...plan.main.files,
    formats: Object.fromEntries(plan.others.map((other) => [other.format, other.files])),
  };
}

const basename = (key: string) => key.slice(key.lastIndexOf("/") + 1);

/** `GET /api/datasets/{name}/diff`: two versions, and which page (hash partition) of the answer. */
export const DiffQuery = z.object({
  from: z
    .string()
    .regex(/^\d+$/, "from must be a version number")
    .transform(Number)
    .pipe(z.number().int().min(1)),
  to: z
    .string()
    .regex(/^\d+$/, "to must be a version number")
    .transform(Number)
    .pipe(z.number().int().min(1)),
  cursor: z
    .string()
    .regex(/^\d+$/, "cursor must be what next_cursor said")
    .transform(Number)
    .pipe(z.number().int().min(0))
    .default(0),
});

/** `GET /api/datasets/{name}/versions/{version}`: how long the download links last. */
export const VersionQuery = z.object({
  expires_in: z
    .string()
    .regex(/^\d+$/, "expires_in must be a number of seconds")
    .transform(Number)
    .pipe(z.number().int().min(1))
    .optional(),
});

export const ListQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, "limit must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(50),
  /** `next_cursor` of the page before: the list goes on after the dataset it names. */
  cursor: z.string().min(1).max(200).optional(),
});

/** A page of datasets ends at a name; the next page starts after it. Opaque: base64url of the name. */
export function encodeListCursor(lastName: string): string {
  return Buffer.from(lastName, "utf8").toString("base64url");
}

/** The name a list cursor goes on after, or `null` when it is not one `encodeListCursor` made. */
export function decodeListCursor(cursor: string): string | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  const name = Buffer.from(cursor, "base64url").toString("utf8");
  return DatasetName.safeParse(name).success && encodeListCursor(name) === cursor ? name : null;
}

/** A version number in a path: digits only, else no such version. */
export function versionNumber(text: string | undefined): number | null {
  return text && /^\d{1,9}$/.test(text) ? Number(text) : null;
}

/**
 * The diff reads both record indexes once per page and keeps in memory only the record ids of one
 * hash partition: at most about this many ids per partition, whatever the versions' sizes.
 */
export const DIFF_PARTITION_IDS = 100_000;

/** How many hash partitions (pages) a diff of record indexes this long takes. */
export function diffPartitions(lines: number, perPartition = DIFF_PARTITION_IDS): number {
  return Math.max(1, Math.ceil(lines / perPartition));
}

/**
 * The partition a record id falls in, the same in both versions: a record id is already a hash
 * (32 hex digits), so its first 8 digits are used as they are; anything else is hashed.
 */
export function partitionOf(recordId: string, partitions: number): number {
  if (partitions === 1) return 0;
  const head = HEX_ID.test(recordId) ? Number.parseInt(recordId.slice(0, 8), 16) : Number.NaN;
  const value = Number.isNaN(head) ? createHash("md5").update(recordId).digest().readUInt32BE(0) : head;
  return value % partitions;
}

const HEX_ID = /^[0-9a-f]{32}$/;

const RECORD_ID_FIELD = '"record_id":"';

/**
 * The record id of a `records.jsonl` line without parsing the whole line (the diff reads every
 * line of two indexes per page): the value after `"record_id":"`, which holds no escapes (hex).
 */
export function recordIdOfLine(line: string): string | null {
  const at = line.indexOf(RECORD_ID_FIELD);
  if (at < 0) return null;
  const start = at + RECORD_ID_FIELD.length;
  const end = line.indexOf('"', start);
  const id = end < 0 ? "" : line.slice(start, end);
  return id.includes("\\") || id === "" ? null : id;
}

/** One record of a version's `records.jsonl`, as the diff names it. */
export interface DiffRecord {
  readonly record_id: string;
  readonly candidate_id: string;
}

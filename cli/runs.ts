import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { basename, extname, join, relative, resolve, sep } from "node:path";
import { paginateListObjectsV2 } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { RUN_UPLOAD } from "../lib/common/resources.ts";
import { isRunId } from "../lib/import/domain/run-upload.ts";
import { type Target, UsageError } from "./target.ts";

/** Under the local emulator's 11 MiB request limit; still allows 80 GB files on AWS (10,000 parts). */
const PART_BYTES = 8 * 1024 * 1024;

export interface UploadedFile {
  readonly key: string;
  readonly size: number;
  readonly eTag: string;
}

const CONTENT_TYPES: Record<string, string> = {
  ".jsonl": "application/x-ndjson",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
  ".md": "text/markdown; charset=utf-8",
  ".csv": "text/csv; charset=utf-8",
};

/**
 * Uploads every file of a run folder to `runs/<run_id>/…`, streamed from disk (multipart above
 * the part size). `sft_candidates.jsonl` goes last: its arrival starts the import, so the rest
 * of the folder is already there when it runs.
 */
export async function uploadRun(
  target: Target,
  dir: string,
  options: {
    runId?: string;
    print?: (line: string) => void;
    /** Byte progress over the whole folder (a person's terminal); `final` on the last call. */
    progress?: ((line: string, final?: boolean) => void) | undefined;
  } = {},
): Promise<UploadedFile[]> {
  const print = options.print ?? (() => {});
  const folder = resolve(dir);
  const info = await stat(folder).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`${dir} is not a folder`);
  const runId = options.runId ?? basename(folder);
  if (!isRunId(runId)) {
    throw new UsageError(
      `"${runId}" is not a valid run id (letters, digits, . _ - and spaces; pass --run-id)`,
    );
  }
  const files = await listFiles(folder);
  const candidates = join(folder, RUN_UPLOAD.fileName);
  if (!files.includes(candidates)) throw new UsageError(`${dir} has no ${RUN_UPLOAD.fileName}`);
  const ordered = [...files.filter((f) => f !== candidates), candidates];

  print(
    `uploading ${ordered.length} file(s) of run ${runId} to s3://${target.bucket}/ on ${target.description}`,
  );
  const uploaded: UploadedFile[] = [];
  const sizes = await Promise.all(ordered.map(async (file) => (await stat(file)).size));
  const totalBytes = sizes.reduce((sum, size) => sum + size, 0);
  let doneBytes = 0;
  const started = Date.now();
  const showProgress = (sent: number, final = false) => {
    if (!options.progress) return;
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const percent = totalBytes === 0 ? 100 : Math.floor((sent / totalBytes) * 100);
    options.progress(
      `uploading ${formatBytes(sent)} of ${formatBytes(totalBytes)} (${percent}%), ${formatBytes(sent / seconds)}/s`,
      final,
    );
  };
  for (const [index, file] of ordered.entries()) {
    const key = `${RUN_UPLOAD.prefix}${runId}/${relative(folder, file).split(sep).join("/")}`;
    const size = sizes[index] ?? 0;
    const upload = new Upload({
      client: target.s3,
      params: {
        Bucket: target.bucket,
        Key: key,
        Body: createReadStream(file),
        ContentType: CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
      },
      partSize: PART_BYTES,
      queueSize: 4,
    });
    upload.on("httpUploadProgress", ({ loaded }) => showProgress(doneBytes + Math.min(loaded ?? 0, size)));
    const result = await upload.done();
    doneBytes += size;
    showProgress(doneBytes, index === ordered.length - 1);
    const eTag = (result.ETag ?? "").replaceAll('"', "");
    uploaded.push({ key, size, eTag });
    print(`  s3://${target.bucket}/${key}  ${formatBytes(size)}  etag ${eTag}`);
  }
  return uploaded;
}

export interface RunFolder {
  readonly runId: string;
  readonly files: number;
  readonly bytes: number;
  readonly hasCandidates: boolean;
  readonly lastModified?: Date;
}

/** The run folders in the bucket, newest first. */
export async function listRuns(target: Target): Promise<RunFolder[]> {
  const runs = new Map<
    string,
    { files: number; bytes: number; hasCandidates: boolean; lastModified?: Date }
  >();
  const pages = paginateListObjectsV2(
    { client: target.s3 },
    { Bucket: target.bucket, Prefix: RUN_UPLOAD.prefix },
  );
  for await (const page of pages) {
    for (const object of page.Contents ?? []) {
      const rest = (object.Key ?? "").slice(RUN_UPLOAD.prefix.length);
      const slash = rest.indexOf("/");
      if (slash <= 0) continue;
      const runId = rest.slice(0, slash);
      const run = runs.get(runId) ?? { files: 0, bytes: 0, hasCandidates: false };
      run.files++;
      run.bytes += object.Size ?? 0;
      run.hasCandidates ||= rest.slice(slash + 1) === RUN_UPLOAD.fileName;
      if (object.LastModified && (!run.lastModified || object.LastModified > run.lastModified)) {
        run.lastModified = object.LastModified;
      }
      runs.set(runId, run);
    }
  }
  return [...runs.entries()]
    .map(([runId, run]) => ({ runId, ...run }))
    .sort((a, b) => (b.lastModified?.getTime() ?? 0) - (a.lastModified?.getTime() ?? 0));
}

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import * as z from "zod";

/** The fields of fauxqs's `S3Object` (1.9.x). */
export interface EmulatedObject {
  key: string;
  body: Buffer;
  contentType: string;
  contentLength: number;
  etag: string;
  lastModified: Date;
  metadata: Record<string, string>;
}

/** The parts of fauxqs's `S3Store` that objects on disk replace or follow. */
export interface EmulatedObjectStore {
  createBucket(name: string): void;
  putObject(
    bucket: string,
    key: string,
    body: Buffer,
    contentType?: string,
    metadata?: Record<string, string>,
  ): EmulatedObject;
  uploadPart(uploadId: string, partNumber: number, body: Buffer): string;
  completeMultipartUpload(uploadId: string, parts: { partNumber: number; etag: string }[]): EmulatedObject;
  abortMultipartUpload(uploadId: string): void;
  deleteObject(bucket: string, key: string): void;
}

/** fauxqs's `S3Store` fields that a write from a file instead of a buffer has to fill itself. */
interface StoreInternals {
  buckets: Map<string, Map<string, EmulatedObject>>;
  multipartUploads: Map<
    string,
    {
      bucket: string;
      key: string;
      contentType: string;
      metadata: Record<string, string>;
      parts: Map<number, { partNumber: number; body: Buffer; etag: string; lastModified: Date }>;
    }
  >;
  multipartUploadsByBucket: Map<string, Set<string>>;
  spy?: { addMessage(message: Record<string, unknown>): void };
}

/** Bucket names cannot start with a dot, so these never collide with a bucket. */
const META_DIR = ".meta";
const TMP_DIR = ".tmp";
/** Parts of multipart uploads in progress, one folder per upload; not kept across a restart. */
const PARTS_DIR = ".parts";
/** What S3 asks of every part but the last. */
const MIN_PART_BYTES = 5 * 1024 * 1024;
const COPY_CHUNK_BYTES = 1024 * 1024;

const ObjectMeta = z.object({
  contentType: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
  /** Absent in sidecars written before ETags were kept; the MD5 of the bytes is used then. */
  etag: z.string().optional(),
  lastModified: z.string().optional(),
});
type ObjectMeta = z.infer<typeof ObjectMeta>;

export interface DiskObjects {
  /** Puts every object stored under the root back into the emulator (no copy in memory); returns the count. */
  restore(): number;
}

/**
 * Keeps the emulated bucket's objects in files, `<root>/<bucket>/<key>`, instead of in the
 * process: a write is on disk (temporary file, fsync, rename) before the emulator answers it,
 * and the emulator keeps only the object's description, reading the bytes from the file when a
 * request needs them. Content type, user metadata, ETag and time go to a sidecar under
 * `<root>/.meta/`. A key that cannot be a file path (`a//b`, `../x`, `dir/`) stays in memory
 * only, and is not kept across a restart (logged).
 */
export function keepObjectsOnDisk(
  store: EmulatedObjectStore,
  root: string,
  log: (line: string) => void,
  /** The emulator's own error, so a refused completion is answered as it would answer it. */
  s3Error: (code: string, message: string, statusCode: number) => Error = plainError,
): DiskObjects {
  const internals = store as unknown as StoreInternals;
  const putObject = store.putObject.bind(store);
  const uploadPart = store.uploadPart.bind(store);
  const abortMultipartUpload = store.abortMultipartUpload.bind(store);
  const deleteObject = store.deleteObject.bind(store);

  const writeMeta = (bucket: string, object: EmulatedObject) => {
    const meta: ObjectMeta = {
      contentType: object.contentType,
      metadata: object.metadata,
      etag: object.etag,
      lastModified: object.lastModified.toISOString(),
    };
    writeFileDurably(root, metaPath(root, bucket, object.key) as string, Buffer.from(JSON.stringify(meta)));
  };

  /** An object whose bytes are already in `tmp`: moved into place, described, announced. */
  const publish = (
    bucket: string,
    key: string,
    tmp: string,
    fields: Omit<EmulatedObject, "key" | "body">,
  ) => {
    const objects = internals.buckets.get(bucket);
    const file = objectPath(root, bucket, key);
    if (!objects || !file) {
      rmSync(tmp, { force: true });
      throw new Error(`s3://${bucket}/${key} cannot be stored`);
    }
    mkdirSync(dirname(file), { recursive: true });
    renameSync(tmp, file);
    const object = { key, ...fields } as EmulatedObject;
    writeMeta(bucket, object);
    readFromFile(object, file);
    objects.set(key, object);
    internals.spy?.addMessage({ service: "s3", bucket, key, status: "uploaded", timestamp: Date.now() });
    return object;
  };

  store.putObject = (bucket, key, body, contentType, metadata) => {
    const file = objectPath(root, bucket, key);
    if (body instanceof FileBody && file && internals.buckets.has(bucket)) {
      // A copy: file to file, never through memory.
      const tmp = tmpPath(root);
      const md5 = copyRange(body, tmp);
      return publish(bucket, key, tmp, {
        contentType: contentType ?? "application/octet-stream",
        contentLength: body.length,
        etag: `"${md5}"`,
        lastModified: new Date(),
        metadata: metadata ?? {},
      });
    }
    const object = putObject(
      bucket,
      key,
      body instanceof FileBody ? body.readAll() : body,
      contentType,
      metadata,
    );
    if (!file) {
      log(`s3: s3://${bucket}/${key} is kept in memory only (the key is not a valid file path)`);
      return object;
    }
    writeFileDurably(root, file, object.body);
    writeMeta(bucket, object);
    readFromFile(object, file);
    return object;
  };

  store.uploadPart = (uploadId, partNumber, body) => {
    const etag = uploadPart(uploadId, partNumber, body);
    const part = internals.multipartUploads.get(uploadId)?.parts.get(partNumber);
    if (part) {
      const file = join(root, PARTS_DIR, uploadId, String(partNumber));
      writeFileDurably(root, file, body);
      Object.defineProperty(part, "body", {
        get: () => new FileBody(file, 0, statSync(file).size),
        configurable: true,
      });
    }
    return etag;
  };

  store.completeMultipartUpload = (uploadId, specs) => {
    const upload = internals.multipartUploads.get(uploadId);
    if (!upload) throw s3Error("NoSuchUpload", "The specified multipart upload does not exist.", 404);
    if (!internals.buckets.has(upload.bucket))
      throw s3Error("NoSuchBucket", "The specified bucket does not exist", 404);
    const parts = specs.map((spec, i) => {
      if (i > 0 && spec.partNumber <= (specs[i - 1] as { partNumber: number }).partNumber) {
        throw s3Error("InvalidPartOrder", "The list of parts was not in ascending order.", 400);
      }
      const part = upload.parts.get(spec.partNumber);
      if (!part || spec.etag.replaceAll('"', "") !== part.etag.replaceAll('"', "")) {
        throw s3Error("InvalidPart", "One or more of the specified parts could not be found.", 400);
      }
      return { file: join(root, PARTS_DIR, uploadId, String(spec.partNumber)), etag: part.etag };
    });
    const sizes = parts.map((part) => statSync(part.file).size);
    if (sizes.slice(0, -1).some((size) => size < MIN_PART_BYTES)) {
      throw s3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum allowed size", 400);
    }
    const tmp = tmpPath(root);
    for (const part of parts) copyRange(new FileBody(part.file, 0, statSync(part.file).size), tmp, "a");
    const digests = Buffer.concat(parts.map((part) => Buffer.from(part.etag.replaceAll('"', ""), "hex")));
    const object = publish(upload.bucket, upload.key, tmp, {
      contentType: upload.contentType,
      contentLength: sizes.reduce((a, b) => a + b, 0),
      etag: `"${createHash("md5").update(digests).digest("hex")}-${parts.length}"`,
      lastModified: new Date(),
      metadata: upload.metadata,
    });
    internals.multipartUploads.delete(uploadId);
    internals.multipartUploadsByBucket.get(upload.bucket)?.delete(uploadId);
    rmSync(join(root, PARTS_DIR, uploadId), { recursive: true, force: true });
    return object;
  };

  store.abortMultipartUpload = (uploadId) => {
    abortMultipartUpload(uploadId);
    rmSync(join(root, PARTS_DIR, uploadId), { recursive: true, force: true });
  };

  store.deleteObject = (bucket, key) => {
    deleteObject(bucket, key);
    const file = objectPath(root, bucket, key);
    if (!file) return;
    const meta = metaPath(root, bucket, key) as string;
    rmSync(file, { force: true });
    rmSync(meta, { force: true });
    pruneEmptyDirs(dirname(file), join(root, bucket));
    pruneEmptyDirs(dirname(meta), join(root, META_DIR, bucket));
  };

  return {
    restore() {
      rmSync(join(root, TMP_DIR), { recursive: true, force: true });
      rmSync(join(root, PARTS_DIR), { recursive: true, force: true });
      let restored = 0;
      for (const bucket of listDir(root)) {
        if (bucket.startsWith(".")) continue;
        const bucketRoot = join(root, bucket);
        if (!statSync(bucketRoot).isDirectory()) continue;
        store.createBucket(bucket);
        const objects = internals.buckets.get(bucket) as Map<string, EmulatedObject>;
        for (const file of listFiles(bucketRoot)) {
          const key = relative(bucketRoot, file).split(sep).join("/");
          const meta = readMeta(metaPath(root, bucket, key) as string);
          const info = statSync(file);
          const object = {
            key,
            contentType: meta.contentType ?? "application/octet-stream",
            contentLength: info.size,
            etag: meta.etag ?? `"${md5OfFile(file, info.size)}"`,
            lastModified: meta.lastModified ? new Date(meta.lastModified) : info.mtime,
            metadata: meta.metadata ?? {},
          } as EmulatedObject;
          readFromFile(object, file);
          objects.set(key, object);
          restored++;
        }
      }
      return restored;
    },
  };
}

/**
 * An object's bytes, or a range of them, read from its file only when sent. fauxqs answers a GET
 * by sending `body` (a stream is piped, so memory stays flat whatever the size) and a range GET
 * by `body.subarray(start, end)` and `.length`, which this answers without reading.
 */
export class FileBody extends Readable {
  private fd: number | undefined;
  private position: number;

  constructor(
    readonly file: string,
    readonly start: number,
    readonly end: number,
  ) {
    super();
    this.position = start;
  }

  get length(): number {
    return this.end - this.start;
  }

  subarray(from = 0, to = this.length): FileBody {
    const clamp = (n: number) => Math.max(0, Math.min(this.length, n));
    return new FileBody(this.file, this.start + clamp(from), this.start + clamp(to));
  }

  override _read(size: number): void {
    try {
      this.fd ??= openSync(this.file, "r");
      const wanted = Math.min(Math.max(size, 64 * 1024), this.end - this.position);
      if (wanted <= 0) {
        this.push(null);
        return;
      }
      const chunk = Buffer.allocUnsafe(wanted);
      const read = readSync(this.fd, chunk, 0, wanted, this.position);
      this.position += read;
      this.push(read > 0 ? chunk.subarray(0, read) : null);
    } catch (error) {
      this.destroy(error as Error);
    }
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    done(error);
  }

  /** All its bytes at once (for the rare caller that needs a buffer). */
  readAll(): Buffer {
    const bytes = Buffer.allocUnsafe(this.length);
    const fd = openSync(this.file, "r");
    try {
      let offset = 0;
      while (offset < bytes.length) {
        const read = readSync(fd, bytes, offset, bytes.length - offset, this.start + offset);
        if (read === 0) break;
        offset += read;
      }
    } finally {
      closeSync(fd);
    }
    return bytes;
  }
}

/** Copies a file range to `target` in chunks (appending with flag `a`); returns the MD5 of the bytes. */
function copyRange(body: FileBody, target: string, flag: "w" | "a" = "w"): string {
  mkdirSync(dirname(target), { recursive: true });
  const hash = createHash("md5");
  const from = openSync(body.file, "r");
  const to = openSync(target, flag);
  try {
    const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (let position = body.start; position < body.end; ) {
      const read = readSync(from, chunk, 0, Math.min(chunk.length, body.end - position), position);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
      let written = 0;
      while (written < read) written += writeSync(to, chunk, written, read - written);
      position += read;
    }
    fsyncSync(to);
  } finally {
    closeSync(from);
    closeSync(to);
  }
  return hash.digest("hex");
}

function md5OfFile(file: string, size: number): string {
  const hash = createHash("md5");
  const fd = openSync(file, "r");
  try {
    const chunk = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    for (let position = 0; position < size; ) {
      const read = readSync(fd, chunk, 0, Math.min(chunk.length, size - position), position);
      if (read === 0) break;
      hash.update(chunk.subarray(0, read));
      position += read;
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

function plainError(code: string, message: string, statusCode: number): Error {
  return Object.assign(new Error(message), { code, statusCode });
}

const tmpPath = (root: string) => join(root, TMP_DIR, randomUUID());

/** The object's bytes are read from its file whenever a request asks for them, never kept. */
function readFromFile(object: EmulatedObject, file: string): void {
  Object.defineProperty(object, "body", {
    get: () => new FileBody(file, 0, object.contentLength),
    enumerable: true,
    configurable: true,
  });
}

/** `<root>/<bucket>/<key segments>`, or undefined when the key cannot be stored as a file. */
export function objectPath(root: string, bucket: string, key: string): string | undefined {
  if (!bucket || bucket.startsWith(".") || bucket.includes("/")) return undefined;
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return undefined;
  return join(root, bucket, ...segments);
}

function metaPath(root: string, bucket: string, key: string): string | undefined {
  const path = objectPath(join(root, META_DIR), bucket, key);
  return path && `${path}.json`;
}

/** Temporary file, fsync, rename: a crash leaves the old file or the new one, never half of one. */
function writeFileDurably(root: string, file: string, bytes: Buffer): void {
  const tmp = tmpPath(root);
  mkdirSync(dirname(tmp), { recursive: true });
  const fd = openSync(tmp, "w");
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  mkdirSync(dirname(file), { recursive: true });
  renameSync(tmp, file);
}

function readMeta(file: string): ObjectMeta {
  try {
    return ObjectMeta.parse(JSON.parse(readFileSync(file, "utf8")));
  } catch {
    return {};
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function listFiles(dir: string): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...listFiles(path));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

/** Removes now-empty directories from `dir` up to, not including, `stop`. */
function pruneEmptyDirs(dir: string, stop: string): void {
  let current = dir;
  while (current.startsWith(stop + sep)) {
    try {
      rmdirSync(current);
    } catch {
      return;
    }
    current = dirname(current);
  }
}

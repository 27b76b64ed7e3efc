import { createHash, randomUUID } from "node:crypto";
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { z } from "zod";

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
  completeMultipartUpload(uploadId: string, parts: { partNumber: number; etag: string }[]): EmulatedObject;
  deleteObject(bucket: string, key: string): void;
}

/** Bucket names cannot start with a dot, so these never collide with a bucket. */
const META_DIR = ".meta";
const TMP_DIR = ".tmp";

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
): DiskObjects {
  const putObject = store.putObject.bind(store);
  const completeMultipartUpload = store.completeMultipartUpload.bind(store);
  const deleteObject = store.deleteObject.bind(store);

  const persist = (bucket: string, object: EmulatedObject): EmulatedObject => {
    const file = objectPath(root, bucket, object.key);
    if (!file) {
      log(`s3: s3://${bucket}/${object.key} is kept in memory only (the key is not a valid file path)`);
      return object;
    }
    writeFileDurably(root, file, object.body);
    const meta: ObjectMeta = {
      contentType: object.contentType,
      metadata: object.metadata,
      etag: object.etag,
      lastModified: object.lastModified.toISOString(),
    };
    writeFileDurably(root, metaPath(root, bucket, object.key) as string, Buffer.from(JSON.stringify(meta)));
    readFromFile(object, file);
    return object;
  };

  store.putObject = (bucket, key, body, contentType, metadata) =>
    persist(bucket, putObject(bucket, key, body, contentType, metadata));
  store.completeMultipartUpload = (uploadId, parts) => {
    const object = completeMultipartUpload(uploadId, parts);
    const bucket = bucketOf(store, object);
    return bucket === undefined ? object : persist(bucket, object);
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
      const buckets = (store as unknown as { buckets: Map<string, Map<string, EmulatedObject>> }).buckets;
      let restored = 0;
      for (const bucket of listDir(root)) {
        if (bucket.startsWith(".")) continue;
        const bucketRoot = join(root, bucket);
        if (!statSync(bucketRoot).isDirectory()) continue;
        store.createBucket(bucket);
        const objects = buckets.get(bucket) as Map<string, EmulatedObject>;
        for (const file of listFiles(bucketRoot)) {
          const key = relative(bucketRoot, file).split(sep).join("/");
          const meta = readMeta(metaPath(root, bucket, key) as string);
          const info = statSync(file);
          const object = {
            key,
            contentType: meta.contentType ?? "application/octet-stream",
            contentLength: info.size,
            etag: meta.etag ?? `"${createHash("md5").update(readFileSync(file)).digest("hex")}"`,
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

/** The object's bytes are read from its file whenever a request asks for them, never kept. */
function readFromFile(object: EmulatedObject, file: string): void {
  Object.defineProperty(object, "body", {
    get: () => readFileSync(file),
    enumerable: true,
    configurable: true,
  });
}

/** The bucket a just-completed object went into (fauxqs's completion result does not say). */
function bucketOf(store: EmulatedObjectStore, object: EmulatedObject): string | undefined {
  const buckets = (store as unknown as { buckets: Map<string, Map<string, EmulatedObject>> }).buckets;
  for (const [bucket, objects] of buckets) if (objects.get(object.key) === object) return bucket;
  return undefined;
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
  const tmp = join(root, TMP_DIR, randomUUID());
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

import { randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, rmdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  CreateBucketCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  NoSuchKey,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { z } from "zod";

/** Bucket names cannot start with a dot, so these never collide with a mirrored bucket. */
const META_DIR = ".meta";
const TMP_DIR = ".tmp";
/** fauxqs refuses request bodies over 11 MiB, so big objects go back in parts below that. */
const RESTORE_PART_BYTES = 8 * 1024 * 1024;

const ObjectMeta = z.object({
  contentType: z.string().optional(),
  metadata: z.record(z.string(), z.string()).optional(),
});
type ObjectMeta = z.infer<typeof ObjectMeta>;

export interface S3Mirror {
  /** Copies the object to disk (after any earlier change to the same key has been written). */
  objectWritten(bucket: string, key: string): void;
  objectDeleted(bucket: string, key: string): void;
  /** Puts every mirrored object back into the (empty, in-memory) emulator; returns the count. */
  restore(): Promise<number>;
  /** Resolves when every scheduled write and delete has finished. */
  drain(): Promise<void>;
}

/**
 * Keeps the emulator's in-memory objects in `<root>/<bucket>/<key>` so they survive a restart.
 * Content type and user metadata go to a sidecar under `<root>/.meta/`. Changes to one key are
 * applied in order; keys that cannot be a file path (`a//b`, `../x`, `dir/`) are not mirrored.
 */
export function createS3Mirror(options: {
  s3: S3Client;
  root: string;
  log: (line: string) => void;
}): S3Mirror {
  const { s3, root, log } = options;
  const chains = new Map<string, Promise<void>>();

  const schedule = (bucket: string, key: string, task: (file: string, metaFile: string) => Promise<void>) => {
    const file = objectPath(root, bucket, key);
    if (!file) {
      log(`s3 mirror: s3://${bucket}/${key} is not mirrored (the key is not a valid file path)`);
      return;
    }
    const metaFile = `${objectPath(join(root, META_DIR), bucket, key)}.json`;
    const id = `${bucket}/${key}`;
    const next = (chains.get(id) ?? Promise.resolve())
      .then(() => task(file, metaFile))
      .catch((error: unknown) => log(`s3 mirror: s3://${bucket}/${key} failed: ${String(error)}`))
      .finally(() => {
        if (chains.get(id) === next) chains.delete(id);
      });
    chains.set(id, next);
  };

  const removeFiles = async (bucket: string, file: string, metaFile: string) => {
    await rm(file, { force: true });
    await rm(metaFile, { force: true });
    await pruneEmptyDirs(dirname(file), join(root, bucket));
    await pruneEmptyDirs(dirname(metaFile), join(root, META_DIR, bucket));
  };

  return {
    objectWritten(bucket, key) {
      schedule(bucket, key, async (file, metaFile) => {
        let object: GetObjectCommandOutput;
        try {
          object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
        } catch (error) {
          // Deleted again before we got to it; the delete that follows cleans up.
          if (error instanceof NoSuchKey) return removeFiles(bucket, file, metaFile);
          throw error;
        }
        const tmp = join(root, TMP_DIR, randomUUID());
        await mkdir(dirname(tmp), { recursive: true });
        try {
          await pipeline(object.Body as Readable, createWriteStream(tmp));
          await mkdir(dirname(file), { recursive: true });
          await rename(tmp, file);
        } finally {
          await rm(tmp, { force: true });
        }
        const meta: ObjectMeta = { contentType: object.ContentType, metadata: object.Metadata };
        await mkdir(dirname(metaFile), { recursive: true });
        await writeFile(metaFile, JSON.stringify(meta));
      });
    },

    objectDeleted(bucket, key) {
      schedule(bucket, key, (file, metaFile) => removeFiles(bucket, file, metaFile));
    },

    async restore() {
      await rm(join(root, TMP_DIR), { recursive: true, force: true });
      let restored = 0;
      for (const bucket of await listDir(root)) {
        if (bucket.startsWith(".")) continue;
        await ensureBucket(s3, bucket);
        const bucketRoot = join(root, bucket);
        for (const file of await listFiles(bucketRoot)) {
          const key = relative(bucketRoot, file).split(sep).join("/");
          const meta = await readMeta(`${objectPath(join(root, META_DIR), bucket, key)}.json`);
          await new Upload({
            client: s3,
            params: {
              Bucket: bucket,
              Key: key,
              Body: createReadStream(file),
              ContentType: meta.contentType,
              Metadata: meta.metadata,
            },
            partSize: RESTORE_PART_BYTES,
          }).done();
          restored++;
        }
      }
      return restored;
    },

    async drain() {
      while (chains.size > 0) await Promise.all(chains.values());
    },
  };
}

/** `<root>/<bucket>/<key segments>`, or undefined when the key cannot be stored as a file. */
export function objectPath(root: string, bucket: string, key: string): string | undefined {
  if (!bucket || bucket.startsWith(".") || bucket.includes("/")) return undefined;
  const segments = key.split("/");
  if (segments.some((s) => s === "" || s === "." || s === "..")) return undefined;
  return join(root, bucket, ...segments);
}

async function ensureBucket(s3: S3Client, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

async function readMeta(file: string): Promise<ObjectMeta> {
  try {
    return ObjectMeta.parse(JSON.parse(await readFile(file, "utf8")));
  } catch {
    return {};
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(path)));
    else if (entry.isFile()) files.push(path);
  }
  return files.sort();
}

/** Removes now-empty directories from `dir` up to, not including, `stop`. */
async function pruneEmptyDirs(dir: string, stop: string): Promise<void> {
  let current = dir;
  while (current.startsWith(stop + sep)) {
    try {
      await rmdir(current);
    } catch {
      return;
    }
    current = dirname(current);
  }
}

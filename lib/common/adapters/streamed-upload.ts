import { once } from "node:events";
import { PassThrough } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";

export interface StreamedUploadOptions {
  /** Multipart part size (lib-storage's default, 5 MiB, when absent). */
  readonly partSize?: number;
  /** Parts uploading at once. */
  readonly queueSize?: number;
  /** What the stream holds before a write waits for the upload to catch up. */
  readonly bufferBytes?: number;
}

/** An object written piece by piece; the multipart upload starts with the first write. */
export interface StreamedUpload {
  write(chunk: string | Uint8Array): Promise<void>;
  /** Finishes the object; `false` when nothing was written, so no object exists. */
  close(): Promise<boolean>;
  /** Drops what was uploaded so far. */
  abort(): Promise<void>;
}

/**
 * The one multipart writer: lib-storage's `Upload` reading a `PassThrough`, so memory holds a
 * bounded buffer and a few parts whatever the size of the object, and a write waits whenever the
 * upload falls behind (or fails with it).
 */
export function streamedUpload(
  s3: S3Client,
  bucket: string,
  key: string,
  contentType: string,
  options: StreamedUploadOptions = {},
): StreamedUpload {
  let started: { body: PassThrough; upload: Upload; done: Promise<unknown> } | undefined;
  const start = () => {
    const body = new PassThrough(options.bufferBytes ? { highWaterMark: options.bufferBytes } : {});
    const upload = new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body, ContentType: contentType },
      ...(options.partSize ? { partSize: options.partSize } : {}),
      ...(options.queueSize ? { queueSize: options.queueSize } : {}),
    });
    const done = upload.done();
    // Surfaced by the next write or by close(); never an unhandled rejection meanwhile.
    done.catch(() => undefined);
    started = { body, upload, done };
    return started;
  };
  return {
    write: async (chunk) => {
      const { body, done } = started ?? start();
      if (body.write(chunk)) return;
      await Promise.race([
        once(body, "drain"),
        done.then(() => Promise.reject(new Error(`the upload of ${key} ended early`))),
      ]);
    },
    close: async () => {
      if (!started) return false;
      started.body.end();
      await started.done;
      return true;
    },
    abort: async () => {
      if (!started) return;
      started.body.destroy();
      await started.upload.abort().catch(() => undefined);
    },
  };
}

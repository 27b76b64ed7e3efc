import { once } from "node:events";
import { PassThrough } from "node:stream";
import { GetObjectCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import type { ExportObjects, ObjectWriter } from "../ports.ts";

/** Multipart parts of 8 MiB, two uploading at a time: about 24 MiB in flight per file at most. */
const PART_BYTES = 8 * 1024 * 1024;
const PARTS_IN_FLIGHT = 2;
/** What the stream holds before a write waits for the upload to catch up. */
const STREAM_BUFFER_BYTES = 1024 * 1024;

/**
 * An export's files in the bucket: streamed through multipart uploads (`lib-storage` reading a
 * `PassThrough`, so a writer waits whenever the upload falls behind), small objects put whole,
 * and presigned GETs whose response headers name the file and its type.
 */
export class S3ExportObjects implements ExportObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  openWriter(key: string, contentType: string): ObjectWriter {
    let stream: PassThrough | undefined;
    let upload: Upload | undefined;
    let done: Promise<unknown> | undefined;
    const start = () => {
      const body = new PassThrough({ highWaterMark: STREAM_BUFFER_BYTES });
      upload = new Upload({
        client: this.s3,
        params: { Bucket: this.bucket, Key: key, Body: body, ContentType: contentType },
        partSize: PART_BYTES,
        queueSize: PARTS_IN_FLIGHT,
      });
      done = upload.done();
      // Surfaced by the next write or by close(); never an unhandled rejection meanwhile.
      done.catch(() => undefined);
      stream = body;
      return { body, done };
    };
    return {
      write: async (chunk) => {
        const current = stream && done ? { body: stream, done } : start();
        if (current.body.write(chunk)) return;
        // Waits for the upload to drain the stream, or fails with the upload.
        await Promise.race([
          once(current.body, "drain"),
          current.done.then(() => Promise.reject(new Error(`the upload of ${key} ended early`))),
        ]);
      },
      close: async () => {
        if (!stream) {
          // Nothing was written: an empty object (an empty dataset is a file, not an error).
          await this.put(key, "", contentType);
          return;
        }
        stream.end();
        await done;
      },
      abort: async () => {
        if (!upload) return;
        stream?.destroy();
        await upload.abort().catch(() => undefined);
      },
    };
  }

  async put(key: string, body: string, contentType: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: Buffer.byteLength(body),
      }),
    );
  }

  signedDownload(
    key: string,
    download: { fileName: string; contentType: string; expiresInSeconds: number },
  ): Promise<string> {
    return getSignedUrl(
      this.s3,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentType: download.contentType,
        ResponseContentDisposition: `attachment; filename="${download.fileName}"`,
      }),
      { expiresIn: download.expiresInSeconds },
    );
  }
}

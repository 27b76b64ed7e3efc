import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import type { ExportPartStore, UploadedPart } from "../ports.ts";

/**
 * State objects above this are uploaded in parts of this size (a checkpoint with millions of
 * fingerprints): above S3's 5 MiB minimum part, below the 11 MiB the local bucket takes in one request.
 */
const SINGLE_PUT_BYTES = 8 * 1024 * 1024;

/** S3's multipart upload part by part, and the export's state objects, in the bucket. */
export class S3ExportParts implements ExportPartStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async startUpload(key: string, contentType: string): Promise<string> {
    const { UploadId } = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key, ContentType: contentType }),
    );
    if (!UploadId) throw new Error(`S3 started no upload of ${key}`);
    return UploadId;
  }

  async uploadPart(key: string, uploadId: string, number: number, body: Uint8Array): Promise<string> {
    const { ETag } = await this.s3.send(
      new UploadPartCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: number,
        Body: body,
        ContentLength: body.byteLength,
      }),
    );
    if (!ETag) throw new Error(`S3 answered no ETag for part ${number} of ${key}`);
    return ETag;
  }

  async completeUpload(key: string, uploadId: string, parts: readonly UploadedPart[]): Promise<void> {
    await this.s3.send(
      new CompleteMultipartUploadCommand({
        Bucket: this.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: parts.map((part) => ({ PartNumber: part.number, ETag: part.etag })) },
      }),
    );
  }

  async abortUpload(key: string, uploadId: string): Promise<void> {
    await this.s3.send(
      new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: uploadId }),
    );
  }

  async putBytes(key: string, chunks: readonly Uint8Array[], contentType: string): Promise<void> {
    const bytes = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (bytes <= SINGLE_PUT_BYTES) {
      await this.s3.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
          ContentType: contentType,
          ContentLength: bytes,
        }),
      );
      return;
    }
    // Large: streamed from the chunks as they lie in memory, never joined into one buffer.
    await new Upload({
      client: this.s3,
      params: { Bucket: this.bucket, Key: key, Body: Readable.from(chunks), ContentType: contentType },
      partSize: SINGLE_PUT_BYTES,
      queueSize: 2,
    }).done();
  }

  async getBytes(key: string): Promise<Uint8Array> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    if (!object.Body) throw new Error(`S3 returned no body for ${key}`);
    const length = object.ContentLength;
    if (length === undefined) return object.Body.transformToByteArray();
    // Copied into one buffer as it streams in: never the chunks and their join at once (a
    // checkpoint can be a few hundred MB).
    const bytes = new Uint8Array(length);
    let at = 0;
    for await (const chunk of object.Body as AsyncIterable<Uint8Array>) {
      if (at + chunk.byteLength > length) throw new Error(`${key} is longer than its ${length} bytes`);
      bytes.set(chunk, at);
      at += chunk.byteLength;
    }
    if (at !== length) throw new Error(`${key} ended after ${at} of its ${length} bytes`);
    return bytes;
  }

  async remove(keys: readonly string[]): Promise<void> {
    // A checkpoint has one state object or two to remove: one request each.
    await Promise.all(keys.map((Key) => this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key }))));
  }
}

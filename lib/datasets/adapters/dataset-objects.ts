import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  type S3Client,
  UploadPartCopyCommand,
} from "@aws-sdk/client-s3";
import { type DownloadTerms, signedDownload } from "../../common/adapters/signed-download.ts";
import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import type { CopyStep } from "../domain/dataset-version.ts";
import type { DatasetObjects } from "../ports.ts";

/** S3 copies an object of up to 5 GiB in one request; beyond that, part by part. */
export const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
/** Parts of a multipart copy: 512 MiB, or larger when the object needs more than 10,000 of them. */
const COPY_PART_BYTES = 512 * 1024 ** 2;
const MAX_PARTS = 10_000;
const PARTS_IN_FLIGHT = 4;

const statusOf = (error: unknown) =>
  (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
const isMissing = (error: unknown) =>
  statusOf(error) === 404 || ["NotFound", "NoSuchKey"].includes((error as Error).name);
/** S3 refuses a conditional write onto an existing key with 412 (409 when racing another write). */
const isPresent = (error: unknown) =>
  statusOf(error) === 412 || (error as Error).name === "PreconditionFailed";

/** `bucket/key` as `x-amz-copy-source` takes it: the key URL-encoded, its slashes kept. */
const copySource = (bucket: string, key: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, "/")}`;

/**
 * A dataset version's objects: server-side copies (the bytes never pass through the function),
 * each written only where nothing is (`If-None-Match: *`, and a look first, so a repeated pin
 * skips what it copied before and nothing pinned is ever overwritten), listings, streamed lines
 * and presigned GETs.
 */
export class S3DatasetObjects implements DatasetObjects {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly singleCopyLimit = MAX_SINGLE_COPY_BYTES,
  ) {}

  async copy(step: CopyStep): Promise<"copied" | "present"> {
    const there = await this.head(step.to);
    if (there) return this.present(step, there.bytes);
    const source = await this.head(step.from);
    if (!source) throw new NotFoundError(`${step.from} does not exist`);
    try {
      if (source.bytes <= this.singleCopyLimit) {
        await this.s3.send(
          new CopyObjectCommand({
            Bucket: this.bucket,
            Key: step.to,
            CopySource: copySource(this.bucket, step.from),
            IfNoneMatch: "*",
          }),
        );
      } else {
        await this.multipartCopy(step, source.bytes, source.contentType);
      }
      return "copied";
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`${step.from} does not exist`);
      if (isPresent(error)) {
        const now = await this.head(step.to);
        if (now) return this.present(step, now.bytes);
      }
      throw error;
    }
  }

  /** The destination exists: fine if it is what the copy would have made, else never touched. */
  private present(step: CopyStep, bytes: number): "present" {
    if (step.bytes !== undefined && bytes !== step.bytes) {
      throw new ConflictError(
        `${step.to} exists with ${bytes} bytes, not ${step.bytes}: it is never overwritten`,
      );
    }
    return "present";
  }

  private async multipartCopy(step: CopyStep, bytes: number, contentType: string | undefined): Promise<void> {
    const partBytes = Math.max(COPY_PART_BYTES, Math.ceil(bytes / MAX_PARTS));
    const { UploadId } = await this.s3.send(
      new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: step.to, ContentType: contentType }),
    );
    try {
      const count = Math.ceil(bytes / partBytes);
      const parts: { ETag: string | undefined; PartNumber: number }[] = new Array(count);
      let next = 0;
      const worker = async () => {
        while (next < count) {
          const index = next++;
          const start = index * partBytes;
          const end = Math.min(bytes, start + partBytes) - 1;
          const { CopyPartResult } = await this.s3.send(
            new UploadPartCopyCommand({
              Bucket: this.bucket,
              Key: step.to,
              UploadId,
              PartNumber: index + 1,
              CopySource: copySource(this.bucket, step.from),
              CopySourceRange: `bytes=${start}-${end}`,
            }),
          );
          parts[index] = { ETag: CopyPartResult?.ETag, PartNumber: index + 1 };
        }
      };
      await Promise.all(Array.from({ length: Math.min(PARTS_IN_FLIGHT, count) }, worker));
      await this.s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: this.bucket,
          Key: step.to,
          UploadId,
          MultipartUpload: { Parts: parts },
          IfNoneMatch: "*",
        }),
      );
    } catch (error) {
      await this.s3
        .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: step.to, UploadId }))
        .catch(() => undefined);
      throw error;
    }
  }

  private async head(key: string): Promise<{ bytes: number; contentType: string | undefined } | null> {
    try {
      const head = await this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return { bytes: Number(head.ContentLength ?? 0), contentType: head.ContentType };
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async *list(prefix: string, startAfter?: string): AsyncIterable<readonly { key: string; bytes: number }[]> {
    const input = { Bucket: this.bucket, Prefix: prefix, ...(startAfter ? { StartAfter: startAfter } : {}) };
    for await (const page of paginateListObjectsV2({ client: this.s3 }, input)) {
      yield (page.Contents ?? []).map((object) => ({
        key: String(object.Key),
        bytes: Number(object.Size ?? 0),
      }));
    }
  }

  async *lines(key: string): AsyncIterable<string> {
    let body: Readable;
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      body = object.Body as Readable;
    } catch (error) {
      if (isMissing(error)) throw new NotFoundError(`${key} does not exist`);
      throw error;
    }
    yield* createInterface({ input: body, crlfDelay: Number.POSITIVE_INFINITY });
  }

  signedDownload(key: string, download: DownloadTerms): Promise<string> {
    return signedDownload(this.s3, this.bucket, key, download);
  }
}

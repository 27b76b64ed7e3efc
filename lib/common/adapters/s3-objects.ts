import type { Readable } from "node:stream";
import {
  CopyObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  NoSuchKey,
  NotFound,
  type S3Client,
} from "@aws-sdk/client-s3";
import {
  type QuarantineEntry,
  type QuarantineSink,
  type QuarantineWriter,
  type RunObject,
  RunObjectMissingError,
  type RunObjectReader,
} from "../../import/ports.ts";
import { BUCKET_PREFIXES } from "../resources.ts";
import type { BodyStore } from "./candidate-table.ts";
import type { CandidateBody } from "./candidate-view.ts";
import { putContentBlob } from "./content-blobs.ts";
import { streamedUpload } from "./streamed-upload.ts";

/** Bytes fetched per ranged GET: the most of a run held in memory at once, however big the run. */
export const RUN_RANGE_BYTES = 8 * 1024 * 1024;

/**
 * Reads uploaded runs from S3 as a sequence of ranged GETs pinned to the object's ETag, so memory
 * stays bounded by one range even where a single long response would be read ahead and buffered,
 * and a replaced object fails the import instead of mixing two uploads.
 */
export class S3RunObjects implements RunObjectReader {
  constructor(
    private readonly s3: S3Client,
    private readonly rangeBytes = RUN_RANGE_BYTES,
  ) {}

  async open(bucket: string, key: string, from?: { offset: number; etag: string }): Promise<RunObject> {
    let head: HeadObjectCommandOutput;
    try {
      head = await this.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    } catch (error) {
      if (error instanceof NotFound || error instanceof NoSuchKey) {
        throw new RunObjectMissingError(`s3://${bucket}/${key} does not exist`);
      }
      throw error;
    }
    const size = head.ContentLength ?? 0;
    const etag = head.ETag ?? "";
    if (from && etag.replaceAll('"', "") !== from.etag) {
      throw new RunObjectMissingError(`s3://${bucket}/${key} was replaced since its import began`);
    }
    const { s3, rangeBytes } = this;
    async function* ranges(): AsyncGenerator<Uint8Array> {
      for (let start = from?.offset ?? 0; start < size; start += rangeBytes) {
        const end = Math.min(size, start + rangeBytes) - 1;
        const part = await s3.send(
          new GetObjectCommand({ Bucket: bucket, Key: key, Range: `bytes=${start}-${end}`, IfMatch: etag }),
        );
        if (!part.Body) throw new RunObjectMissingError(`s3://${bucket}/${key} has no body`);
        yield* part.Body as AsyncIterable<Uint8Array>;
      }
    }
    return { body: ranges(), etag: etag.replaceAll('"', ""), size };
  }
}

/**
 * Candidate bodies too big for an item, named by content (`putContentBlob`). Bodies stored before
 * keep their old key, `blobs/candidates/<id hash>.json`; the item's pointer names it.
 */
export class S3Bodies implements BodyStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  putCandidateBody(id: string, body: string): Promise<string> {
    return putContentBlob(this.s3, this.bucket, "candidates", id, body);
  }

  /** The prompt and answer `putCandidateBody` moved out of the item. */
  async getCandidateBody(key: string): Promise<CandidateBody> {
    const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const body = JSON.parse((await object.Body?.transformToString("utf8")) ?? "{}") as Partial<CandidateBody>;
    return { prompt_messages: body.prompt_messages ?? null, model_response: body.model_response ?? null };
  }
}

/**
 * Quarantine entries of one import as JSON lines under `quarantine/runs/<run_id>/<import_id>.jsonl`,
 * streamed through a multipart upload that starts with the first entry. An import that spans
 * several invocations writes one part per invocation (`<import_id>/part-<first line>-<token>.jsonl`)
 * and joins them, in order, into that object when it finishes.
 */
export class S3Quarantine implements QuarantineSink {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  open(runId: string, importId: string, part?: string): QuarantineWriter {
    const key = part ? this.partKey(runId, importId, part) : this.objectKey(runId, importId);
    const upload = streamedUpload(this.s3, this.bucket, key, "application/x-ndjson");
    return {
      write: (entry: QuarantineEntry) => upload.write(`${JSON.stringify(entry)}\n`),
      close: async () => ((await upload.close()) ? key : null),
      abort: () => upload.abort(),
    };
  }

  async keepAsPart(runId: string, importId: string, part: string): Promise<string> {
    const key = this.partKey(runId, importId, part);
    const source = `${this.bucket}/${this.objectKey(runId, importId)}`;
    await this.s3.send(
      new CopyObjectCommand({ Bucket: this.bucket, Key: key, CopySource: encodeURIComponent(source) }),
    );
    return key;
  }

  async join(runId: string, importId: string, parts: readonly string[]): Promise<string | null> {
    if (parts.length === 0) return null;
    const key = this.objectKey(runId, importId);
    const upload = streamedUpload(this.s3, this.bucket, key, "application/x-ndjson");
    try {
      for (const part of parts) {
        const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: part }));
        for await (const chunk of object.Body as Readable) await upload.write(chunk as Uint8Array);
      }
      await upload.close();
    } catch (error) {
      await upload.abort();
      throw error;
    }
    return key;
  }

  async removeParts(parts: readonly string[]): Promise<void> {
    for (let i = 0; i < parts.length; i += 1000) {
      const batch = parts.slice(i, i + 1000);
      await this.s3.send(
        new DeleteObjectsCommand({
          Bucket: this.bucket,
          Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
        }),
      );
    }
  }

  private objectKey(runId: string, importId: string): string {
    return `${BUCKET_PREFIXES.quarantine}runs/${runId}/${importId}.jsonl`;
  }

  private partKey(runId: string, importId: string, part: string): string {
    return `${BUCKET_PREFIXES.quarantine}runs/${runId}/${importId}/part-${part}.jsonl`;
  }
}

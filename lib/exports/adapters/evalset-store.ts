import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { BUCKET_PREFIXES } from "../../common/resources.ts";
import {
  type EvalIndexMeta,
  type EvalSetListing,
  type EvalSetObject,
  evalSetVersion,
} from "../domain/evalsets.ts";
import type { EvalSetStore } from "../ports.ts";

/** The part size of an index written in parts: above S3's 5 MiB minimum, below what the local bucket takes in one request. */
const INDEX_PART_BYTES = 8 * 1024 * 1024;

/** The object the API writes a registered set to. */
export const EVALSET_ITEMS_FILE = "items.jsonl";

const setPrefix = (name: string) => `${BUCKET_PREFIXES.evalsets}${name}/`;
const indexPrefix = (name: string, version: string) => `${BUCKET_PREFIXES.evalsetIndex}${name}/${version}/`;
export const indexKeys = (name: string, version: string, ngram: number) => ({
  meta: `${indexPrefix(name, version)}n${ngram}.json`,
  grams: `${indexPrefix(name, version)}n${ngram}.grams`,
});

const isMissing = (error: unknown) =>
  error instanceof NoSuchKey || ["NoSuchKey", "NotFound"].includes((error as { name?: string }).name ?? "");

/** Eval sets and their indexes in the data bucket. */
export class S3EvalSetStore implements EvalSetStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  private async *keys(prefix: string) {
    let token: string | undefined;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const object of page.Contents ?? []) yield object;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async list(name?: string): Promise<EvalSetListing[]> {
    const bySet = new Map<string, EvalSetObject[]>();
    for await (const object of this.keys(name ? setPrefix(name) : BUCKET_PREFIXES.evalsets)) {
      const key = object.Key ?? "";
      const [setName, ...rest] = key.slice(BUCKET_PREFIXES.evalsets.length).split("/");
      if (!setName || rest.length === 0 || !key.endsWith(".jsonl")) continue;
      const objects = bySet.get(setName) ?? [];
      objects.push({
        key,
        etag: (object.ETag ?? "").replaceAll('"', ""),
        bytes: object.Size ?? 0,
        last_modified: object.LastModified?.toISOString(),
      });
      bySet.set(setName, objects);
    }
    return [...bySet]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([setName, objects]) => ({
        name: setName,
        version: evalSetVersion(objects),
        bytes: objects.reduce((sum, object) => sum + object.bytes, 0),
        objects,
      }));
  }

  async *lines(key: string): AsyncIterable<string> {
    const reply = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    const lines = createInterface({ input: reply.Body as Readable, crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) yield line;
  }

  async putItems(name: string, body: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: `${setPrefix(name)}${EVALSET_ITEMS_FILE}`,
        Body: body,
        ContentType: "application/x-ndjson",
        ContentLength: Buffer.byteLength(body),
      }),
    );
  }

  async remove(name: string): Promise<number> {
    let removed = 0;
    for (const prefix of [setPrefix(name), `${BUCKET_PREFIXES.evalsetIndex}${name}/`]) {
      let batch: string[] = [];
      const flush = async () => {
        if (batch.length === 0) return;
        await this.s3.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
          }),
        );
        batch = [];
      };
      for await (const object of this.keys(prefix)) {
        if (!object.Key) continue;
        batch.push(object.Key);
        if (prefix === setPrefix(name)) removed += 1;
        if (batch.length === 1000) await flush();
      }
      await flush();
    }
    return removed;
  }

  async indexMeta(name: string, version: string, ngram: number): Promise<EvalIndexMeta | null> {
    try {
      const reply = await this.s3.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: indexKeys(name, version, ngram).meta }),
      );
      return JSON.parse(await (reply.Body as { transformToString(): Promise<string> }).transformToString());
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async indexGrams(name: string, version: string, ngram: number, bytes: number): Promise<Uint8Array> {
    const reply = await this.s3.send(
      new GetObjectCommand({ Bucket: this.bucket, Key: indexKeys(name, version, ngram).grams }),
    );
    // Read straight into one buffer of the known size: no chunk list, no second copy.
    const buffer = new Uint8Array(bytes);
    let at = 0;
    for await (const chunk of reply.Body as Readable) {
      const part = chunk as Uint8Array;
      if (at + part.byteLength > bytes)
        throw new Error(`the grams of eval set ${name} are longer than indexed`);
      buffer.set(part, at);
      at += part.byteLength;
    }
    if (at !== bytes) throw new Error(`the grams of eval set ${name} are ${at} bytes, not ${bytes}`);
    return buffer;
  }

  async putIndex(meta: EvalIndexMeta, grams: Uint8Array): Promise<void> {
    const keys = indexKeys(meta.set, meta.version, meta.ngram);
    // In parts once it is large (35 MB for 100,000 items): a bucket may take less in one request
    // than S3 does (the local emulator takes 11 MiB), and a failed part is retried alone.
    await new Upload({
      client: this.s3,
      partSize: INDEX_PART_BYTES,
      params: { Bucket: this.bucket, Key: keys.grams, Body: grams, ContentType: "application/octet-stream" },
    }).done();
    const body = JSON.stringify(meta);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: keys.meta,
        Body: body,
        ContentType: "application/json",
        ContentLength: Buffer.byteLength(body),
      }),
    );
  }
}

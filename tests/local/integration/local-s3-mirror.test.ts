import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { CreateQueueCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningFauxqs, startS3SqsEmulator } from "../../../local/emulators.ts";
import { createS3Mirror, objectPath, type S3Mirror } from "../../../local/s3-mirror.ts";
import { onS3SpyEvent } from "../../../local/spy-hook.ts";
import { createUploadBridge, type UploadBridge } from "../../../local/upload-bridge.ts";

const bucket = "mirror-test";
/** Over fauxqs's 11 MiB request limit, so restoring it needs a multipart upload. */
const BIG_BYTES = 12 * 1024 * 1024;
let root: string;
let emulator: RunningFauxqs;
let s3: S3Client;
let sqs: SQSClient;
let queueUrl: string;
let mirror: S3Mirror;
let bridge: UploadBridge;
const log: string[] = [];

const clientsFor = (endpoint: string) => ({
  s3: new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true }),
  sqs: new SQSClient({ region: "us-east-1", endpoint, useQueueUrlAsEndpoint: false }),
});

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "flywheel-mirror-"));
  emulator = await startS3SqsEmulator();
  ({ s3, sqs } = clientsFor(emulator.endpoint));
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "uploads" }))).QueueUrl as string;
  mirror = createS3Mirror({ s3, root, log: (line) => log.push(line) });
  bridge = createUploadBridge({
    s3,
    sqs,
    bucket,
    queueUrl,
    region: "us-east-1",
    configurationId: "run-uploads",
    log: (line) => log.push(line),
  });
  onS3SpyEvent(emulator.server, (event) => {
    if (event.status === "uploaded") {
      mirror.objectWritten(event.bucket, event.key);
      bridge.objectCreated(event.bucket, event.key);
    } else if (event.status === "deleted") {
      mirror.objectDeleted(event.bucket, event.key);
    }
  });
});

afterAll(async () => {
  await emulator?.stop();
  await rm(root, { recursive: true, force: true });
});

const settle = () => Promise.all([mirror.drain(), bridge.drain()]);

async function receiveEvents(): Promise<S3Event[]> {
  const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
  return (received.Messages ?? []).map((m) => JSON.parse(m.Body as string) as S3Event);
}

describe("upload bridge", () => {
  it("notifies the queue about a new run file, with size and ETag from S3", async () => {
    const key = "runs/run one/sft_candidates.jsonl";
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"a":1}\n' }));
    await settle();
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));

    const events = await receiveEvents();
    expect(events).toHaveLength(1);
    const record = events[0]?.Records[0];
    expect(record?.eventName).toBe("ObjectCreated:Put");
    expect(record?.s3.bucket.name).toBe(bucket);
    expect(record?.s3.object).toMatchObject({
      key: "runs/run+one/sft_candidates.jsonl",
      size: 8,
      eTag: head.ETag?.replaceAll('"', ""),
    });
  });

  it("reports a multipart upload as CompleteMultipartUpload", async () => {
    const key = "runs/big/sft_candidates.jsonl";
    const body = Buffer.alloc(BIG_BYTES, "x");
    await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: 5 * 1024 * 1024,
    }).done();
    await settle();

    const [event] = await receiveEvents();
    expect(event?.Records[0]?.eventName).toBe("ObjectCreated:CompleteMultipartUpload");
    expect(event?.Records[0]?.s3.object.size).toBe(body.length);
    expect(event?.Records[0]?.s3.object.eTag).toMatch(/-3$/);
    expect((await stat(join(root, bucket, "runs/big/sft_candidates.jsonl"))).size).toBe(body.length);
  });

  it("ignores objects outside the run-upload filter", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "runs/r1/notes.txt", Body: "n" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "exports/sft_candidates.jsonl", Body: "e" }));
    await settle();
    expect(await receiveEvents()).toEqual([]);
  });
});

describe("S3 mirror", () => {
  it("writes uploads to <root>/<bucket>/<key> and removes them on delete", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "tmp/a/gone.txt", Body: "bye" }));
    await settle();
    expect(await readFile(join(root, bucket, "tmp/a/gone.txt"), "utf8")).toBe("bye");

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "tmp/a/gone.txt" }));
    await settle();
    await expect(stat(join(root, bucket, "tmp"))).rejects.toThrow(/ENOENT/);
  });

  it("keeps the last write when the same key changes quickly", async () => {
    for (const body of ["1", "22", "333"]) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "docs/version.txt", Body: body }));
    }
    await settle();
    expect(await readFile(join(root, bucket, "docs/version.txt"), "utf8")).toBe("333");
  });

  it("skips keys that cannot be file paths", () => {
    expect(objectPath(root, bucket, "../escape")).toBeUndefined();
    expect(objectPath(root, bucket, "a//b")).toBeUndefined();
    expect(objectPath(root, bucket, "folder/")).toBeUndefined();
    expect(objectPath(root, bucket, "a b/c.txt")).toBe(join(root, bucket, "a b", "c.txt"));
  });

  it("restores objects, content type and metadata into a fresh emulator, big ones too", async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "docs/readme.md",
        Body: "# hi",
        ContentType: "text/markdown",
        Metadata: { owner: "team-a" },
      }),
    );
    await settle();

    const fresh = await startS3SqsEmulator();
    try {
      const clients = clientsFor(fresh.endpoint);
      const restored = await createS3Mirror({ s3: clients.s3, root, log: () => {} }).restore();
      expect(restored).toBeGreaterThanOrEqual(4);

      const big = await clients.s3.send(
        new HeadObjectCommand({ Bucket: bucket, Key: "runs/big/sft_candidates.jsonl" }),
      );
      expect(big.ContentLength).toBe(BIG_BYTES);

      const readme = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/readme.md" }));
      expect(await readme.Body?.transformToString()).toBe("# hi");
      expect(readme.ContentType).toBe("text/markdown");
      expect(readme.Metadata).toEqual({ owner: "team-a" });

      const run = await clients.s3.send(
        new GetObjectCommand({ Bucket: bucket, Key: "runs/run one/sft_candidates.jsonl" }),
      );
      expect(await run.Body?.transformToString()).toBe('{"a":1}\n');
    } finally {
      await fresh.stop();
    }
  });
});

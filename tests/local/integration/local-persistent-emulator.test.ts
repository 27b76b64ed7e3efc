import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";
import type { S3Event } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectPath } from "../../../local/disk-objects.ts";
import { type RunningFauxqs, startS3SqsEmulator } from "../../../local/emulators.ts";
import { onS3SpyEvent } from "../../../local/spy-hook.ts";
import { createUploadBridge, type UploadBridge } from "../../../local/upload-bridge.ts";

const bucket = "persist-test";
/** Over fauxqs's 11 MiB request limit, so it goes up in parts. */
const BIG_BYTES = 12 * 1024 * 1024;
let root: string;
let emulator: RunningFauxqs;
const stopped: RunningFauxqs[] = [];
let s3: S3Client;
let sqs: SQSClient;
let uploadsUrl: string;
let bridge: UploadBridge;
const log: string[] = [];

const persistence = (dir = root) => ({
  queuesDir: join(dir, "queues"),
  objectsDir: join(dir, "s3"),
  log: (line: string) => log.push(line),
});

const clientsFor = (endpoint: string) => ({
  s3: new S3Client({ region: "us-east-1", endpoint, forcePathStyle: true }),
  sqs: new SQSClient({ region: "us-east-1", endpoint, useQueueUrlAsEndpoint: false }),
});

/** A second emulator on the same folders, as after a crash of the first (which is never stopped first). */
async function restartAfterCrash(queueNames: string[], consumedHere: string[], dir = root) {
  const fresh = await startS3SqsEmulator({ persistence: persistence(dir) });
  stopped.push(fresh);
  const clients = clientsFor(fresh.endpoint);
  for (const name of queueNames) await clients.sqs.send(new CreateQueueCommand({ QueueName: name }));
  const report = fresh.restoreQueues(new Set(consumedHere));
  return { fresh, clients, report };
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "flywheel-persist-"));
  emulator = await startS3SqsEmulator({ persistence: persistence() });
  stopped.push(emulator);
  ({ s3, sqs } = clientsFor(emulator.endpoint));
  await s3.send(new (await import("@aws-sdk/client-s3")).CreateBucketCommand({ Bucket: bucket }));
  uploadsUrl = (await sqs.send(new CreateQueueCommand({ QueueName: "uploads" }))).QueueUrl as string;
  emulator.restoreQueues(new Set());
  bridge = createUploadBridge({
    s3,
    sqs,
    bucket,
    queueUrl: uploadsUrl,
    region: "us-east-1",
    configurationId: "run-uploads",
    log: (line) => log.push(line),
  });
  onS3SpyEvent(emulator.server, (event) => {
    if (event.status === "uploaded") bridge.objectCreated(event.bucket, event.key);
  });
});

afterAll(async () => {
  for (const running of stopped) await running.stop();
  await rm(root, { recursive: true, force: true });
});

async function receiveEvents(): Promise<S3Event[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: uploadsUrl, MaxNumberOfMessages: 10 }),
  );
  for (const m of received.Messages ?? []) {
    await sqs.send(new DeleteMessageCommand({ QueueUrl: uploadsUrl, ReceiptHandle: m.ReceiptHandle }));
  }
  return (received.Messages ?? []).map((m) => JSON.parse(m.Body as string) as S3Event);
}

describe("upload bridge", () => {
  it("notifies the queue about a new run file, with size and ETag from S3", async () => {
    const key = "runs/run one/sft_candidates.jsonl";
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: '{"a":1}\n' }));
    await bridge.drain();
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
    await bridge.drain();

    const [event] = await receiveEvents();
    expect(event?.Records[0]?.eventName).toBe("ObjectCreated:CompleteMultipartUpload");
    expect(event?.Records[0]?.s3.object.size).toBe(body.length);
    expect(event?.Records[0]?.s3.object.eTag).toMatch(/-3$/);
  });

  it("ignores objects outside the run-upload filter", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "runs/r1/notes.txt", Body: "n" }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "exports/sft_candidates.jsonl", Body: "e" }));
    await bridge.drain();
    expect(await receiveEvents()).toEqual([]);
  });
});

describe("objects on disk", () => {
  it("are in <root>/<bucket>/<key> once the write is answered, and gone once deleted", async () => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "tmp/a/gone.txt", Body: "bye" }));
    expect(await readFile(join(root, "s3", bucket, "tmp/a/gone.txt"), "utf8")).toBe("bye");
    expect((await stat(join(root, "s3", bucket, "runs/big/sft_candidates.jsonl"))).size).toBe(BIG_BYTES);

    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: "tmp/a/gone.txt" }));
    await expect(stat(join(root, "s3", bucket, "tmp"))).rejects.toThrow(/ENOENT/);
  });

  it("serve the last write of a key, from the file", async () => {
    for (const body of ["1", "22", "333"]) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "docs/version.txt", Body: body }));
    }
    expect(await readFile(join(root, "s3", bucket, "docs/version.txt"), "utf8")).toBe("333");
    const got = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: "docs/version.txt", Range: "bytes=1-" }),
    );
    expect(await got.Body?.transformToString()).toBe("33");
  });

  it("stream big objects from their files: whole, by range, and copied file to file", async () => {
    const key = "blobs/patterned.bin";
    const body = Buffer.alloc(BIG_BYTES);
    for (let i = 0; i < body.length; i += 4) body.writeUInt32BE(i, i);
    await new Upload({
      client: s3,
      params: { Bucket: bucket, Key: key, Body: body },
      partSize: 5 * 1024 * 1024,
    }).done();
    // The parts were on disk only while the upload was in progress.
    await expect(stat(join(root, "s3", ".parts"))).resolves.toBeDefined();
    expect((await import("node:fs")).readdirSync(join(root, "s3", ".parts"))).toEqual([]);

    const whole = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(Buffer.from((await whole.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
    const range = await s3.send(
      new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=7340032-7340039" }),
    );
    expect(range.ContentRange).toBe(`bytes 7340032-7340039/${BIG_BYTES}`);
    expect(Buffer.from((await range.Body?.transformToByteArray()) ?? [])).toEqual(
      body.subarray(7340032, 7340040),
    );

    const { CopyObjectCommand } = await import("@aws-sdk/client-s3");
    await s3.send(
      new CopyObjectCommand({ Bucket: bucket, Key: "blobs/copy.bin", CopySource: `${bucket}/${key}` }),
    );
    const copy = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: "blobs/copy.bin" }));
    const { createHash } = await import("node:crypto");
    expect(copy.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);
    expect(Buffer.from((await copy.Body?.transformToByteArray()) ?? []).equals(body)).toBe(true);
  });

  it("answer a completion naming a part never uploaded as S3 does", async () => {
    const { CreateMultipartUploadCommand, CompleteMultipartUploadCommand } = await import(
      "@aws-sdk/client-s3"
    );
    const { UploadId } = await s3.send(
      new CreateMultipartUploadCommand({ Bucket: bucket, Key: "blobs/broken.bin" }),
    );
    await expect(
      s3.send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: "blobs/broken.bin",
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"0123"' }] },
        }),
      ),
    ).rejects.toMatchObject({ name: "InvalidPart" });
  });

  it("skips keys that cannot be file paths", () => {
    expect(objectPath(root, bucket, "../escape")).toBeUndefined();
    expect(objectPath(root, bucket, "a//b")).toBeUndefined();
    expect(objectPath(root, bucket, "folder/")).toBeUndefined();
    expect(objectPath(root, bucket, "a b/c.txt")).toBe(join(root, bucket, "a b", "c.txt"));
  });

  it("come back after a crash with their bytes, ETag (multipart too), content type and metadata", async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: "docs/readme.md",
        Body: "# hi",
        ContentType: "text/markdown",
        Metadata: { owner: "team-a" },
      }),
    );
    const bigBefore = await s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "runs/big/sft_candidates.jsonl" }),
    );

    const { fresh, clients } = await restartAfterCrash([], []);
    expect(fresh.restoredObjects).toBeGreaterThanOrEqual(5);
    const big = await clients.s3.send(
      new HeadObjectCommand({ Bucket: bucket, Key: "runs/big/sft_candidates.jsonl" }),
    );
    expect(big.ContentLength).toBe(BIG_BYTES);
    expect(big.ETag).toBe(bigBefore.ETag);

    const readme = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: "docs/readme.md" }));
    expect(await readme.Body?.transformToString()).toBe("# hi");
    expect(readme.ContentType).toBe("text/markdown");
    expect(readme.Metadata).toEqual({ owner: "team-a" });
    await expect(
      clients.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "tmp/a/gone.txt" })),
    ).rejects.toThrow();
  });
});

describe("queued messages", () => {
  it("survive a crash: in flight on a queue we consume come back at once, elsewhere after their timeout", async () => {
    const dir = join(root, "queue-test");
    const crashed = await startS3SqsEmulator({ persistence: persistence(dir) });
    stopped.push(crashed);
    crashed.restoreQueues(new Set());
    const { sqs } = clientsFor(crashed.endpoint);
    const url = (name: string) =>
      sqs.send(new CreateQueueCommand({ QueueName: name })).then((r) => r.QueueUrl as string);
    const work = await url("work");
    const other = await url("other");
    const send = (queueUrl: string, body: string) =>
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body })).then((r) => r.MessageId);
    const waiting = await send(work, "waiting");
    const inFlight = await send(work, "in flight");
    const done = await send(work, "done");
    const hidden = await send(other, "hidden");
    // Receive all three of `work`: one stays in flight, one is deleted, one is let go again.
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: work, MaxNumberOfMessages: 3, VisibilityTimeout: 600 }),
    );
    const handle = (id: string | undefined) =>
      received.Messages?.find((m) => m.MessageId === id)?.ReceiptHandle;
    await sqs.send(new DeleteMessageCommand({ QueueUrl: work, ReceiptHandle: handle(done) }));
    const { ChangeMessageVisibilityCommand } = await import("@aws-sdk/client-sqs");
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: work,
        ReceiptHandle: handle(waiting),
        VisibilityTimeout: 0,
      }),
    );
    await sqs.send(new ReceiveMessageCommand({ QueueUrl: other, VisibilityTimeout: 600 }));

    const { clients, report } = await restartAfterCrash(["work", "other"], ["work"], dir);
    expect(report?.visible.work).toBe(2);
    expect(report?.hidden.other).toBe(1);
    const workUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: "work" }))).QueueUrl;
    const again = await clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: workUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["All"],
      }),
    );
    const byId = new Map((again.Messages ?? []).map((m) => [m.MessageId, m]));
    expect([...byId.keys()].sort()).toEqual([waiting, inFlight].sort());
    expect(byId.get(inFlight)?.Body).toBe("in flight");
    // Each was received once before the crash: this is their second delivery.
    expect(byId.get(inFlight)?.Attributes?.ApproximateReceiveCount).toBe("2");
    expect(byId.get(waiting)?.Attributes?.ApproximateReceiveCount).toBe("2");

    const otherUrl = (await clients.sqs.send(new CreateQueueCommand({ QueueName: "other" }))).QueueUrl;
    const counts = await clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: otherUrl, AttributeNames: ["All"] }),
    );
    expect(counts.Attributes?.ApproximateNumberOfMessages).toBe("0");
    expect(counts.Attributes?.ApproximateNumberOfMessagesNotVisible).toBe("1");
    expect(hidden).toBeDefined();
  });
});

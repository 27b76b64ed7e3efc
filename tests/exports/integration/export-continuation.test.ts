import { createHash, randomBytes } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchWriteCommand, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSRecord } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { candidateItem } from "../../../lib/common/adapters/candidate-table.ts";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { S3Bodies } from "../../../lib/common/adapters/s3-objects.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { ExportCheckpointTable } from "../../../lib/exports/adapters/export-checkpoints.ts";
import { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { S3ExportObjects } from "../../../lib/exports/adapters/export-objects.ts";
import { S3ExportParts } from "../../../lib/exports/adapters/export-parts.ts";
import { SqsExportQueue } from "../../../lib/exports/adapters/export-queue.ts";
import type { EvalItem } from "../../../lib/exports/domain/decontamination.ts";
import { newExportJob } from "../../../lib/exports/domain/export-job.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import type { ExportBuildDeps } from "../../../lib/exports/usecases/exports.ts";
import { MIN_PART_BYTES } from "../../../lib/exports/usecases/resumable-file.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";

/**
 * An export forced to stop after every batch (its invocation's deadline always past) goes on
 * through its own queue, one invocation per batch, and writes the files of an export that ran in
 * one go, byte for byte; a redelivered message changes nothing.
 */
const RUN = "2026-06-01-000000-continuation";
const COUNT = 1_300;
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;

/** A seeded generator (mulberry32): the same words every run. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const VOCABULARY = Array.from({ length: 3_000 }, (_, i) => `w${i.toString(36)}x${(i * 7919) % 97}`);
const words = (next: () => number, count: number) =>
  Array.from({ length: count }, () => VOCABULARY[Math.floor(next() * VOCABULARY.length)]).join(" ");

/** Eval items; some candidates quote one whole. */
const EVAL_ITEMS: EvalItem[] = Array.from({ length: 4 }, (_, i) => ({
  set: "gsm-held-out",
  item: `item-${i}`,
  text: words(random(900 + i), 30),
}));

/**
 * About 8 KB each, so the dataset spans several 5 MiB parts: every 50th repeats the one before
 * (an exact duplicate), every 37th changes one word of it (a near-duplicate), every 41st quotes
 * an eval item.
 */
function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 1) + i * 1_000).toISOString();
  const base = i % 50 === 0 || i % 37 === 0 ? i - 1 : i;
  const next = random(base + 1);
  let prompt = `Problem ${base}: ${words(next, 1_100)}`;
  const correction = `Answer ${base}: ${words(next, 60)}`;
  if (i % 37 === 0 && i % 50 !== 0) prompt = prompt.replace(/ \S+$/, " changed");
  if (i % 41 === 0) prompt = `${prompt} ${EVAL_ITEMS[i % EVAL_ITEMS.length]?.text}`;
  return {
    id: `${RUN}-${String(i).padStart(6, "0")}`,
    source: "cf-orch-benchmark",
    timestamp: at,
    status: "approved",
    prompt_messages: [
      { role: "system", content: "Solve it." },
      { role: "user", content: prompt },
    ],
    model_response: `Wrong ${i}: ${words(random(5_000 + i), 20)}`,
    corrected_response: correction,
    failure_category: "wrong_answer",
    task_type: "math",
    model_name: "model-x",
    version: 2,
    provenance: {
      source: "benchmark",
      channel: "s3-upload",
      model: "model-x",
      captured_at: at,
      source_run_id: RUN,
      key: `runs/${RUN}/sft_candidates.jsonl`,
      line: i + 1,
      approved: true,
      approved_by: "reviewer@example.com",
      approved_at: at,
    } as Candidate["provenance"],
  };
}

async function seed(): Promise<void> {
  for (let from = 0; from < COUNT; from += 25) {
    let requests = Array.from({ length: Math.min(25, COUNT - from) }, (_, k) => ({
      PutRequest: { Item: candidateItem(candidate(from + k)) },
    }));
    while (requests.length > 0) {
      const result = await aws.clients.dynamodb.send(
        new BatchWriteCommand({ RequestItems: { [aws.resources.tableName]: requests } }),
      );
      requests = (result.UnprocessedItems?.[aws.resources.tableName] as typeof requests | undefined) ?? [];
    }
  }
}

beforeAll(async () => {
  aws = await provisionTestAws("xcont");
  const { dynamodb, s3, sqs } = aws.clients;
  const { tableName, bucket } = aws.resources;
  jobs = new ExportJobTable(dynamodb, tableName);
  deps = {
    jobs,
    candidates: new QueueTable(dynamodb, tableName, new CandidateViews(new S3Bodies(s3, bucket))),
    objects: new S3ExportObjects(s3, bucket),
    codeVersion: "0.0.0+test",
    evalSets: {
      async *items() {
        yield EVAL_ITEMS;
      },
    },
    continuation: {
      queue: new SqsExportQueue(sqs, aws.resources.queues.exports.url),
      checkpoints: new ExportCheckpointTable(dynamodb, tableName),
      parts: new S3ExportParts(s3, bucket),
      // S3's smallest part: the dataset spans several, with tails carried across invocations.
      partBytes: MIN_PART_BYTES,
    },
  };
  await seed();
}, 240_000);

const handler = () => createExportRecordHandler(deps, { maxReceiveCount: 3 });
/** Its deadline already past (60 s left, 90 s kept back): every invocation stops after one batch. */
const shortContext = () => lambdaContext("export");

function record(body: string, messageId = "m", receives = 1): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body,
    attributes: {
      ApproximateReceiveCount: String(receives),
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:exports",
    awsRegion: "us-east-1",
  };
}

async function createJob(id: string, request: unknown) {
  const job = newExportJob({
    id,
    request: ExportRequest.parse(request),
    origin: "api",
    requestedBy: "tester",
    at: new Date(),
  });
  expect(await jobs.create(job)).toBe("created");
  return job;
}

/** The messages waiting on the exports queue (each received once, then deleted). */
async function receiveAll(): Promise<Message[]> {
  const { sqs } = aws.clients;
  const url = aws.resources.queues.exports.url;
  const got: Message[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) empty += 1;
    for (const message of Messages) {
      got.push(message);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return got;
}

/** Runs the export from its first message through every continuation it sends itself. */
async function runForced(id: string): Promise<number> {
  const handle = handler();
  let invocations = 0;
  let pending = [JSON.stringify({ export_id: id })];
  while (pending.length > 0) {
    for (const body of pending) {
      await handle(record(body, `m-${invocations}`), shortContext());
      invocations += 1;
    }
    pending = (await receiveAll()).map((message) => message.Body as string);
    expect(pending.length).toBeLessThanOrEqual(1);
  }
  return invocations;
}

async function body(key: string): Promise<Buffer> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The sha256 of every file the manifest lists, read back from the bucket, by file. */
async function fileHashes(manifest: ExportManifest): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const [name, file] of Object.entries(manifest.files)) {
    if (!file || !("sha256" in file)) continue;
    const bytes = await body(file.key);
    expect(sha256(bytes)).toBe(file.sha256);
    hashes[name] = file.sha256;
  }
  return hashes;
}

async function succeeded(id: string): Promise<ExportManifest> {
  const job = await jobs.get(id);
  expect(job?.status, job?.error ?? "").toBe("succeeded");
  return job?.manifest as ExportManifest;
}

async function checkpointObjects(id: string): Promise<string[]> {
  const { Contents = [] } = await aws.clients.s3.send(
    new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: `exports/${id}/checkpoints/` }),
  );
  return Contents.map((object) => object.Key as string);
}

const VARIANTS = [
  { name: "openai-sft", request: { format: "openai-sft" } },
  { name: "trl-kto (its KTO blocks carried across invocations)", request: { format: "trl-kto" } },
  {
    name: "openai-sft with decontamination, near-duplicates and a validation split",
    request: {
      format: "openai-sft",
      options: { near_duplicate_threshold: 0.8, validation_fraction: 0.1 },
    },
  },
] as const;

describe("an export forced through many invocations", () => {
  VARIANTS.forEach(({ name, request }, v) => {
    it(`${name}: the same sha256 for every file as the export that ran in one go`, async () => {
      const whole = await createJob(`whole-${v}`, { ...request, filters: { run_id: RUN } });
      await handler()(record(JSON.stringify({ export_id: whole.id })));
      const reference = await succeeded(whole.id);
      expect(reference.counts.considered).toBe(COUNT);

      const forced = await createJob(`forced-${v}`, { ...request, filters: { run_id: RUN } });
      const invocations = await runForced(forced.id);
      const manifest = await succeeded(forced.id);

      // One invocation per batch of 100, and one that finds nothing left.
      expect(invocations).toBeGreaterThanOrEqual(Math.ceil(COUNT / 100));
      expect(manifest.counts).toEqual(reference.counts);
      expect(manifest.warnings).toEqual(reference.warnings);
      expect(await fileHashes(manifest)).toEqual(await fileHashes(reference));
      // Several parts, so tails and part lists went through checkpoints.
      expect(manifest.files.dataset.bytes).toBeGreaterThan(MIN_PART_BYTES);
      expect(manifest.started_at).toBe((await jobs.get(forced.id))?.started_at);
      expect(await checkpointObjects(forced.id)).toEqual([]);
      if (v === 2) {
        expect(manifest.counts.by_reason.duplicate_content).toBeGreaterThan(0);
        expect(manifest.counts.by_reason.near_duplicate).toBeGreaterThan(0);
        expect(manifest.counts.by_reason.eval_contamination).toBeGreaterThan(0);
        expect(manifest.files.validation?.lines).toBeGreaterThan(0);
      }
    }, 240_000);
  });

  it("changes nothing on a redelivered message of an invocation that checkpointed", async () => {
    const request = { format: "openai-sft", filters: { run_id: RUN } };
    const job = await createJob("redelivered", request);
    const handle = handler();
    const first = JSON.stringify({ export_id: job.id });
    await handle(record(first, "first"), shortContext());
    const [second] = await receiveAll();
    expect(JSON.parse(second?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    await handle(record(second?.Body as string, "second"), shortContext());
    const [third] = await receiveAll();
    expect(JSON.parse(third?.Body as string)).toEqual({ export_id: job.id, continue_from: 2 });

    const stored = async () =>
      (
        await aws.clients.dynamodb.send(
          new GetCommand({
            TableName: aws.resources.tableName,
            Key: keys.exportJob(job.id),
            ConsistentRead: true,
          }),
        )
      ).Item;
    const before = await stored();
    const objects = await checkpointObjects(job.id);
    expect(objects).toHaveLength(1);
    // The first message again, and the second: both superseded by checkpoint 2.
    await handle(record(first, "first", 2), shortContext());
    await handle(record(second?.Body as string, "second", 2), shortContext());
    expect(await stored()).toEqual(before);
    expect(await checkpointObjects(job.id)).toEqual(objects);
    expect(await receiveAll()).toEqual([]);

    // The export goes on from the third message to the end, unharmed.
    let pending = [third?.Body as string];
    while (pending.length > 0) {
      for (const body of pending) await handle(record(body, "next"), shortContext());
      pending = (await receiveAll()).map((message) => message.Body as string);
    }
    const manifest = await succeeded(job.id);
    const whole = await createJob("redelivered-whole", request);
    await handle(record(JSON.stringify({ export_id: whole.id })));
    expect(await fileHashes(manifest)).toEqual(await fileHashes(await succeeded(whole.id)));
    // A redelivery once it succeeded changes nothing either.
    const done = await stored();
    await handle(record(third?.Body as string, "late", 3), shortContext());
    expect(await stored()).toEqual(done);
  }, 240_000);

  it("sends the continuation again when the invocation that saved the checkpoint could not", async () => {
    const request = { format: "openai-sft", filters: { run_id: RUN, limit: 250 } };
    const job = await createJob("unsent", request);
    const queue = deps.continuation?.queue as SqsExportQueue;
    const failing = { send: () => Promise.reject(new Error("SQS is unavailable")) };
    const broken = createExportRecordHandler(
      {
        ...deps,
        continuation: {
          ...(deps.continuation as NonNullable<ExportBuildDeps["continuation"]>),
          queue: failing,
        },
      },
      { maxReceiveCount: 3 },
    );
    const first = JSON.stringify({ export_id: job.id });
    await expect(broken(record(first, "first"), shortContext())).rejects.toThrow("SQS is unavailable");
    const pointer = await new ExportCheckpointTable(aws.clients.dynamodb, aws.resources.tableName).read(
      job.id,
    );
    expect(pointer).toMatchObject({ seq: 1, handed_on: false });
    expect(await receiveAll()).toEqual([]);

    // Redelivered, the first message only sends what was not sent.
    await handler()(record(first, "first", 2), shortContext());
    const [resent] = await receiveAll();
    expect(JSON.parse(resent?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    expect(queue).toBeDefined();
    let pending = [resent?.Body as string];
    while (pending.length > 0) {
      for (const body of pending) await handler()(record(body, "next"), shortContext());
      pending = (await receiveAll()).map((message) => message.Body as string);
    }
    expect((await succeeded(job.id)).counts.exported).toBe(250);
  }, 240_000);
});

describe("a checkpoint's state object", () => {
  it("is kept whole when larger than the bucket takes in one request (the emulator: 11 MiB)", async () => {
    const parts = new S3ExportParts(aws.clients.s3, aws.resources.bucket);
    // Fingerprint tables of a few million records, in the chunks the checkpoint hands over.
    const chunks = [randomBytes(9 * 1024 * 1024), randomBytes(7 * 1024 * 1024), randomBytes(12)];
    const key = "exports/state-size/checkpoints/1.bin";
    await parts.putBytes(key, chunks, "application/octet-stream");
    expect(Buffer.from(await parts.getBytes(key)).equals(Buffer.concat(chunks))).toBe(true);
  });
});

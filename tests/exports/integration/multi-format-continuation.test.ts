import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSRecord } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { candidateItem } from "../../../lib/common/adapters/candidate-table.ts";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { S3Bodies } from "../../../lib/common/adapters/s3-objects.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { S3EvalSetStore } from "../../../lib/exports/adapters/evalset-store.ts";
import { ExportCheckpointTable } from "../../../lib/exports/adapters/export-checkpoints.ts";
import { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { S3ExportObjects } from "../../../lib/exports/adapters/export-objects.ts";
import { S3ExportParts } from "../../../lib/exports/adapters/export-parts.ts";
import { SqsExportQueue } from "../../../lib/exports/adapters/export-queue.ts";
import { newExportJob } from "../../../lib/exports/domain/export-job.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import { storedEvalIndexes } from "../../../lib/exports/usecases/evalsets.ts";
import { loadResume } from "../../../lib/exports/usecases/export-checkpoint.ts";
import type { ExportBuildDeps } from "../../../lib/exports/usecases/exports.ts";
import { MIN_PART_BYTES } from "../../../lib/exports/usecases/resumable-file.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";

/**
 * A job of several formats forced to stop after every batch goes on through its own queue, every
 * format checkpointed, and writes the files of the job that ran in one go, byte for byte; the eval
 * set versions it started against are the ones its later invocations check, whatever happens to
 * the sets meanwhile — and a pinned version that is gone fails the job at once, saying why.
 */
const RUN = "2026-06-02-000000-multi-format";
const COUNT = 760;
const SET = "held-out";
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;
let store: S3EvalSetStore;
let pointers: ExportCheckpointTable;
let parts: S3ExportParts;

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

/** The eval items some candidates quote (the set's first version). */
const QUOTED = Array.from({ length: 4 }, (_, i) => words(random(900 + i), 30));
const jsonl = (texts: readonly string[]) =>
  texts
    .map((text, i) => JSON.stringify({ id: `item-${i}`, question: text }))
    .join("\n")
    .concat("\n");
const FIRST_VERSION = jsonl(QUOTED);
/** The set replaced: items no candidate quotes. */
const SECOND_VERSION = jsonl(Array.from({ length: 4 }, (_, i) => words(random(7_000 + i), 30)));

/**
 * About 8 KB each, so every format's dataset spans several 5 MiB parts: every 50th repeats the one
 * before (an exact duplicate), every 37th changes one word of it (a near-duplicate), every 41st
 * quotes an eval item.
 */
function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 2) + i * 1_000).toISOString();
  const base = i % 50 === 0 || i % 37 === 0 ? i - 1 : i;
  const next = random(base + 1);
  let prompt = `Problem ${base}: ${words(next, 1_100)}`;
  const correction = `Answer ${base}: ${words(next, 60)}`;
  if (i % 37 === 0 && i % 50 !== 0) prompt = prompt.replace(/ \S+$/, " changed");
  if (i % 41 === 0) prompt = `${prompt} ${QUOTED[i % QUOTED.length]}`;
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
  aws = await provisionTestAws("xmulti");
  const { dynamodb, s3, sqs } = aws.clients;
  const { tableName, bucket } = aws.resources;
  jobs = new ExportJobTable(dynamodb, tableName);
  store = new S3EvalSetStore(s3, bucket);
  pointers = new ExportCheckpointTable(dynamodb, tableName);
  parts = new S3ExportParts(s3, bucket);
  deps = {
    jobs,
    candidates: new QueueTable(dynamodb, tableName, new CandidateViews(new S3Bodies(s3, bucket))),
    objects: new S3ExportObjects(s3, bucket),
    codeVersion: "0.0.0+test",
    // The export function's own: every registered set's stored index, from the bucket.
    evalIndexes: storedEvalIndexes({ evalSets: store }),
    continuation: {
      queue: new SqsExportQueue(sqs, aws.resources.queues.exports.url),
      checkpoints: pointers,
      parts,
      // S3's smallest part: the datasets span several, with tails carried across invocations.
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

/**
 * Runs the export from its first message through every continuation it sends itself, `between`
 * after the first invocation; the format each checkpoint was of (0: the job's `format`).
 */
async function runForced(id: string, between?: () => Promise<void>) {
  const handle = handler();
  let invocations = 0;
  const formatOfCheckpoint: number[] = [];
  let pending = [JSON.stringify({ export_id: id })];
  while (pending.length > 0) {
    for (const body of pending) {
      await handle(record(body, `m-${invocations}`), shortContext());
      invocations += 1;
      const pointer = await pointers.read(id);
      const job = await jobs.get(id);
      if (pointer && job?.status === "running") {
        formatOfCheckpoint.push((await loadResume(parts, pointer)).header.formats?.index ?? 0);
      }
      if (invocations === 1) await between?.();
    }
    pending = (await receiveAll()).map((message) => message.Body as string);
    expect(pending.length).toBeLessThanOrEqual(1);
  }
  return { invocations, formatOfCheckpoint };
}

async function body(key: string): Promise<Buffer> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** The sha256 of every file of `files`, read back from the bucket (and checked against the receipt). */
async function fileHashes(files: ExportManifest["files"]): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const [name, file] of Object.entries(files)) {
    if (!file || !("sha256" in file)) continue;
    const bytes = await body(file.key);
    expect(sha256(bytes)).toBe(file.sha256);
    hashes[name] = file.sha256;
  }
  return hashes;
}

/** Every document and sidecar under a prefix, by name relative to it, with its sha256. */
async function documentHashes(prefix: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key as string;
      hashes[key.slice(prefix.length)] = sha256(await body(key));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return hashes;
}

async function succeeded(id: string): Promise<ExportManifest> {
  const job = await jobs.get(id);
  expect(job?.status, job?.error ?? "").toBe("succeeded");
  return job?.manifest as ExportManifest;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const { Contents = [] } = await aws.clients.s3.send(
    new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: prefix }),
  );
  return Contents.map((object) => object.Key as string);
}

const BATCHES = Math.ceil(COUNT / 100);

/** A warning as two jobs over the same data share it: RAG's documents expiry by its code alone. */
const sameness = (warning: ExportManifest["warnings"][number]) =>
  warning.code === "documents_expire" ? { code: warning.code } : warning;

describe("a job of several formats forced through many invocations", () => {
  it("checkpoints every format and writes every file of the job that ran in one go, byte for byte", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const request = {
      format: "openai-sft",
      formats: ["trl-kto", "rag"],
      filters: { run_id: RUN },
      options: { near_duplicate_threshold: 0.8 },
    };
    const whole = await createJob("multi-whole", request);
    await handler()(record(JSON.stringify({ export_id: whole.id })));
    const reference = await succeeded(whole.id);
    expect(reference.formats?.map((part) => part.format)).toEqual(["openai-sft", "trl-kto", "rag"]);

    const forced = await createJob("multi-forced", request);
    const { invocations, formatOfCheckpoint } = await runForced(forced.id);
    const manifest = await succeeded(forced.id);

    // Each format read in batches of 100, one invocation each: none written in one go.
    expect(invocations).toBeGreaterThanOrEqual(3 * BATCHES);
    for (const index of [0, 1, 2]) {
      expect(formatOfCheckpoint.filter((at) => at === index).length).toBeGreaterThanOrEqual(BATCHES - 1);
    }
    expect(formatOfCheckpoint).toEqual([...formatOfCheckpoint].sort((a, b) => a - b));

    expect(manifest.counts).toEqual(reference.counts);
    expect(manifest.warnings).toEqual(reference.warnings);
    expect(manifest.decontamination).toEqual(reference.decontamination);
    expect(await fileHashes(manifest.files)).toEqual(await fileHashes(reference.files));
    expect(manifest.formats?.length).toBe(3);
    for (const [i, part] of (manifest.formats ?? []).entries()) {
      const same = reference.formats?.[i];
      expect(part.format).toBe(same?.format);
      expect(part.counts).toEqual(same?.counts);
      // The documents' expiry names the job and the time they were written; the rest is the same.
      expect(part.warnings.map(sameness)).toEqual(same?.warnings.map(sameness));
      expect(await fileHashes(part.files)).toEqual(await fileHashes(same?.files as ExportManifest["files"]));
      // Several parts, so each format's tails and part lists went through checkpoints.
      expect(part.files.dataset.bytes).toBeGreaterThan(MIN_PART_BYTES);
      expect(part.counts.by_reason.eval_contamination).toBeGreaterThan(0);
      expect(part.counts.by_reason.near_duplicate).toBeGreaterThan(0);
    }
    const [, kto, rag] = manifest.formats ?? [];
    expect(kto?.files.dataset.key).toBe(`exports/${forced.id}/formats/trl-kto/dataset.jsonl`);
    expect(rag?.files.documents?.count).toBe(reference.formats?.[2]?.files.documents?.count);
    expect(await documentHashes(`exports/${forced.id}/formats/rag/documents/`)).toEqual(
      await documentHashes(`exports/${whole.id}/formats/rag/documents/`),
    );
    // The one manifest in the bucket is the job's, and no checkpoint is left.
    expect(JSON.parse((await body(`exports/${forced.id}/manifest.json`)).toString())).toEqual(manifest);
    expect(await keysUnder(`exports/${forced.id}/checkpoints/`)).toEqual([]);
  }, 480_000);
});

describe("the eval set versions an export checks against", () => {
  const request = { format: "openai-sft", filters: { run_id: RUN } };

  it("stay those of its first invocation when a set is replaced while it goes on", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const [first] = await store.list(SET);
    const whole = await createJob("pinned-whole", request);
    await handler()(record(JSON.stringify({ export_id: whole.id })));
    const reference = await succeeded(whole.id);
    expect(reference.decontamination?.sets).toEqual([{ name: SET, version: first?.version, items: 4 }]);
    expect(reference.counts.by_reason.eval_contamination).toBeGreaterThan(1);

    const forced = await createJob("pinned-forced", request);
    let replaced: string | undefined;
    await runForced(forced.id, async () => {
      // Between the first invocation and the rest, the set becomes items nobody quotes.
      await store.putItems(SET, SECOND_VERSION);
      replaced = (await store.list(SET))[0]?.version;
    });
    expect(replaced).toBeDefined();
    expect(replaced).not.toBe(first?.version);
    const manifest = await succeeded(forced.id);
    expect(manifest.decontamination).toEqual(reference.decontamination);
    expect(manifest.counts).toEqual(reference.counts);
    expect(await fileHashes(manifest.files)).toEqual(await fileHashes(reference.files));

    // An export started now checks the set as it is.
    const after = await createJob("pinned-after", request);
    await handler()(record(JSON.stringify({ export_id: after.id })));
    const now = await succeeded(after.id);
    expect(now.decontamination?.sets).toEqual([{ name: SET, version: replaced, items: 4 }]);
    expect(now.counts.by_reason.eval_contamination ?? 0).toBe(0);
  }, 480_000);

  it("fail the job at once, saying which, when a pinned version is gone", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const [first] = await store.list(SET);
    const job = await createJob("pinned-gone", request);
    const handle = handler();
    await handle(record(JSON.stringify({ export_id: job.id }), "first"), shortContext());
    const [next] = await receiveAll();
    expect(JSON.parse(next?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    expect(await keysUnder(`exports/${job.id}/checkpoints/`)).toHaveLength(1);

    // The set removed (its indexes with it): the version the first batch was checked against is gone.
    expect(await store.remove(SET)).toBe(1);
    // Handled without a throw: the message is done, not retried.
    await handle(record(next?.Body as string, "second"), shortContext());
    const failed = await jobs.get(job.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toContain(`eval set ${SET} version ${first?.version}`);
    expect(failed?.error).toContain("is gone");
    expect(await receiveAll()).toEqual([]);
    expect(await keysUnder(`exports/${job.id}/checkpoints/`)).toEqual([]);
  }, 240_000);
});

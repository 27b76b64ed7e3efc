import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchWriteCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { SQSRecord } from "aws-lambda";
import { expect } from "vitest";
import { candidateItem } from "../../lib/common/adapters/candidate-table.ts";
import { CandidateViews } from "../../lib/common/adapters/candidate-view.ts";
import { S3Bodies } from "../../lib/common/adapters/s3-objects.ts";
import type { Candidate } from "../../lib/common/domain/candidate.ts";
import { ExportCheckpointTable } from "../../lib/exports/adapters/export-checkpoints.ts";
import { ExportJobTable } from "../../lib/exports/adapters/export-job-table.ts";
import { S3ExportObjects } from "../../lib/exports/adapters/export-objects.ts";
import { S3ExportParts } from "../../lib/exports/adapters/export-parts.ts";
import { SqsExportQueue } from "../../lib/exports/adapters/export-queue.ts";
import { newExportJob } from "../../lib/exports/domain/export-job.ts";
import type { ExportManifest } from "../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../lib/exports/domain/export-request.ts";
import type { createExportRecordHandler } from "../../lib/exports/edge/export-records.ts";
import type { ExportContinuationDeps } from "../../lib/exports/usecases/export-checkpoint.ts";
import type { ExportBuildDeps } from "../../lib/exports/usecases/exports.ts";
import { MIN_PART_BYTES } from "../../lib/exports/usecases/resumable-file.ts";
import { QueueTable } from "../../lib/review/adapters/queue-table.ts";
import type { TestAws } from "./aws.ts";
import { lambdaContext, sqsRecord } from "./events.ts";

/**
 * What the tests of an export continued across invocations share, against the emulators: the
 * candidates written straight to the table, the export function's dependencies with its own
 * queue, its messages, and the files it wrote read back by sha256.
 */

/**
 * An approved candidate of a benchmark run, the `i`-th line of its upload, timestamped `at`:
 * `fields` (its id, messages and answers at least) over a benchmark's defaults, and the
 * provenance an import and an approval give it.
 */
export function approvedCandidate(
  run: string,
  i: number,
  at: string,
  fields: Pick<Candidate, "id" | "prompt_messages" | "model_response" | "corrected_response"> &
    Partial<Candidate>,
): Candidate {
  const model = fields.model_name ?? "model-x";
  return {
    source: "cf-orch-benchmark",
    timestamp: at,
    status: "approved",
    failure_category: "wrong_answer",
    task_type: "math",
    model_name: model,
    version: 2,
    provenance: {
      source: "benchmark",
      channel: "s3-upload",
      model,
      captured_at: at,
      source_run_id: run,
      key: `runs/${run}/sft_candidates.jsonl`,
      line: i + 1,
      approved: true,
      approved_by: "reviewer@example.com",
      approved_at: at,
    } as Candidate["provenance"],
    ...fields,
  };
}

/** Writes candidates 0 to `count` − 1 to the table, 25 a request, `parallel` requests at a time. */
export async function putCandidates(
  db: DynamoDBDocumentClient,
  tableName: string,
  count: number,
  candidate: (i: number) => Candidate,
  parallel = 1,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + 25);
      let requests = Array.from({ length: next - from }, (_, k) => ({
        PutRequest: { Item: candidateItem(candidate(from + k)) },
      }));
      while (requests.length > 0) {
        const result = await db.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
        requests = (result.UnprocessedItems?.[tableName] as typeof requests | undefined) ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/**
 * The export function's dependencies on the test's table, bucket and exports queue, continuing
 * in parts of S3's smallest size (so a dataset of a few MB spans several, with tails carried
 * across invocations); `extra` adds to them (eval sets, say).
 */
export function continuedExportDeps(
  aws: TestAws,
  extra: Partial<ExportBuildDeps> = {},
): { deps: ExportBuildDeps; jobs: ExportJobTable; continuation: ExportContinuationDeps } {
  const { dynamodb, s3, sqs } = aws.clients;
  const { tableName, bucket } = aws.resources;
  const jobs = new ExportJobTable(dynamodb, tableName);
  const continuation: ExportContinuationDeps = {
    queue: new SqsExportQueue(sqs, aws.resources.queues.exports.url),
    checkpoints: new ExportCheckpointTable(dynamodb, tableName),
    parts: new S3ExportParts(s3, bucket),
    partBytes: MIN_PART_BYTES,
  };
  const deps: ExportBuildDeps = {
    jobs,
    candidates: new QueueTable(dynamodb, tableName, new CandidateViews(new S3Bodies(s3, bucket))),
    objects: new S3ExportObjects(s3, bucket),
    codeVersion: "0.0.0+test",
    continuation,
    ...extra,
  };
  return { deps, jobs, continuation };
}

/** One message to the export function, delivered for the `receives`-th time. */
export function exportRecord(body: string, messageId = "m", receives = 1): SQSRecord {
  return sqsRecord(body, {
    messageId,
    receiptHandle: messageId,
    attributes: {
      ApproximateReceiveCount: String(receives),
      SentTimestamp: String(Date.now()),
      SenderId: "test",
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:exports",
  });
}

/** Stores a new export job of `request` (as the API would have it) under `id`. */
export async function createExportJob(jobs: ExportJobTable, id: string, request: unknown) {
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
export async function receiveExportMessages(aws: TestAws): Promise<Message[]> {
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
 * Runs an export from its first message through every continuation it sends itself, each
 * invocation's deadline already past (60 s left, 90 s kept back) so it stops after one batch;
 * answers how many invocations it took. One continuation at a time is ever waiting.
 * `afterInvocation`, if given, runs after each invocation with how many there have been so far.
 */
export async function runThroughContinuations(
  aws: TestAws,
  handle: ReturnType<typeof createExportRecordHandler>,
  exportId: string,
  afterInvocation?: (invocations: number) => Promise<void>,
): Promise<number> {
  let invocations = 0;
  let pending = [JSON.stringify({ export_id: exportId })];
  while (pending.length > 0) {
    for (const body of pending) {
      await handle(exportRecord(body, `m-${invocations}`), lambdaContext("export"));
      invocations += 1;
      await afterInvocation?.(invocations);
    }
    pending = (await receiveExportMessages(aws)).map((message) => message.Body as string);
    expect(pending.length).toBeLessThanOrEqual(1);
  }
  return invocations;
}

/** An object's bytes. */
export async function objectBytes(aws: TestAws, key: string): Promise<Buffer> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return Buffer.from(
    await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
  );
}

/**
 * The sha256 of every file the manifest lists, read back from the bucket and checked against it, by
 * file; `manifest` may be one format's part of a manifest too.
 */
export async function manifestFileHashes(
  aws: TestAws,
  manifest: Pick<ExportManifest, "files">,
): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  for (const [name, file] of Object.entries(manifest.files)) {
    if (!file || !("sha256" in file)) continue;
    const sha256 = createHash("sha256")
      .update(await objectBytes(aws, file.key))
      .digest("hex");
    expect(sha256, name).toBe(file.sha256);
    hashes[name] = sha256;
  }
  return hashes;
}

/** The keys of an export's checkpoint state objects still in the bucket. */
export async function checkpointObjects(aws: TestAws, exportId: string): Promise<string[]> {
  const { Contents = [] } = await aws.clients.s3.send(
    new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: `exports/${exportId}/checkpoints/` }),
  );
  return Contents.map((object) => object.Key as string);
}

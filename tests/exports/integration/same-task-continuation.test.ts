import { createHash } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSRecord } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { candidateItem } from "../../../lib/common/adapters/candidate-table.ts";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { S3Bodies } from "../../../lib/common/adapters/s3-objects.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { ExportCheckpointTable } from "../../../lib/exports/adapters/export-checkpoints.ts";
import { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { S3ExportObjects } from "../../../lib/exports/adapters/export-objects.ts";
import { S3ExportParts } from "../../../lib/exports/adapters/export-parts.ts";
import { SqsExportQueue } from "../../../lib/exports/adapters/export-queue.ts";
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
 * Same-task pairing across invocations: candidates of 40 tasks interleaved in the read, so every
 * task's group is still waiting when an invocation stops after its batch. The waiting groups and
 * the per-task counts go into the checkpoint, and the export forced through several invocations
 * writes the files of the one that ran in one go, byte for byte.
 */
const RUN = "2026-06-02-000000-same-task";
const COUNT = 320;
const TASKS = 40;
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;

function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 2) + i * 1_000).toISOString();
  const task = i % TASKS;
  return {
    id: `${RUN}-${String(i).padStart(5, "0")}`,
    source: "cf-orch-benchmark",
    timestamp: at,
    status: "approved",
    prompt_messages: [
      { role: "system", content: "Solve it." },
      { role: "user", content: `Task ${task}: what is ${task} times 3?` },
    ],
    model_response: i % 9 === 0 ? `${task * 3}` : `Wrong answer ${i}`,
    corrected_response: i % 9 === 0 ? `${task * 3}` : `Answer ${i}: ${task * 3}`,
    failure_category: i % 5 === 0 ? "partial_answer" : "wrong_answer",
    task_id: `task-${task}`,
    task_type: "math",
    model_name: `model-${i % 7}`,
    version: 2,
    provenance: {
      source: "benchmark",
      channel: "s3-upload",
      model: `model-${i % 7}`,
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

beforeAll(async () => {
  aws = await provisionTestAws("xpairs");
  const { dynamodb, s3, sqs } = aws.clients;
  const { tableName, bucket } = aws.resources;
  jobs = new ExportJobTable(dynamodb, tableName);
  deps = {
    jobs,
    candidates: new QueueTable(dynamodb, tableName, new CandidateViews(new S3Bodies(s3, bucket))),
    objects: new S3ExportObjects(s3, bucket),
    codeVersion: "0.0.0+test",
    continuation: {
      queue: new SqsExportQueue(sqs, aws.resources.queues.exports.url),
      checkpoints: new ExportCheckpointTable(dynamodb, tableName),
      parts: new S3ExportParts(s3, bucket),
      partBytes: MIN_PART_BYTES,
    },
  };
  for (let from = 0; from < COUNT; from += 25) {
    let requests = Array.from({ length: Math.min(25, COUNT - from) }, (_, k) => ({
      PutRequest: { Item: candidateItem(candidate(from + k)) },
    }));
    while (requests.length > 0) {
      const result = await dynamodb.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (result.UnprocessedItems?.[tableName] as typeof requests | undefined) ?? [];
    }
  }
}, 240_000);

function record(body: string, messageId: string): SQSRecord {
  return {
    messageId,
    receiptHandle: messageId,
    body,
    attributes: {
      ApproximateReceiveCount: "1",
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

async function createJob(id: string) {
  const job = newExportJob({
    id,
    request: ExportRequest.parse({
      format: "trl-dpo",
      filters: { run_id: RUN },
      options: { pairing: "same_task", validation_fraction: 0.2 },
    }),
    origin: "api",
    requestedBy: "tester",
    at: new Date(),
  });
  expect(await jobs.create(job)).toBe("created");
  return job;
}

async function nextMessages(): Promise<string[]> {
  const { sqs } = aws.clients;
  const url = aws.resources.queues.exports.url;
  const got: string[] = [];
  for (let empty = 0; empty < 2; ) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) empty += 1;
    for (const message of Messages) {
      got.push(message.Body as string);
      await sqs.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
  return got;
}

async function hashes(manifest: ExportManifest): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  for (const [name, file] of Object.entries(manifest.files)) {
    if (!file || !("sha256" in file)) continue;
    const object = await aws.clients.s3.send(
      new GetObjectCommand({ Bucket: aws.resources.bucket, Key: file.key }),
    );
    const bytes = Buffer.from(
      await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(),
    );
    found[name] = createHash("sha256").update(bytes).digest("hex");
    expect(found[name]).toBe(file.sha256);
  }
  return found;
}

describe("same-task pairs across invocations", () => {
  it("write the files of the export that ran in one go, byte for byte", async () => {
    const handle = createExportRecordHandler(deps, { maxReceiveCount: 3 });
    const whole = await createJob("pairs-whole");
    await handle(record(JSON.stringify({ export_id: whole.id }), "whole"));
    const reference = (await jobs.get(whole.id))?.manifest as ExportManifest;
    expect(reference.counts.considered).toBe(COUNT);
    // Every task made its 5 pairs (on each side of the split it has candidates on).
    expect(reference.counts.lines).toBeGreaterThanOrEqual(TASKS * 5);

    const forced = await createJob("pairs-forced");
    let pending = [JSON.stringify({ export_id: forced.id })];
    let invocations = 0;
    while (pending.length > 0) {
      for (const body of pending) {
        // 60 s left and 90 s kept back: every invocation stops after one batch.
        await handle(record(body, `forced-${invocations}`), lambdaContext("export"));
        invocations += 1;
      }
      pending = await nextMessages();
    }
    const job = await jobs.get(forced.id);
    expect(job?.status, job?.error ?? "").toBe("succeeded");
    const manifest = job?.manifest as ExportManifest;
    expect(invocations).toBeGreaterThanOrEqual(Math.ceil(COUNT / 100));
    expect(manifest.counts).toEqual(reference.counts);
    expect(await hashes(manifest)).toEqual(await hashes(reference));
  }, 240_000);
});

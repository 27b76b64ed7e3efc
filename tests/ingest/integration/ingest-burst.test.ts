import { randomUUID } from "node:crypto";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { readCounters } from "../../../lib/common/adapters/counters.ts";
import { INGEST_QUARANTINE_PREFIX, QUEUES } from "../../../lib/common/resources.ts";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import { type Poller, type SqsHandler, startPoller } from "../../../local/poller.ts";
import { candidatesWithStatus, provisionTestAws, type TestAws } from "../../support/aws.ts";

const TOTAL = 2_000;
const DUPLICATES = TOTAL / 100;
const MALFORMED = TOTAL / 100;
const DISTINCT = TOTAL - DUPLICATES - MALFORMED;
/** Concurrent consumers, as Lambda scales an SQS event source out. */
const POLLERS = 4;

let aws: TestAws;
let handler: SqsHandler;

beforeAll(async () => {
  aws = await provisionTestAws("burst");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  ({ handler } = await import("../../../functions/ingest-corrections.ts"));
});

const MALFORMED_BODIES = [
  "not json",
  '{"source":"burst","task_type":"t","prompt":"p","response":"r","correction":"  "}',
  '{"source":"burst","task_type":"t","response":"r","correction":"c"}',
  '{"source":"","task_type":"t","prompt":"p","response":"r","correction":"c"}',
  '{"source":"burst","task_type":"t","prompt":"p","response":"r","correction":"c","failure_category":"nope"}',
];

async function queueDepth(queueUrl: string): Promise<number> {
  const { Attributes } = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return (
    Number(Attributes?.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0)
  );
}

/** Approved records actually in the table, counted on the status index (not from the counters). */
async function approvedRecords(): Promise<number> {
  return (await candidatesWithStatus(aws, "approved")).length;
}

async function quarantinedObjects(): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await aws.clients.s3.send(
      new ListObjectsV2Command({
        Bucket: aws.resources.bucket,
        Prefix: INGEST_QUARANTINE_PREFIX,
        ContinuationToken: token,
      }),
    );
    count += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token);
  return count;
}

describe("a burst of corrections through the queue", () => {
  it(`stores exactly the distinct valid ones of ${TOTAL} messages (1% duplicates, 1% malformed)`, async () => {
    const run = randomUUID().slice(0, 8);
    const valid = Array.from({ length: DISTINCT }, (_, i) => ({
      source: i % 2 === 0 ? "kiwi" : "peregrine",
      task_type: i % 3 === 0 ? "recipe_suggestion" : "email_classification",
      prompt: `burst ${run} question ${i}`,
      response: "the model's answer",
      correction: `the approved answer ${i}`,
      model: "burst-model",
      idempotency_key: `burst-${run}-${i}`,
    }));
    // A duplicate is a retry: an earlier message sent again, key and body alike.
    const duplicates = Array.from({ length: DUPLICATES }, (_, i) => ({ ...valid[(i * 97) % DISTINCT] }));
    const queue = aws.resources.queues.corrections;
    const started = performance.now();

    const [reports] = await Promise.all([
      publishCorrection(aws.clients.sqs, queue.url, [...valid, ...duplicates]),
      (async () => {
        for (let i = 0; i < MALFORMED; i += 10) {
          await aws.clients.sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queue.url,
              Entries: Array.from({ length: 10 }, (_, j) => ({
                Id: String(j),
                MessageBody: MALFORMED_BODIES[(i + j) % MALFORMED_BODIES.length] as string,
              })),
            }),
          );
        }
      })(),
    ]);
    expect(reports.filter((report) => !report.ok)).toEqual([]);
    const sent = performance.now();

    const pollers: Poller[] = Array.from({ length: POLLERS }, () =>
      startPoller({
        sqs: aws.clients.sqs,
        queueUrl: queue.url,
        queueArn: queue.arn,
        region: "us-east-1",
        handler,
        functionName: "ingest-corrections",
        timeoutSeconds: QUEUES.corrections.handlerTimeoutSeconds,
        batchSize: QUEUES.corrections.batchSize,
        waitTimeSeconds: 1,
      }),
    );
    try {
      // Generous for a loaded machine; on an idle one the queue drains in 10–30 s.
      await vi.waitUntil(async () => (await queueDepth(queue.url)) === 0, {
        timeout: 150_000,
        interval: 200,
      });
    } finally {
      await Promise.all(pollers.map((poller) => poller.stop()));
    }
    const drained = performance.now();

    const counters = await readCounters(aws.clients.dynamodb, aws.resources.tableName);
    expect(await approvedRecords()).toBe(DISTINCT);
    expect(counters.total).toBe(DISTINCT);
    expect(counters["status#approved"]).toBe(DISTINCT);
    expect(counters.export_ready).toBe(DISTINCT);
    expect(await quarantinedObjects()).toBe(MALFORMED);
    expect(await queueDepth(queue.url)).toBe(0);
    expect(await queueDepth(queue.dlqUrl)).toBe(0);

    const seconds = (ms: number) => ms / 1000;
    console.info(
      `ingest burst: ${TOTAL} messages sent in ${seconds(sent - started).toFixed(2)} s ` +
        `(${(TOTAL / seconds(sent - started)).toFixed(0)} msg/s), drained by ${POLLERS} pollers in ` +
        `${seconds(drained - sent).toFixed(2)} s (${(TOTAL / seconds(drained - sent)).toFixed(0)} msg/s); ` +
        `end to end ${(TOTAL / seconds(drained - started)).toFixed(0)} msg/s`,
    );
  }, 180_000);
});

import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { readCounters } from "../lib/adapters/counters.ts";
import { publishCorrection } from "../lib/client/publish-correction.ts";
import { QUEUES } from "../lib/resources.ts";
import { type SqsHandler, startPoller } from "../local/poller.ts";
import { provision } from "../local/provision.ts";
import type { BenchEnvironment } from "./environment.ts";

export interface IngestResult {
  readonly messages: number;
  readonly distinct: number;
  readonly duplicates: number;
  readonly malformed: number;
  readonly pollers: number;
  readonly stored: number;
  readonly dlq: number;
  readonly publishSeconds: number;
  readonly drainSeconds: number;
  readonly publishedPerSecond: number;
  readonly ingestedPerSecond: number;
}

const MALFORMED_BODIES = [
  "not json",
  '{"source":"bench","task_type":"t","prompt":"p","response":"r","correction":"  "}',
  '{"source":"bench","task_type":"t","response":"r","correction":"c"}',
  '{"source":"bench","task_type":"t","prompt":"p","response":"r","correction":"c","failure_category":"nope"}',
];

let handler: SqsHandler | undefined;

/**
 * Publishes `total` corrections (1% repeating an earlier idempotency key, 1% malformed) to the
 * corrections queue with `publishCorrection`, then drains it with `pollers` local pollers feeding
 * the real ingest handler in this process, as Lambda scales an SQS event source out.
 */
export async function benchIngest(
  env: BenchEnvironment,
  total: number,
  pollers: number,
): Promise<IngestResult> {
  if (!handler) {
    Object.assign(process.env, env.handlerEnv, { POWERTOOLS_LOG_LEVEL: "SILENT" });
    ({ handler } = await import("../functions/ingest-corrections.ts"));
  }
  // A queue of its own per row: a stopped poller's long poll can still be answered by fauxqs, which
  // would hide up to ten of the next row's messages for the visibility timeout.
  const { queues } = await provision(env.clients, {
    tableName: env.tableName,
    bucket: env.bucket,
    queuePrefix: `bench-ingest-${randomUUID().slice(0, 8)}-`,
  });
  const queue = queues.corrections;
  const before = (await readCounters(env.clients.dynamodb, env.tableName)).total ?? 0;
  const duplicates = Math.floor(total / 100);
  const malformed = Math.floor(total / 100);
  const distinct = total - duplicates - malformed;
  const run = randomUUID().slice(0, 8);
  const valid = Array.from({ length: distinct }, (_, i) => ({
    source: i % 2 === 0 ? "kiwi" : "peregrine",
    task_type: "email_classification",
    prompt: `bench ${run} message ${i}: ${"lorem ipsum ".repeat(40)}`,
    response: "skip",
    correction: `action_required ${i}`,
    model: "Qwen2.5-3B",
    idempotency_key: `bench-${run}-${i}`,
  }));
  const repeats = Array.from({ length: duplicates }, (_, i) => valid[(i * 97) % distinct]);

  const started = performance.now();
  const [reports] = await Promise.all([
    publishCorrection(env.clients.sqs, queue.url, [...valid, ...repeats]),
    (async () => {
      for (let i = 0; i < malformed; i += 10) {
        const entries = Array.from({ length: Math.min(10, malformed - i) }, (_, j) => ({
          Id: String(j),
          MessageBody: MALFORMED_BODIES[(i + j) % MALFORMED_BODIES.length] as string,
        }));
        await env.clients.sqs.send(new SendMessageBatchCommand({ QueueUrl: queue.url, Entries: entries }));
      }
    })(),
  ]);
  const failed = reports.filter((report) => !report.ok).length;
  if (failed > 0) throw new Error(`${failed} corrections were not published`);
  const published = performance.now();

  const consumers = Array.from({ length: pollers }, () =>
    startPoller({
      sqs: env.clients.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: "us-east-1",
      handler: handler as SqsHandler,
      functionName: "ingest-corrections",
      timeoutSeconds: QUEUES.corrections.handlerTimeoutSeconds,
      batchSize: QUEUES.corrections.batchSize,
      waitTimeSeconds: 1,
      log: (line) => console.log(`  ${line}`),
    }),
  );
  try {
    while ((await depth(env, queue.url)) > 0) await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    await Promise.all(consumers.map((consumer) => consumer.stop()));
  }
  const drained = performance.now();
  const stored = ((await readCounters(env.clients.dynamodb, env.tableName)).total ?? 0) - before;
  return {
    messages: total,
    distinct,
    duplicates,
    malformed,
    pollers,
    stored,
    dlq: await depth(env, queue.dlqUrl),
    publishSeconds: (published - started) / 1000,
    drainSeconds: (drained - published) / 1000,
    publishedPerSecond: total / ((published - started) / 1000),
    ingestedPerSecond: total / ((drained - published) / 1000),
  };
}

async function depth(env: BenchEnvironment, queueUrl: string): Promise<number> {
  const { Attributes } = await env.clients.sqs.send(
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

import { randomUUID } from "node:crypto";
import { GetQueueAttributesCommand, SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { batchGetAll } from "../lib/common/adapters/batch-get.ts";
import { readCounters } from "../lib/common/adapters/counters.ts";
import { keys } from "../lib/common/adapters/table-keys.ts";
import { QUEUES } from "../lib/common/resources.ts";
import { publishCorrection } from "../lib/ingest/client/publish-correction.ts";
import { type SqsHandler, startPoller } from "../local/poller.ts";
import { provision } from "../local/provision.ts";
import type { BenchEnvironment } from "./environment.ts";
import { type Growth, growth } from "./sections.ts";

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
  /**
   * Per stored record, from the SQS SentTimestamp of the message that stored it (kept on the record
   * as `provenance.received_at`) until the handler invocation that wrote it returned (its write
   * acknowledged by DynamoDB): nearest-rank percentiles over every distinct record read back.
   */
  readonly delayP50Ms: number;
  readonly delayP95Ms: number;
  readonly delayP99Ms: number;
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
 *
 * The delay of a record runs from its message's SentTimestamp (fauxqs runs in this process, on
 * the same clock) to the moment the invocation that wrote it returned successfully; the records
 * are read back by key afterwards, and their `provenance.message_id` names that invocation. The
 * record's own `captured_at` is stamped before its write is sent, so it only serves as a check.
 * The pollers start once the whole burst is queued, so the delay includes that wait.
 */
export async function benchIngest(
  env: BenchEnvironment,
  total: number,
  pollers: number,
): Promise<IngestResult> {
  if (!handler) {
    Object.assign(process.env, env.handlerEnv);
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

  // When each message's invocation returned without naming it a failure: its record is written.
  const settledAt = new Map<string, number>();
  const ingest = handler as SqsHandler;
  const timed: SqsHandler = async (event, context) => {
    const response = await ingest(event, context);
    const at = Date.now();
    const failures = new Set(response?.batchItemFailures?.map((failure) => failure.itemIdentifier));
    for (const { messageId } of event.Records) {
      if (!failures.has(messageId) && !settledAt.has(messageId)) settledAt.set(messageId, at);
    }
    return response;
  };
  const consumers = Array.from({ length: pollers }, () =>
    startPoller({
      sqs: env.clients.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: "us-east-1",
      handler: timed,
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

  const recordIds = [
    ...new Set(reports.slice(0, distinct).flatMap((report) => (report.ok ? [report.recordId] : []))),
  ];
  const records = await readProvenance(env, recordIds);
  const delays: number[] = [];
  const writeShares: number[] = [];
  let unmatched = 0;
  for (const { message_id: messageId, received_at: receivedAt, captured_at: capturedAt } of records) {
    const sent = Date.parse(receivedAt ?? "");
    const settled = settledAt.get(messageId ?? "");
    const captured = Date.parse(capturedAt ?? "");
    if (!Number.isFinite(sent) || settled === undefined || !(sent <= captured && captured <= settled)) {
      unmatched++;
      continue;
    }
    delays.push(settled - sent);
    writeShares.push(settled - captured);
  }
  delays.sort((a, b) => a - b);
  writeShares.sort((a, b) => a - b);
  if (records.length < recordIds.length || unmatched > 0) {
    console.log(
      `  delay: ${recordIds.length - records.length} of ${recordIds.length} records not found, ${unmatched} without a consistent publish/write time; left out`,
    );
  }
  console.log(
    `  delay over ${delays.length} records: p50 ${percentile(delays, 50)} ms, p95 ${percentile(delays, 95)} ms, p99 ${percentile(delays, 99)} ms (of which captured_at → write returned: p50 ${percentile(writeShares, 50)} ms, p99 ${percentile(writeShares, 99)} ms)`,
  );
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
    delayP50Ms: percentile(delays, 50),
    delayP95Ms: percentile(delays, 95),
    delayP99Ms: percentile(delays, 99),
  };
}

interface StoredProvenance {
  readonly message_id?: string;
  readonly received_at?: string;
  readonly captured_at?: string;
}

/** The provenance times of the given records, by key (no scan). */
async function readProvenance(env: BenchEnvironment, ids: readonly string[]): Promise<StoredProvenance[]> {
  const { items } = await batchGetAll(
    env.clients.dynamodb,
    env.tableName,
    ids.map((id) => keys.candidate(id)),
    {
      consistent: true,
      projection: "provenance.message_id, provenance.received_at, provenance.captured_at",
    },
  );
  return items.map((item) => (item.provenance ?? {}) as StoredProvenance);
}

/** Nearest rank over sorted samples; NaN for none. */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
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

/** One row per burst size and poller count. */
export function ingestRowKey(row: IngestResult): number {
  return row.messages * 1_000 + row.pollers;
}

/**
 * Drain time per 1,000 messages at the largest burst ÷ at the smallest, for each poller count. The
 * delay is left out: a message of a bigger burst waits behind more messages, by design.
 */
export function ingestGrowth(rows: readonly IngestResult[]): Growth | undefined {
  const tables = [...new Set(rows.map((r) => r.pollers))].flatMap((pollers) => {
    const table = growth(
      rows.filter((r) => r.pollers === pollers),
      (r) => r.messages,
      [
        {
          name: `drain seconds per 1,000 messages, ${pollers} poller(s)`,
          value: (r) => (r.drainSeconds * 1000) / r.messages,
        },
      ],
    );
    return table ? [table] : [];
  });
  const first = tables[0];
  if (!first) return undefined;
  return { ...first, ratios: tables.flatMap((table) => table.ratios) };
}

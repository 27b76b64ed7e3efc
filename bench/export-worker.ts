/**
 * One export, in a process of its own so its peak memory is the export's alone: invokes the real
 * export handler on the job's queue message, then on each continuation the export sends its own
 * queue (as Lambda would, one invocation after another), and prints a JSON line with what it
 * measured. Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, EXPORTS_QUEUE_URL,
 * endpoints), like a Lambda. With a second argument, each invocation has that many seconds before
 * its deadline (besides the time the export keeps back to checkpoint): a forced deadline.
 */
import { performance } from "node:perf_hooks";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { BaseConfig, loadConfig } from "../lib/common/config.ts";
import { QUEUES } from "../lib/common/resources.ts";
import { CHECKPOINT_MARGIN_MS } from "../lib/exports/edge/export-records.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { measureHandler } from "./worker.ts";

const [exportId, invocationSeconds] = process.argv.slice(2) as [string, string | undefined];
const { handler } = await import("../functions/export.ts");
const { sqs } = createAwsClients(loadConfig(BaseConfig));
const queueUrl = process.env.EXPORTS_QUEUE_URL as string;
// The deployed function's time limit, or the forced one.
const timeLimitMs =
  invocationSeconds !== undefined
    ? CHECKPOINT_MARGIN_MS + Number(invocationSeconds) * 1000
    : QUEUES.exports.handlerTimeoutSeconds * 1000;

/** The continuation this export sent itself, if any (taken off the queue). */
async function continuation(): Promise<string | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1 }),
    );
    for (const message of Messages) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      if ((JSON.parse(message.Body as string) as { export_id?: string }).export_id === exportId) {
        return message.Body;
      }
    }
  }
  return undefined;
}

let invocations = 0;
await measureHandler(async () => {
  let body: string | undefined = JSON.stringify({ export_id: exportId });
  while (body !== undefined) {
    const invokedAt = performance.now();
    const result = await handler(sqsEvent(sqsRecord(body)), {
      ...lambdaContext("bench-export"),
      // As Lambda counts it down, from this invocation's start.
      getRemainingTimeInMillis: () => timeLimitMs - (performance.now() - invokedAt),
    });
    invocations += 1;
    if (result.batchItemFailures.length > 0) return result;
    body = await continuation();
  }
  return { batchItemFailures: [], extra: { invocations } };
});

import { setTimeout as sleep } from "node:timers/promises";
import {
  DeleteMessageBatchCommand,
  type Message,
  type MessageAttributeValue,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSMessageAttributes, SQSRecord } from "aws-lambda";
import { createLambdaContext, withTimeout } from "./lambda-context.ts";

/** What an SQS-triggered function exports; returning nothing means every record succeeded. */
// biome-ignore lint/suspicious/noConfusingVoidType: the same return type as aws-lambda's SQSHandler, so `async () => {}` fits
export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface PollerOptions {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly queueArn: string;
  readonly region: string;
  readonly handler: SqsHandler;
  readonly functionName: string;
  /** The consuming function's timeout; a slower invocation counts as a failed batch. */
  readonly timeoutSeconds: number;
  readonly batchSize: number;
  /** Passed on every receive; without it the queue's own visibility timeout applies. */
  readonly visibilityTimeoutSeconds?: number;
  /** Long-poll wait, 0–20 s. */
  readonly waitTimeSeconds?: number;
  /** Passed to each invocation's context: once aborted, the handler has no time left. */
  readonly cutShort?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface Poller {
  readonly functionName: string;
  /** The records of the batch being handled now (empty between batches). */
  inFlight(): readonly SQSRecord[];
  /** Stops receiving and resolves once the batch in progress (if any) has been settled. */
  stop(): Promise<void>;
}

/**
 * Does locally what Lambda's SQS event source mapping does with `ReportBatchItemFailures`:
 * long-polls the queue, invokes the handler with a real `SQSEvent`, deletes every record not
 * named in `batchItemFailures`, and leaves the rest to reappear after the visibility timeout, so
 * the queue's redrive policy moves a record that keeps failing to its DLQ. A handler that throws,
 * times out or returns an identifier that is not in the batch fails the whole batch.
 */
export function startPoller(options: PollerOptions): Poller {
  const log = options.log ?? (() => {});
  const stopping = new AbortController();
  let current: readonly SQSRecord[] = [];

  const loop = async () => {
    while (!stopping.signal.aborted) {
      let messages: Message[];
      try {
        const received = await options.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: options.queueUrl,
            // SQS hands out at most 10 per receive; Lambda gathers bigger batches over a window.
            MaxNumberOfMessages: Math.min(options.batchSize, 10),
            WaitTimeSeconds: options.waitTimeSeconds ?? 20,
            VisibilityTimeout: options.visibilityTimeoutSeconds,
            AttributeNames: ["All"],
            MessageSystemAttributeNames: ["All"],
            MessageAttributeNames: ["All"],
          }),
          { abortSignal: stopping.signal },
        );
        messages = received.Messages ?? [];
      } catch (error) {
        if (stopping.signal.aborted) return;
        log(`${options.functionName}: receive failed, retrying in 1 s: ${String(error)}`);
        await sleep(1000, undefined, { signal: stopping.signal }).catch(() => {});
        continue;
      }
      if (messages.length > 0) {
        await processBatch(options, messages, log, (records) => {
          current = records;
        });
      }
    }
  };

  const running = loop();
  return {
    functionName: options.functionName,
    inFlight: () => current,
    async stop() {
      stopping.abort();
      await running;
    },
  };
}

async function processBatch(
  options: PollerOptions,
  messages: Message[],
  log: (line: string) => void,
  handling: (records: readonly SQSRecord[]) => void,
) {
  const event = toSqsEvent(messages, { queueArn: options.queueArn, region: options.region });
  const context = createLambdaContext({
    functionName: options.functionName,
    region: options.region,
    timeoutSeconds: options.timeoutSeconds,
    ...(options.cutShort ? { cutShort: options.cutShort } : {}),
  });
  handling(event.Records);
  try {
    const failed = await invoke(options, event, context, log);
    const succeeded = messages.filter((m) => !failed.has(m.MessageId as string));
    await deleteMessages(options, succeeded, log);
  } finally {
    handling([]);
  }
}

/** Returns the ids of the records that failed. */
async function invoke(
  options: PollerOptions,
  event: SQSEvent,
  context: Context,
  log: (line: string) => void,
): Promise<Set<string>> {
  const all = new Set(event.Records.map((r) => r.messageId));
  let response: Awaited<ReturnType<SqsHandler>>;
  try {
    response = await withTimeout(options.timeoutSeconds, () => options.handler(event, context));
  } catch (error) {
    log(
      `${options.functionName}: invocation ${context.awsRequestId} failed, batch of ${all.size} will be retried: ${String(error)}`,
    );
    return all;
  }
  const failures = response?.batchItemFailures ?? [];
  const failed = new Set<string>();
  for (const failure of failures) {
    if (!failure.itemIdentifier || !all.has(failure.itemIdentifier)) {
      log(
        `${options.functionName}: invalid batchItemFailures entry ${JSON.stringify(failure)}; whole batch will be retried`,
      );
      return all;
    }
    failed.add(failure.itemIdentifier);
  }
  if (failed.size > 0)
    log(`${options.functionName}: ${failed.size} of ${all.size} records failed and will be retried`);
  return failed;
}

async function deleteMessages(options: PollerOptions, messages: Message[], log: (line: string) => void) {
  for (let i = 0; i < messages.length; i += 10) {
    const chunk = messages.slice(i, i + 10);
    try {
      const result = await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((m, index) => ({ Id: String(index), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
      for (const failure of result.Failed ?? []) {
        log(
          `${options.functionName}: could not delete a processed message: ${failure.Code} ${failure.Message ?? ""}`,
        );
      }
    } catch (error) {
      log(`${options.functionName}: could not delete processed messages: ${String(error)}`);
    }
  }
}

/** The event Lambda's SQS event source mapping builds from received messages. */
export function toSqsEvent(messages: Message[], source: { queueArn: string; region: string }): SQSEvent {
  return {
    Records: messages.map(
      (message): SQSRecord => ({
        messageId: message.MessageId as string,
        receiptHandle: message.ReceiptHandle as string,
        body: message.Body ?? "",
        attributes: {
          ...message.Attributes,
          ApproximateReceiveCount: message.Attributes?.ApproximateReceiveCount ?? "1",
          SentTimestamp: message.Attributes?.SentTimestamp ?? String(Date.now()),
          SenderId: message.Attributes?.SenderId ?? "AIDAIENQZJOLO23YVJ4VO",
          ApproximateFirstReceiveTimestamp:
            message.Attributes?.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
        },
        messageAttributes: toRecordAttributes(message.MessageAttributes),
        md5OfBody: message.MD5OfBody ?? "",
        ...(message.MD5OfMessageAttributes ? { md5OfMessageAttributes: message.MD5OfMessageAttributes } : {}),
        eventSource: "aws:sqs",
        eventSourceARN: source.queueArn,
        awsRegion: source.region,
      }),
    ),
  };
}

function toRecordAttributes(
  attributes: Record<string, MessageAttributeValue> | undefined,
): SQSMessageAttributes {
  const result: SQSMessageAttributes = {};
  for (const [name, value] of Object.entries(attributes ?? {})) {
    result[name] = {
      dataType: value.DataType ?? "String",
      ...(value.StringValue !== undefined ? { stringValue: value.StringValue } : {}),
      ...(value.BinaryValue !== undefined
        ? { binaryValue: Buffer.from(value.BinaryValue).toString("base64") }
        : {}),
      stringListValues: value.StringListValues ?? [],
      binaryListValues: (value.BinaryListValues ?? []).map((v) => Buffer.from(v).toString("base64")),
    };
  }
  return result;
}

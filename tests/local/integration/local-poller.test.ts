import { randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { afterEach, describe, expect, inject, it } from "vitest";
import { type Poller, type SqsHandler, startPoller } from "../../../local/poller.ts";

const endpoint = inject("awsEndpoint");
const sqs = new SQSClient({ region: "us-east-1", endpoint, useQueueUrlAsEndpoint: false });

async function queueWithDlq(maxReceiveCount: number) {
  const name = `poller-${randomUUID().slice(0, 8)}`;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = await arnOf(dlq.QueueUrl as string);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: "900",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
      },
    }),
  );
  return {
    url: queue.QueueUrl as string,
    arn: await arnOf(queue.QueueUrl as string),
    dlqUrl: dlq.QueueUrl as string,
  };
}

async function arnOf(url: string): Promise<string> {
  const result = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }),
  );
  return result.Attributes?.QueueArn as string;
}

async function send(url: string, bodies: string[]) {
  await sqs.send(
    new SendMessageBatchCommand({
      QueueUrl: url,
      Entries: bodies.map((body, i) => ({
        Id: String(i),
        MessageBody: body,
        MessageAttributes: { origin: { DataType: "String", StringValue: "test" } },
      })),
    }),
  );
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function drainDlq(url: string): Promise<string[]> {
  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  return (received.Messages ?? []).map((m) => m.Body as string);
}

describe("startPoller", () => {
  let poller: Poller | undefined;
  afterEach(async () => {
    await poller?.stop();
    poller = undefined;
  });

  const start = (queue: { url: string; arn: string }, handler: SqsHandler, batchSize = 10) => {
    poller = startPoller({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: "us-east-1",
      handler,
      functionName: "test-consumer",
      timeoutSeconds: 5,
      batchSize,
      visibilityTimeoutSeconds: 1,
      waitTimeSeconds: 1,
    });
  };

  it("hands the handler a Lambda SQS event", async () => {
    const queue = await queueWithDlq(3);
    const events: SQSEvent[] = [];
    start(queue, async (event) => {
      events.push(event);
    });
    await send(queue.url, ["hello"]);
    await waitFor(() => events.length === 1);

    const [record] = events[0]?.Records ?? [];
    expect(record).toMatchObject({
      body: "hello",
      eventSource: "aws:sqs",
      eventSourceARN: queue.arn,
      awsRegion: "us-east-1",
      attributes: { ApproximateReceiveCount: "1" },
      messageAttributes: { origin: { dataType: "String", stringValue: "test", stringListValues: [] } },
    });
    expect(record?.messageId).toMatch(/^[0-9a-f-]{36}$/);
    expect(record?.receiptHandle).toBeTruthy();
    expect(record?.md5OfBody).toBe("5d41402abc4b2a76b9719d911017c592");
    expect(Number(record?.attributes.SentTimestamp)).toBeGreaterThan(0);
  });

  it("retries only the records named in batchItemFailures, then dead-letters them", async () => {
    const queue = await queueWithDlq(2);
    const seen: Record<string, number> = {};
    start(queue, async (event): Promise<SQSBatchResponse> => {
      for (const record of event.Records) seen[record.body] = (seen[record.body] ?? 0) + 1;
      return {
        batchItemFailures: event.Records.filter((r) => r.body === "poison").map((r) => ({
          itemIdentifier: r.messageId,
        })),
      };
    });
    await send(queue.url, ["first", "poison", "last"]);

    const deadLettered: string[] = [];
    await waitFor(async () => {
      deadLettered.push(...(await drainDlq(queue.dlqUrl)));
      return deadLettered.length > 0;
    });
    expect(deadLettered).toEqual(["poison"]);
    expect(seen).toEqual({ first: 1, poison: 2, last: 1 });
  });

  it("retries the whole batch when the handler throws", async () => {
    const queue = await queueWithDlq(5);
    const attempts: string[][] = [];
    start(queue, async (event) => {
      attempts.push(event.Records.map((r) => r.body).sort());
      if (attempts.length === 1) throw new Error("boom");
    });
    await send(queue.url, ["a", "b"]);
    await waitFor(() => attempts.length >= 2);
    await new Promise((r) => setTimeout(r, 1500));

    expect(attempts).toEqual([
      ["a", "b"],
      ["a", "b"],
    ]);
  });

  it("treats an unknown itemIdentifier as a failure of the whole batch", async () => {
    const queue = await queueWithDlq(5);
    const receiveCounts: string[] = [];
    start(queue, async (event) => {
      receiveCounts.push(event.Records[0]?.attributes.ApproximateReceiveCount ?? "");
      return receiveCounts.length === 1
        ? { batchItemFailures: [{ itemIdentifier: "not-in-batch" }] }
        : undefined;
    });
    await send(queue.url, ["x"]);
    await waitFor(() => receiveCounts.length >= 2);
    expect(receiveCounts.slice(0, 2)).toEqual(["1", "2"]);
  });

  it("stops promptly while long-polling an empty queue", async () => {
    const queue = await queueWithDlq(3);
    poller = startPoller({
      sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: "us-east-1",
      handler: async () => undefined,
      functionName: "idle-consumer",
      timeoutSeconds: 5,
      batchSize: 1,
    });
    await new Promise((r) => setTimeout(r, 200));
    const before = Date.now();
    await poller.stop();
    poller = undefined;
    expect(Date.now() - before).toBeLessThan(1000);
  });
});

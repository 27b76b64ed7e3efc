import { randomUUID } from "node:crypto";
import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { INGEST_QUARANTINE_PREFIX } from "../../../lib/common/resources.ts";
import { createCorrectionRecordHandler } from "../../../lib/ingest/edge/correction-records.ts";
import type { CorrectionStore } from "../../../lib/ingest/ports.ts";
import { ingestCorrectionDeps } from "../../../lib/ingest/wiring.ts";
import { type SqsHandler, startPoller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";

const MAX_RECEIVES = 2;
let aws: TestAws;

beforeAll(async () => {
  aws = await provisionTestAws("redrive");
});

/** A queue like the corrections queue, with a one-second visibility timeout so retries come fast. */
async function fastQueue() {
  const name = `redrive-${randomUUID().slice(0, 8)}`;
  const dlq = await aws.clients.sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }));
  const dlqArn = (
    await aws.clients.sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }),
    )
  ).Attributes?.QueueArn;
  const queue = await aws.clients.sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: "1",
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVES }),
      },
    }),
  );
  const url = queue.QueueUrl as string;
  const arn = (
    await aws.clients.sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["QueueArn"] }))
  ).Attributes?.QueueArn as string;
  return { url, arn, dlqUrl: dlq.QueueUrl as string };
}

describe("a correction that keeps failing for a passing reason", () => {
  it("is retried, then kept in the dead-letter queue; a poison neighbour is quarantined instead", async () => {
    const deps = ingestCorrectionDeps(aws.clients, {
      tableName: aws.resources.tableName,
      bucket: aws.resources.bucket,
    });
    let attempts = 0;
    const throttled: CorrectionStore = {
      storedCorrection: async () => undefined,
      insertIfAbsent: async () => {
        attempts += 1;
        throw Object.assign(new Error("Rate of requests exceeds the allowed throughput"), {
          name: "ThrottlingException",
        });
      },
    };
    const recordHandler = createCorrectionRecordHandler({ ...deps, corrections: throttled });
    const handler: SqsHandler = (event, context) =>
      processPartialResponse(event, recordHandler, new BatchProcessor(EventType.SQS), { context });
    const queue = await fastQueue();
    const valid = JSON.stringify({
      source: "kiwi",
      task_type: "recipe_suggestion",
      prompt: "Eggs?",
      response: "Baking soda.",
      correction: "Applesauce.",
    });
    const sentValid = await aws.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: valid }),
    );
    const sentPoison = await aws.clients.sqs.send(
      new SendMessageCommand({ QueueUrl: queue.url, MessageBody: "{not json" }),
    );

    const poller = startPoller({
      sqs: aws.clients.sqs,
      queueUrl: queue.url,
      queueArn: queue.arn,
      region: "us-east-1",
      handler,
      functionName: "ingest-corrections",
      timeoutSeconds: 30,
      batchSize: 10,
      waitTimeSeconds: 1,
    });
    let dead: string[] = [];
    try {
      await vi.waitUntil(
        async () => {
          const received = await aws.clients.sqs.send(
            new ReceiveMessageCommand({
              QueueUrl: queue.dlqUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
            }),
          );
          dead = [...dead, ...(received.Messages ?? []).map((message) => message.MessageId as string)];
          return dead.length > 0;
        },
        { timeout: 20_000, interval: 250 },
      );
    } finally {
      await poller.stop();
    }

    expect(dead).toEqual([sentValid.MessageId]);
    expect(attempts).toBe(MAX_RECEIVES);
    const quarantined = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: INGEST_QUARANTINE_PREFIX }),
    );
    expect(quarantined.Contents?.map((object) => object.Key)).toEqual([
      expect.stringMatching(new RegExp(`/${sentPoison.MessageId}\\.json$`)),
    ]);
  });
});

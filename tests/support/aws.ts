import { randomUUID } from "node:crypto";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent } from "aws-lambda";
import { inject } from "vitest";
import { type AwsClients, createAwsClients } from "../../lib/common/adapters/aws-clients.ts";
import { readPartition } from "../../lib/common/adapters/partition-reads.ts";
import { statusPartition } from "../../lib/common/adapters/table-keys.ts";
import type { CandidateStatus } from "../../lib/common/domain/candidate.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../lib/common/resources.ts";
import { type Provisioned, provision } from "../../local/provision.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "./events.ts";

export interface TestAws {
  readonly clients: AwsClients;
  readonly resources: Provisioned;
  readonly env: Record<string, string>;
}

/**
 * Provisions a uniquely named table, bucket and queues on the shared emulators and returns the
 * environment a handler needs to use them.
 */
export async function provisionTestAws(label: string): Promise<TestAws> {
  const suffix = `${label}-${randomUUID().slice(0, 8)}`.toLowerCase();
  const endpoints = {
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_DYNAMODB: inject("dynamodbEndpoint"),
    AWS_ENDPOINT_URL_S3: inject("awsEndpoint"),
    AWS_ENDPOINT_URL_SQS: inject("awsEndpoint"),
  };
  const clients = createAwsClients(endpoints);
  const resources = await provision(clients, {
    tableName: `flywheel-${suffix}`,
    bucket: `flywheel-${suffix}`,
    queuePrefix: `${suffix}-`,
  });
  return {
    clients,
    resources,
    env: { ...endpoints, TABLE_NAME: resources.tableName, BUCKET_NAME: resources.bucket },
  };
}

/** Every stored candidate of a run, read through the by-run index in line order. */
export function candidatesOfRun(aws: TestAws, runId: string): Promise<Record<string, unknown>[]> {
  return readPartition(aws.clients.dynamodb, aws.resources.tableName, `RUN#${runId}`, TABLE.indexes.byRun);
}

/** Every stored candidate with `status`, read through all shards of the status index. */
export async function candidatesWithStatus(
  aws: TestAws,
  status: CandidateStatus,
): Promise<Record<string, unknown>[]> {
  const shards = await Promise.all(
    Array.from({ length: STATUS_INDEX_SHARDS }, (_, shard) =>
      readPartition(
        aws.clients.dynamodb,
        aws.resources.tableName,
        statusPartition(status, shard),
        TABLE.indexes.byStatus,
      ),
    ),
  );
  return shards.flat();
}

/**
 * One batch of a queue, as Lambda's event source mapping delivers it: what waits on the queue (up
 * to 10 messages, waiting 1 s for the first) handed to `handler`, and each message it did not
 * report failed deleted; answers how many were delivered.
 */
export async function deliverBatch(
  aws: TestAws,
  queue: { readonly url: string; readonly arn: string },
  handler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>,
  functionName: string,
): Promise<number> {
  const received = await aws.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queue.url,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      MessageSystemAttributeNames: ["All"],
    }),
  );
  const records = (received.Messages ?? []).map((m) =>
    sqsRecord(m.Body ?? "", {
      messageId: m.MessageId ?? randomUUID(),
      receiptHandle: m.ReceiptHandle ?? "",
      eventSourceARN: queue.arn,
    }),
  );
  if (records.length === 0) return 0;
  const result = await handler(sqsEvent(...records), lambdaContext(functionName));
  const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
  for (const record of records.filter((r) => !failed.has(r.messageId))) {
    await aws.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: queue.url, ReceiptHandle: record.receiptHandle }),
    );
  }
  return records.length;
}

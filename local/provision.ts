import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  LimitExceededException,
  ResourceInUseException,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand } from "@aws-sdk/client-s3";
import { CreateQueueCommand, GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import type { AwsClients } from "../lib/common/adapters/aws-clients.ts";
import { DLQ_RETENTION_SECONDS, dlqName, QUEUES, type QueueKey, TABLE } from "../lib/common/resources.ts";

export interface ProvisionedQueue {
  readonly name: string;
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
}

export interface Provisioned {
  readonly tableName: string;
  readonly bucket: string;
  readonly queues: Record<QueueKey, ProvisionedQueue>;
}

/**
 * Creates the table, bucket and queues declared in `lib/resources.ts` on the emulators, the same
 * shapes the CDK stack deploys. Safe to run again over existing resources.
 */
export async function provision(
  clients: AwsClients,
  names: { tableName: string; bucket: string; queuePrefix: string },
): Promise<Provisioned> {
  await createTable(clients, names.tableName);
  await createBucket(clients, names.bucket);
  const queues = {} as Record<QueueKey, ProvisionedQueue>;
  for (const key of Object.keys(QUEUES) as QueueKey[]) {
    queues[key] = await createQueueWithDlq(clients, `${names.queuePrefix}${QUEUES[key].name}`, QUEUES[key]);
  }
  return { tableName: names.tableName, bucket: names.bucket, queues };
}

async function createTable({ dynamodb }: AwsClients, tableName: string): Promise<void> {
  const indexes = Object.values(TABLE.indexes);
  const attributes = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
  for (const index of indexes) {
    attributes.add(index.partitionKey);
    attributes.add(index.sortKey);
  }
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: "S" })),
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: indexes.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: "HASH" },
            { AttributeName: index.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        })),
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await addMissingIndexes(dynamodb, tableName);
  }
  const ttl = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  if (ttl.TimeToLiveDescription?.TimeToLiveStatus !== "ENABLED") {
    await dynamodb.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
  }
}

/**
 * A table kept from an earlier start (local data survives restarts) gets the indexes declared
 * since it was created, one at a time as DynamoDB requires.
 */
async function addMissingIndexes(dynamodb: AwsClients["dynamodb"], tableName: string): Promise<void> {
  const describe = () => dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const existing = new Set(((await describe()).Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
  for (const index of Object.values(TABLE.indexes)) {
    if (existing.has(index.name)) continue;
    const update = new UpdateTableCommand({
      TableName: tableName,
      AttributeDefinitions: [index.partitionKey, index.sortKey].map((name) => ({
        AttributeName: name,
        AttributeType: "S",
      })),
      GlobalSecondaryIndexUpdates: [
        {
          Create: {
            IndexName: index.name,
            KeySchema: [
              { AttributeName: index.partitionKey, KeyType: "HASH" },
              { AttributeName: index.sortKey, KeyType: "RANGE" },
            ],
            Projection: { ProjectionType: "ALL" },
          },
        },
      ],
    });
    // Building an index on DynamoDB Local can take minutes on a busy machine.
    const deadline = Date.now() + 600_000;
    // DynamoDB builds one new index at a time: wait out one still being built, then our own.
    for (;;) {
      try {
        await dynamodb.send(update);
        break;
      } catch (error) {
        if (!(error instanceof LimitExceededException) || Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    }
    for (;;) {
      const created = (await describe()).Table?.GlobalSecondaryIndexes?.find(
        (i) => i.IndexName === index.name,
      );
      if (created?.IndexStatus === "ACTIVE") break;
      if (Date.now() > deadline) throw new Error(`index ${index.name} of ${tableName} did not become active`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

async function createBucket({ s3 }: AwsClients, bucket: string): Promise<void> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
}

async function createQueueWithDlq(
  { sqs }: AwsClients,
  name: string,
  declaration: { visibilityTimeoutSeconds: number; maxReceiveCount: number },
): Promise<ProvisionedQueue> {
  const dlq = await sqs.send(
    new CreateQueueCommand({
      QueueName: dlqName(name),
      Attributes: { MessageRetentionPeriod: String(DLQ_RETENTION_SECONDS) },
    }),
  );
  const dlqArn = await queueArn(sqs, dlq.QueueUrl as string);
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(declaration.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlqArn,
          maxReceiveCount: declaration.maxReceiveCount,
        }),
      },
    }),
  );
  const url = queue.QueueUrl as string;
  return { name, url, arn: await queueArn(sqs, url), dlqUrl: dlq.QueueUrl as string };
}

async function queueArn(sqs: AwsClients["sqs"], queueUrl: string): Promise<string> {
  const attributes = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["QueueArn"] }),
  );
  const arn = attributes.Attributes?.QueueArn;
  if (!arn) throw new Error(`queue ${queueUrl} has no ARN`);
  return arn;
}

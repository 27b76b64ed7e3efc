import { randomUUID } from "node:crypto";
import { CreateTableCommand, DescribeTableCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createAwsClients } from "../../../lib/common/adapters/aws-clients.ts";
import { TABLE } from "../../../lib/common/resources.ts";
import { type RunningDynamoDb, startDynamoDbLocal } from "../../../local/emulators.ts";
import { provision } from "../../../local/provision.ts";

// A database of its own: DynamoDB Local builds a new index by reading its whole shared store,
// which the rest of the suite keeps filling, so on the shared instance this takes minutes.
let dynamo: RunningDynamoDb;
beforeAll(async () => {
  dynamo = await startDynamoDbLocal();
});
afterAll(() => dynamo?.stop());

describe("local provisioning over a table kept from an earlier start", () => {
  it("adds the indexes declared since the table was created", async () => {
    const clients = createAwsClients({
      AWS_REGION: "us-east-1",
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: inject("awsEndpoint"),
      AWS_ENDPOINT_URL_SQS: inject("awsEndpoint"),
    });
    const suffix = randomUUID().slice(0, 8);
    const tableName = `flywheel-old-${suffix}`;
    // The table as an older declaration created it: every index but the newest one.
    const kept = Object.values(TABLE.indexes).slice(0, -1);
    const attributes = new Set<string>([TABLE.partitionKey, TABLE.sortKey]);
    for (const index of kept) attributes.add(index.partitionKey).add(index.sortKey);
    await clients.dynamodb.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: "PAY_PER_REQUEST",
        AttributeDefinitions: [...attributes].map((name) => ({ AttributeName: name, AttributeType: "S" })),
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
          { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
        ],
        GlobalSecondaryIndexes: kept.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: "HASH" as const },
            { AttributeName: index.sortKey, KeyType: "RANGE" as const },
          ],
          Projection: { ProjectionType: "ALL" as const },
        })),
      }),
    );

    await provision(clients, { tableName, bucket: `flywheel-old-${suffix}`, queuePrefix: `old-${suffix}-` });

    const { Table } = await clients.dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
    expect((Table?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName).sort()).toEqual(
      Object.values(TABLE.indexes)
        .map((index) => index.name)
        .sort(),
    );
  }, 180_000); // DynamoDB Local builds one index at a time, slowly on a busy machine
});

import { randomUUID } from "node:crypto";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { inject } from "vitest";
import { type AwsClients, createAwsClients } from "../../lib/adapters/aws-clients.ts";
import { TABLE } from "../../lib/resources.ts";
import { type Provisioned, provision } from "../../local/provision.ts";

export const fixturesDir = resolve(dirname(fileURLToPath(import.meta.url)), "../../../shared/fixtures");

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
export async function candidatesOfRun(aws: TestAws, runId: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let start: Record<string, unknown> | undefined;
  do {
    const page = await aws.clients.dynamodb.send(
      new QueryCommand({
        TableName: aws.resources.tableName,
        IndexName: TABLE.indexes.byRun.name,
        KeyConditionExpression: "#pk = :pk",
        ExpressionAttributeNames: { "#pk": TABLE.indexes.byRun.partitionKey },
        ExpressionAttributeValues: { ":pk": `RUN#${runId}` },
        ExclusiveStartKey: start,
      }),
    );
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

import {
  type DynamoDBDocumentClient,
  paginateQuery,
  QueryCommand,
  type QueryCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { TABLE } from "../resources.ts";

type Item = Record<string, unknown>;

/**
 * Every item of one partition, across pages: of the table, strongly consistent, or of `index`
 * (which can only be read eventually consistent).
 */
export async function readPartition(
  dynamodb: DynamoDBDocumentClient,
  tableName: string,
  partitionKey: string,
  index?: { readonly name: string; readonly partitionKey: string },
): Promise<Item[]> {
  return queryAll(dynamodb, {
    TableName: tableName,
    IndexName: index?.name,
    KeyConditionExpression: "#pk = :pk",
    ExpressionAttributeNames: { "#pk": index?.partitionKey ?? TABLE.partitionKey },
    ExpressionAttributeValues: { ":pk": partitionKey },
    ConsistentRead: index ? undefined : true,
  });
}

/** Every item a query matches, across pages, through the SDK's own paginator. */
export async function queryAll(dynamodb: DynamoDBDocumentClient, input: QueryCommandInput): Promise<Item[]> {
  const items: Item[] = [];
  for await (const page of paginateQuery({ client: dynamodb }, input)) items.push(...(page.Items ?? []));
  return items;
}

/** The newest `limit` entries of a listing partition of the eval-sessions index (jobs, runs). */
export async function newestOfListing(
  dynamodb: DynamoDBDocumentClient,
  tableName: string,
  listing: string,
  limit: number,
): Promise<Item[]> {
  const { evalSessions } = TABLE.indexes;
  const page = await dynamodb.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: evalSessions.name,
      KeyConditionExpression: "#pk = :pk",
      ExpressionAttributeNames: { "#pk": evalSessions.partitionKey },
      ExpressionAttributeValues: { ":pk": listing },
      ScanIndexForward: false,
      Limit: limit,
    }),
  );
  return page.Items ?? [];
}

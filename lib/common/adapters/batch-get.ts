import { BatchGetCommand, type DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { backoff, MAX_ATTEMPTS, retryThrottled } from "./retry.ts";

export interface BatchGetOptions {
  readonly projection?: string;
  readonly names?: Record<string, string>;
  readonly consistent?: boolean;
}

/** BatchGetItem's most keys per request. */
const KEYS_PER_REQUEST = 100;

/**
 * Every item of `keys` that exists, read 100 keys a request; throttling is retried, and unprocessed
 * keys are asked again with backoff. Returns the items (in no particular order) and the read units
 * DynamoDB reported.
 */
export async function batchGetAll(
  dynamodb: DynamoDBDocumentClient,
  tableName: string,
  keys: readonly Record<string, unknown>[],
  options: BatchGetOptions = {},
): Promise<{ items: Record<string, unknown>[]; readUnits: number }> {
  const items: Record<string, unknown>[] = [];
  let readUnits = 0;
  for (let offset = 0; offset < keys.length; offset += KEYS_PER_REQUEST) {
    let requestKeys = keys.slice(offset, offset + KEYS_PER_REQUEST);
    for (let attempt = 0; requestKeys.length > 0; attempt++) {
      if (attempt >= MAX_ATTEMPTS) throw new Error("BatchGetItem kept returning unprocessed keys");
      if (attempt > 0) await backoff(attempt);
      const result = await retryThrottled(() =>
        dynamodb.send(
          new BatchGetCommand({
            RequestItems: {
              [tableName]: {
                Keys: requestKeys as Record<string, unknown>[],
                ConsistentRead: options.consistent,
                ProjectionExpression: options.projection,
                ExpressionAttributeNames: options.names,
              },
            },
            ReturnConsumedCapacity: "TOTAL",
          }),
        ),
      );
      for (const consumed of result.ConsumedCapacity ?? []) readUnits += consumed.CapacityUnits ?? 0;
      items.push(...(result.Responses?.[tableName] ?? []));
      requestKeys =
        (result.UnprocessedKeys?.[tableName]?.Keys as Record<string, unknown>[] | undefined) ?? [];
    }
  }
  return { items, readUnits };
}

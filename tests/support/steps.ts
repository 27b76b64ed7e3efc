import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { readCounters } from "../../lib/common/adapters/counters.ts";
import { keys } from "../../lib/common/adapters/table-keys.ts";
import type { TestAws } from "./aws.ts";

/**
 * The "then" steps the integration tests share: what a test's table holds now, read consistently,
 * so every test asserts on the store itself rather than on what a handler answered.
 */
export async function storedItem(aws: TestAws, key: Record<string, unknown>) {
  const { Item } = await aws.clients.dynamodb.send(
    new GetCommand({ TableName: aws.resources.tableName, Key: key, ConsistentRead: true }),
  );
  return Item;
}

/** The stored candidate (or correction record) with this id. */
export const storedCandidate = (aws: TestAws, id: string) => storedItem(aws, keys.candidate(id));

/** The stored run record of this run id. */
export const storedRun = (aws: TestAws, runId: string) => storedItem(aws, keys.run(runId));

/** Every counter summed over its shards. */
export const storedCounters = (aws: TestAws) => readCounters(aws.clients.dynamodb, aws.resources.tableName);

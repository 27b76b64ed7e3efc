import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { CounterDelta } from "../domain/stats.ts";
import { COUNTER_SHARDS, TABLE } from "../resources.ts";
import { batchGetAll } from "./batch-get.ts";
import { keys } from "./table-keys.ts";

/** The Update of one counter shard that applies `delta`; part of a transaction with the change it counts. */
export function counterUpdate(tableName: string, delta: CounterDelta, shard: number) {
  const entries = Object.entries(delta).filter(([, value]) => value !== 0);
  const names: Record<string, string> = {};
  const values: Record<string, number> = {};
  const clauses = entries.map(([name, value], i) => {
    names[`#c${i}`] = name;
    values[`:c${i}`] = value;
    return `#c${i} :c${i}`;
  });
  return {
    TableName: tableName,
    Key: keys.counterShard(shard),
    UpdateExpression: `SET #type = :type ADD ${clauses.join(", ")}`,
    ExpressionAttributeNames: { ...names, "#type": "type" },
    ExpressionAttributeValues: { ...values, ":type": "counters" },
  };
}

/** Sums every counter over the shards: a fixed number of reads, whatever the size of the table. */
export async function readCounters(
  dynamodb: DynamoDBDocumentClient,
  tableName: string,
): Promise<CounterDelta> {
  const totals: CounterDelta = {};
  const shards = Array.from({ length: COUNTER_SHARDS }, (_, shard) => keys.counterShard(shard));
  const { items } = await batchGetAll(dynamodb, tableName, shards, { consistent: true });
  for (const item of items) {
    for (const [name, value] of Object.entries(item)) {
      if (typeof value === "number" && name !== TABLE.ttlAttribute)
        totals[name] = (totals[name] ?? 0) + value;
    }
  }
  return totals;
}

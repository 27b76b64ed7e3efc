import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { ValidationError } from "../domain/errors.ts";
import { type CounterDelta, MAX_COUNTED_LABEL_CHARS, MAX_COUNTER_NAME_CHARS } from "../domain/stats.ts";
import { COUNTER_SHARDS, TABLE } from "../resources.ts";
import { batchGetAll } from "./batch-get.ts";
import { keys } from "./table-keys.ts";

/** The Update of one counter shard that applies `delta`; part of a transaction with the change it counts. */
export function counterUpdate(tableName: string, delta: CounterDelta, shard: number) {
  const entries = Object.entries(delta).filter(([, value]) => value !== 0);
  // The guard where counters are written: a name past the cap would grow a shard item for every
  // reader (and, repeated, fill it), whichever path let the label through.
  const tooLong = entries.find(([name]) => name.length > MAX_COUNTER_NAME_CHARS);
  if (tooLong) {
    throw new ValidationError(
      `a counted label is longer than ${MAX_COUNTED_LABEL_CHARS} characters: ${tooLong[0].slice(0, 60)}…`,
    );
  }
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

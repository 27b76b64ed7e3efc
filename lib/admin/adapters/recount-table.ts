import { type DynamoDBDocumentClient, ScanCommand } from "@aws-sdk/lib-dynamodb";
import { batchGetAll } from "../../common/adapters/batch-get.ts";
import { readCounters } from "../../common/adapters/counters.ts";
import { retryThrottled } from "../../common/adapters/retry.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import { transactConditionally } from "../../common/adapters/transactions.ts";
import { ForbiddenError } from "../../common/domain/errors.ts";
import type { CounterDelta } from "../../common/domain/stats.ts";
import { COUNTER_SHARDS, TABLE } from "../../common/resources.ts";
import type { CandidatePage, CandidateScanner, CounterStore, ShardValues } from "../ports.ts";

/** A candidate item's keys: `CAND#<id>` / `CAND` (its history events share the partition, not the sort key). */
const CANDIDATE_KEY = keys.candidate("");
const CANDIDATE_PK_PREFIX = CANDIDATE_KEY[TABLE.partitionKey] as string;
const CANDIDATE_SK = CANDIDATE_KEY[TABLE.sortKey] as string;
/** A counter shard's number by its sort key. */
const SHARD_OF_SORT_KEY = new Map(
  Array.from({ length: COUNTER_SHARDS }, (_, shard) => [
    String(keys.counterShard(shard)[TABLE.sortKey]),
    shard,
  ]),
);

/**
 * Items a Scan page may hold. DynamoDB stops a page at 1 MB anyway (about 700 benchmark-shaped
 * candidates), so this bounds only pages of small items. DynamoDB Local, without a Limit, spends
 * time on every page in proportion to what is left of the segment: a scan of 100,000 candidates
 * in one segment took 807 s without it, one of 40,000 took 4 s with it.
 */
export const SCAN_PAGE_ITEMS = 1_000;

/**
 * Every candidate of the single table, by a parallel segmented Scan: each segment is read page by
 * page (1 MB each), strongly consistent, keeping only candidate items and only the attributes
 * asked for. A Scan is billed for the whole items it reads, projected or not.
 */
export class CandidateScanTable implements CandidateScanner {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async *scanSegment(
    segment: number,
    totalSegments: number,
    attributes: readonly string[],
  ): AsyncIterable<CandidatePage> {
    const projected = Object.fromEntries(attributes.map((name, i) => [`#a${i}`, name]));
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.send(
        new ScanCommand({
          TableName: this.tableName,
          Segment: segment,
          TotalSegments: totalSegments,
          ConsistentRead: true,
          FilterExpression: "#sk = :sk AND begins_with(#pk, :pk)",
          ProjectionExpression: Object.keys(projected).join(", "),
          ExpressionAttributeNames: { ...projected, "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
          ExpressionAttributeValues: { ":sk": CANDIDATE_SK, ":pk": CANDIDATE_PK_PREFIX },
          ExclusiveStartKey: start,
          Limit: SCAN_PAGE_ITEMS,
        }),
      );
      yield { candidates: page.Items ?? [], scanned: page.ScannedCount ?? 0 };
      start = page.LastEvaluatedKey;
    } while (start);
  }

  private async send(command: ScanCommand) {
    try {
      return await retryThrottled(() => this.dynamodb.send(command));
    } catch (error) {
      if (error instanceof Error && error.name === "AccessDeniedException") {
        // In AWS the API function's role holds no dynamodb:Scan, on purpose (every request path reads
        // by key or index); the recount then runs from an operator's shell.
        throw new ForbiddenError(
          "these credentials may not scan the table: run `flywheel admin recount --direct --table <name>` " +
            "with credentials allowed dynamodb:Scan",
        );
      }
      throw error;
    }
  }
}

/**
 * The stats counters for a recount: their sums come from the shared reader; a correction goes to
 * one shard in a transaction that checks every shard.
 */
export class CounterShardTable implements CounterStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  read(): Promise<CounterDelta> {
    return readCounters(this.dynamodb, this.tableName);
  }

  async readShards(name: string): Promise<ShardValues> {
    const shardKeys = Array.from({ length: COUNTER_SHARDS }, (_, shard) => keys.counterShard(shard));
    const { items } = await batchGetAll(this.dynamodb, this.tableName, shardKeys, {
      consistent: true,
      projection: "#sk, #counter",
      names: { "#sk": TABLE.sortKey, "#counter": name },
    });
    const values: (number | undefined)[] = Array.from({ length: COUNTER_SHARDS }, () => undefined);
    for (const item of items) {
      const shard = SHARD_OF_SORT_KEY.get(String(item[TABLE.sortKey]));
      const value = item[name];
      if (shard !== undefined && typeof value === "number") values[shard] = value;
    }
    return values;
  }

  /**
   * One transaction: an ADD of `difference` on shard 0, and on every shard (shard 0's update
   * included) the condition that the counter still holds the value `seen` there.
   *
   * Why ADD of the difference, and not SET of the counted total: live transactions ADD their own
   * changes to random shards, and an ADD composes with them where a SET would overwrite them.
   * Why the condition on all shards: the difference was computed against the counter's sum; if
   * any shard moved since (a live write, or another repair that already added this difference),
   * the difference is stale and adding it would clobber the change. The caller then reads again.
   * Why a request token: an SDK retry of a transaction that did commit must not add it twice.
   */
  async addIfUnchanged(name: string, difference: number, seen: ShardValues): Promise<"added" | "changed"> {
    const unchanged = (shard: number) => {
      const value = seen[shard];
      return value === undefined
        ? { ConditionExpression: "attribute_not_exists(#counter)", ExpressionAttributeValues: undefined }
        : { ConditionExpression: "#counter = :seen", ExpressionAttributeValues: { ":seen": value } };
    };
    const items = Array.from({ length: COUNTER_SHARDS }, (_, shard) => {
      const condition = unchanged(shard);
      const base = { TableName: this.tableName, Key: keys.counterShard(shard) };
      if (shard !== 0) {
        return {
          ConditionCheck: {
            ...base,
            ConditionExpression: condition.ConditionExpression,
            ExpressionAttributeNames: { "#counter": name },
            ...(condition.ExpressionAttributeValues
              ? { ExpressionAttributeValues: condition.ExpressionAttributeValues }
              : {}),
          },
        };
      }
      return {
        Update: {
          ...base,
          UpdateExpression: "SET #type = :type ADD #counter :difference",
          ConditionExpression: condition.ConditionExpression,
          ExpressionAttributeNames: { "#counter": name, "#type": "type" },
          ExpressionAttributeValues: {
            ...condition.ExpressionAttributeValues,
            ":difference": difference,
            ":type": "counters",
          },
        },
      };
    });
    const outcome = await transactConditionally<"changed">(this.dynamodb, this.tableName, {
      build: async () => ({ items }),
      onConditionFailed: () => "changed",
      idempotent: true,
    });
    return outcome.committed ? "added" : "changed";
  }
}

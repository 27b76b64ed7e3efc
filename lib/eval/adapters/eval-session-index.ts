import { type DynamoDBDocumentClient, GetCommand, paginateQuery, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import {
  EVAL_PENDING_KEY,
  evalSessionPartition,
  evalVersionsKey,
  keys,
} from "../../common/adapters/table-keys.ts";
import { TABLE } from "../../common/resources.ts";
import type { EvalStatus } from "../domain/eval-session.ts";
import type { JudgeVersions } from "../domain/rubric.ts";

type Item = Record<string, unknown>;

/** Which sessions to read: an overview status, or what a judge run takes. */
export type SessionSet = EvalStatus | "unevaluated" | "all";

/** Above this a query page would only carry items the merge may never use. */
const MAX_PAGE = 1_000;
const HIGHEST = "\uffff";

/**
 * Reads the eval-session indexes. Sessions sit in one partition per version pair of their latest
 * evaluation (plus `pending`), so a status is a set of partitions, the current versions decide
 * which, and a version bump turns `evaluated` into `stale` without rewriting a single item. The
 * pairs ever used are kept in one registry item; a read merges its partitions' queries, each
 * already sorted pinned-first then most recent first, and never scans.
 */
export class EvalSessionIndex {
  private readonly registered = new Set<string>();

  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  /** Adds the version pair of an evaluation to the registry (once per pair and instance). */
  async register(versions: JudgeVersions): Promise<void> {
    const key = evalVersionsKey(versions);
    if (this.registered.has(key)) return;
    await this.dynamodb.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.evalVersions(),
        UpdateExpression: "SET #type = :type ADD #keys :key",
        ExpressionAttributeNames: { "#type": "type", "#keys": "versions_keys" },
        ExpressionAttributeValues: { ":type": "eval_versions", ":key": new Set([key]) },
      }),
    );
    this.registered.add(key);
  }

  /** The partitions (version keys) holding the sessions of `set` under the `current` versions. */
  async versionKeys(set: SessionSet, current: JudgeVersions): Promise<string[]> {
    const currentKey = evalVersionsKey(current);
    if (set === "pending") return [EVAL_PENDING_KEY];
    if (set === "evaluated") return [currentKey];
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.evalVersions(), ConsistentRead: true }),
    );
    const known = [...((Item?.versions_keys as Set<string> | undefined) ?? [])];
    const stale = known.filter((key) => key !== currentKey);
    if (set === "stale") return stale;
    if (set === "unevaluated") return [EVAL_PENDING_KEY, ...stale];
    return [EVAL_PENDING_KEY, ...known];
  }

  /**
   * Reads sessions of the given partitions in overview order, skipping `skip` and returning up
   * to `take`; `since` keeps those active at or after it (a key condition, not a filter).
   */
  async read(
    versionKeys: readonly string[],
    options: { profile?: string | undefined; since?: string | undefined; skip: number; take: number },
  ): Promise<{ items: Item[]; hasMore: boolean }> {
    const index =
      options.profile === undefined ? TABLE.indexes.evalSessions : TABLE.indexes.evalSessionsByProfile;
    const pageSize = Math.min(MAX_PAGE, options.skip + options.take + 1);
    const ranges: ([string, string] | undefined)[] =
      options.since === undefined
        ? [undefined]
        : [
            [`1#${options.since}`, `1#${HIGHEST}`],
            [`0#${options.since}`, `0#${HIGHEST}`],
          ];
    const streams = versionKeys.flatMap((versionKey) =>
      ranges.map((range) =>
        this.query(index, evalSessionPartition(versionKey, options.profile), range, pageSize),
      ),
    );
    return mergeDescending(streams, (item) => String(item[index.sortKey]), options.skip, options.take);
  }

  private async *query(
    index: { name: string; partitionKey: string; sortKey: string },
    partition: string,
    range: [string, string] | undefined,
    pageSize: number,
  ): AsyncGenerator<Item> {
    const pages = paginateQuery(
      { client: this.dynamodb, pageSize },
      {
        TableName: this.tableName,
        IndexName: index.name,
        KeyConditionExpression: range ? "#pk = :pk AND #sk BETWEEN :from AND :to" : "#pk = :pk",
        ExpressionAttributeNames: range
          ? { "#pk": index.partitionKey, "#sk": index.sortKey }
          : { "#pk": index.partitionKey },
        ExpressionAttributeValues: range
          ? { ":pk": partition, ":from": range[0], ":to": range[1] }
          : { ":pk": partition },
        ScanIndexForward: false,
      },
    );
    for await (const page of pages) yield* page.Items ?? [];
  }
}

/** Merges streams each sorted by descending key into one, reading each only as far as needed. */
export async function mergeDescending<T>(
  streams: readonly AsyncIterator<T>[],
  keyOf: (item: T) => string,
  skip: number,
  take: number,
): Promise<{ items: T[]; hasMore: boolean }> {
  const heads = await Promise.all(streams.map((stream) => stream.next()));
  const items: T[] = [];
  let skipped = 0;
  for (;;) {
    let best = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i];
      if (!head || head.done) continue;
      const bestHead = heads[best];
      if (best < 0 || (bestHead && !bestHead.done && keyOf(head.value) > keyOf(bestHead.value))) best = i;
    }
    if (best < 0) return { items, hasMore: false };
    if (items.length === take) {
      await Promise.all(streams.map((stream) => stream.return?.()));
      return { items, hasMore: true };
    }
    const head = heads[best] as IteratorYieldResult<T>;
    heads[best] = await (streams[best] as AsyncIterator<T>).next();
    if (skipped < skip) skipped++;
    else items.push(head.value);
  }
}

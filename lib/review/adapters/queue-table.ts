import { type DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateViews } from "../../common/adapters/candidate-view.ts";
import { keys, leasePartition, queueSortKey, statusPartition } from "../../common/adapters/table-keys.ts";
import type { CandidateStatus } from "../../common/domain/candidate.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../common/resources.ts";
import type {
  CandidateBatch,
  CandidateSelection,
  ExportCandidateSource,
  ReadPosition,
} from "../../exports/ports.ts";
import { FILTER_PATHS, matchesFilters } from "../domain/lease.ts";
import type { QueueFilters, QueuePosition } from "../domain/queue.ts";
import type { QueuedItem, QueueIndex, QueueReader, QueueWalk, RunPosition, RunWalk } from "../ports.ts";
import { adjudicationPartition, votingPartition } from "./vote-keys.ts";

type Item = Record<string, unknown>;
type Position = [sortKey: string, id: string];

interface ShardCursor {
  readonly partition: string;
  /** Items read and not yet merged, in index order. */
  buffer: Item[];
  /** Where the next query of this shard starts; `undefined` with `exhausted` at its end. */
  startKey: Item | undefined;
  exhausted: boolean;
  /** The last item merged from this shard (or where the walk started). */
  lastTaken: Position | null;
  /** Everything up to here was read (taken or filtered out); `null` when unknown. */
  lastRead: Position | null;
  /** `stream` only: the read of this shard's next page, started before its buffer runs dry. */
  reading?: Promise<void> | undefined;
}

const { byStatus, byRun } = TABLE.indexes;

/**
 * Reads the queue of one status from the sharded status index: one query per shard, merged by
 * sort key (the answer's time, then the id), so the result is one list oldest first. Each query
 * reads about its share of the page; what a read costs depends on the page size, not on how many
 * candidates the table holds.
 */
export class QueueTable implements QueueReader, QueueIndex, ExportCandidateSource {
  readonly shards = STATUS_INDEX_SHARDS;

  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly views: CandidateViews,
    private readonly status: CandidateStatus = "needs_review",
    /** The status-index partition of a shard `walk` reads: the status's own, or another list kept in that index. */
    private readonly partitionOf: (shard: number) => string = (shard) => statusPartition(status, shard),
  ) {}

  async walk(walk: QueueWalk) {
    const { items, position, more } = await this.walkItems(walk);
    return { items: await this.views.toViews(items), position, more };
  }

  /** `walk`, answering the stored items as they are (index keys included, bodies not loaded). */
  async walkItems({ filters, after, skip, limit }: QueueWalk) {
    const filter = filterExpression(filters);
    const shards: ShardCursor[] = Array.from({ length: this.shards }, (_, shard) => {
      const position = after?.[shard] ?? null;
      const partition = this.partitionOf(shard);
      return {
        partition,
        buffer: [],
        startKey: position ? startKey(partition, position) : undefined,
        exhausted: false,
        lastTaken: position ? [...position] : null,
        lastRead: position ? [...position] : null,
      };
    });

    // One item past the page tells whether another page follows.
    const wanted = skip + limit + 1;
    const taken: { item: Item; shard: number }[] = [];
    while (taken.length < wanted) {
      const empty = shards.filter((shard) => shard.buffer.length === 0 && !shard.exhausted);
      if (empty.length > 0) {
        // Until every shard shows its next item, the oldest one is not known.
        const remaining = wanted - taken.length;
        // Shards rarely split a page evenly: reading half again as much saves most second rounds.
        // A filter drops an unknown share of what is read, so read more per round.
        const share = filter
          ? Math.min(Math.max(remaining * 2, 100), 1_000)
          : Math.min(remaining, Math.ceil((remaining * 1.5) / this.shards) + 2);
        await Promise.all(empty.map((shard) => this.read(shard, share, filter)));
        continue;
      }
      let oldest = -1;
      shards.forEach((shard, i) => {
        const head = shard.buffer[0];
        const best = shards[oldest]?.buffer[0];
        if (head && (!best || sortKeyOf(head) < sortKeyOf(best))) oldest = i;
      });
      const from = shards[oldest];
      const item = from?.buffer.shift();
      if (!from || !item) break;
      taken.push({ item, shard: oldest });
      if (taken.length <= skip + limit) from.lastTaken = positionOf(item);
    }

    const page = taken.slice(skip, skip + limit).map(({ item }) => item);
    const lookahead = taken[skip + limit];
    const position: QueuePosition = shards.map((shard, i) => {
      const unmerged = shard.buffer.length > 0 || lookahead?.shard === i;
      // With nothing left over, the next walk may start after what was read and filtered out.
      return !unmerged && shard.lastRead ? shard.lastRead : shard.lastTaken;
    });
    return { items: page as QueuedItem[], position, more: lookahead !== undefined };
  }

  /**
   * `walkItems` of one run, from the run index in line order: the queue's own partitions of the
   * status (`STATUS#<status>#<shard>`: not leased, not waiting for votes or an admin) and every
   * filter are a filter expression on the run's partition, so what a walk reads grows with the
   * run, whatever the size of the queue. One item past the page tells whether another follows.
   */
  async walkRunItems({ runId, filters, after, limit }: RunWalk) {
    const filter = filterExpression(filters);
    const partition = `RUN#${runId}`;
    // Every shard of the walked list shares its partition prefix (`STATUS#needs_review#`).
    const queuePrefix = this.partitionOf(0).replace(/\d+$/, "");
    const taken: Item[] = [];
    let startKey: Item | undefined = after ? runStartKey(partition, after) : undefined;
    let exhausted = false;
    while (taken.length <= limit && !exhausted) {
      const result = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: byRun.name,
          KeyConditionExpression: "#rpk = :rpk",
          ScanIndexForward: true,
          // A filter drops an unknown share of what is read: read more than the page per round.
          Limit: Math.min(Math.max((limit + 1) * 2, 100), 1_000),
          ExclusiveStartKey: startKey,
          FilterExpression: `begins_with(#gpk, :queue)${filter ? ` AND ${filter.expression}` : ""}`,
          ExpressionAttributeNames: {
            "#rpk": byRun.partitionKey,
            "#gpk": byStatus.partitionKey,
            ...filter?.names,
          },
          ExpressionAttributeValues: { ":rpk": partition, ":queue": queuePrefix, ...filter?.values },
        }),
      );
      taken.push(...(result.Items ?? []));
      startKey = result.LastEvaluatedKey;
      exhausted = startKey === undefined;
    }
    const page = taken.slice(0, limit);
    const last = page.at(-1);
    const position: RunPosition | null = last
      ? [String(last[byRun.sortKey]), String(last[TABLE.partitionKey]).slice("CAND#".length)]
      : after;
    return { items: page as QueuedItem[], position, more: taken.length > limit };
  }

  /**
   * Every candidate of the selection's statuses, merged over all their partitions (statuses ×
   * shards) by sort key like `walk`, but read once from start to end: each partition's next page
   * is fetched while the current one is being consumed, and nothing is read twice. Exports read
   * through it; memory holds about two pages per partition whatever the size of the selection.
   */
  async *stream(
    selection: CandidateSelection,
    // Pages as large as a query returns (1 MB); each query costs a round trip whatever its size.
    {
      after,
      batchSize = 100,
      pageSize = 1_000,
    }: { after?: ReadPosition; batchSize?: number; pageSize?: number } = {},
  ): AsyncGenerator<CandidateBatch> {
    const resumed = after as StreamPosition | undefined;
    if (resumed?.leased) {
      yield* this.streamLeased(selection, batchSize, pageSize, resumed.leased);
      return;
    }
    const filter = filterExpression(selection.filters);
    const range = rangeCondition(selection.range);
    const shards: ShardCursor[] = selection.statuses.flatMap((status, s) =>
      Array.from({ length: this.shards }, (_, shard) => {
        const partition = statusPartition(status, shard);
        // Every shard goes on after the last item taken from it: what the merge had not taken
        // yet all sorts after the position, so the merge reads on exactly where it stopped.
        const taken = resumed?.merged[s * this.shards + shard] ?? null;
        return {
          partition,
          buffer: [],
          startKey: taken ? startKey(partition, taken) : undefined,
          exhausted: false,
          lastTaken: taken ? [...taken] : null,
          lastRead: null,
        };
      }),
    );
    const positioned = async (items: Item[]): Promise<CandidateBatch> => {
      // Taken before the bodies load: the merge does not move while the batch is out.
      const position: StreamPosition = { merged: shards.map((shard) => shard.lastTaken) };
      return Object.assign(await this.views.toViews(items), { position });
    };
    const refill = (shard: ShardCursor) => {
      shard.reading ??= this.read(shard, pageSize, filter, range).finally(() => {
        shard.reading = undefined;
      });
      return shard.reading;
    };
    let batch: Item[] = [];
    for (;;) {
      for (const shard of shards) {
        if (!shard.exhausted && shard.buffer.length < pageSize / 2) void refill(shard).catch(() => undefined);
      }
      const dry = shards.filter((shard) => shard.buffer.length === 0 && !shard.exhausted);
      if (dry.length > 0) {
        await Promise.all(dry.map(refill));
        continue;
      }
      let oldest = -1;
      shards.forEach((shard, i) => {
        const head = shard.buffer[0];
        const best = shards[oldest]?.buffer[0];
        if (head && (!best || sortKeyOf(head) < sortKeyOf(best))) oldest = i;
      });
      const from = shards[oldest];
      const item = from?.buffer.shift();
      if (!from || !item) break;
      from.lastTaken = positionOf(item);
      batch.push(item);
      if (batch.length >= batchSize) {
        yield await positioned(batch);
        batch = [];
      }
    }
    if (batch.length > 0) yield await positioned(batch);
    if (selection.statuses.includes("needs_review")) {
      yield* this.streamLeased(selection, batchSize, pageSize, { shard: 0, after: null });
    }
  }

  /**
   * Candidates leased to a reviewer at the moment (still `needs_review`, out of the queue's
   * partitions while held), after everything else: their partitions are ordered by expiry, so
   * they are read last rather than merged. The selection's filters and range apply as they do to
   * the queue's partitions.
   */
  private async *streamLeased(
    selection: CandidateSelection,
    batchSize: number,
    pageSize: number,
    start: LeasedPosition,
  ): AsyncGenerator<CandidateBatch> {
    const { from, to } = selection.range;
    const inRange = (item: Item) => {
      const key = queueSortKey(item as Parameters<typeof queueSortKey>[0]);
      return (!from || key >= from) && (!to || key < to);
    };
    let batch: Item[] = [];
    // Where the stream stands after the last item batched: its shard, and its keys to start after.
    let at: LeasedPosition = start;
    const positioned = async (items: Item[]): Promise<CandidateBatch> =>
      Object.assign(await this.views.toViews(items), {
        position: { merged: [], leased: at } satisfies StreamPosition,
      });
    // The lease partitions, then (double review) the voting and the adjudication partitions: all
    // hold `needs_review` candidates out of the queue's partitions, numbered on from the leases'.
    const held = [leasePartition, votingPartition, adjudicationPartition];
    for (let shard = start.shard; shard < this.shards * held.length; shard++) {
      const partition = (held[Math.floor(shard / this.shards)] ?? leasePartition)(shard % this.shards);
      let startKey: Item | undefined = shard === start.shard ? (start.after ?? undefined) : undefined;
      do {
        const result = await this.dynamodb.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: byStatus.name,
            KeyConditionExpression: "#gpk = :gpk",
            ExpressionAttributeNames: { "#gpk": byStatus.partitionKey },
            ExpressionAttributeValues: { ":gpk": partition },
            Limit: pageSize,
            ExclusiveStartKey: startKey,
          }),
        );
        for (const item of result.Items ?? []) {
          if (item.status !== "needs_review" || !matchesFilters(item, selection.filters) || !inRange(item))
            continue;
          batch.push(item);
          at = { shard, after: leaseKeyOf(item) };
          if (batch.length >= batchSize) {
            yield await positioned(batch);
            batch = [];
          }
        }
        startKey = result.LastEvaluatedKey;
      } while (startKey);
    }
    if (batch.length > 0) yield await positioned(batch);
  }

  private async read(shard: ShardCursor, limit: number, filter: Filter | null, range: Filter | null = null) {
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: byStatus.name,
        KeyConditionExpression: `#gpk = :gpk${range ? ` AND ${range.expression}` : ""}`,
        ScanIndexForward: true,
        Limit: limit,
        ExclusiveStartKey: shard.startKey,
        ...(filter ? { FilterExpression: filter.expression } : {}),
        ExpressionAttributeNames: { "#gpk": byStatus.partitionKey, ...filter?.names, ...range?.names },
        ExpressionAttributeValues: { ":gpk": shard.partition, ...filter?.values, ...range?.values },
      }),
    );
    shard.buffer.push(...(result.Items ?? []));
    shard.startKey = result.LastEvaluatedKey;
    shard.exhausted = result.LastEvaluatedKey === undefined;
    if (result.LastEvaluatedKey) shard.lastRead = positionOf(result.LastEvaluatedKey);
    else shard.lastRead = shard.buffer.length > 0 ? null : shard.lastTaken;
  }
}

interface Filter {
  readonly expression: string;
  readonly names: Record<string, string>;
  readonly values: Record<string, string>;
}

export function filterExpression(filters: QueueFilters): Filter | null {
  const names: Record<string, string> = {};
  const values: Record<string, string> = {};
  const clauses: string[] = [];
  for (const [name, value] of Object.entries(filters) as [keyof QueueFilters, string | undefined][]) {
    if (value === undefined) continue;
    const path = FILTER_PATHS[name].map((part) => {
      names[`#f_${part}`] = part;
      return `#f_${part}`;
    });
    values[`:f_${name}`] = value;
    clauses.push(`${path.join(".")} = :f_${name}`);
  }
  return clauses.length > 0 ? { expression: clauses.join(" AND "), names, values } : null;
}

/**
 * The sort-key condition of a time range: sort keys are `<ISO time>#<id>`, so every key at the
 * instant `from` sorts after `from` itself (inclusive) and every key at `to` after `to` (exclusive).
 */
function rangeCondition(range: CandidateSelection["range"]): Filter | null {
  const names = { "#gsk": byStatus.sortKey };
  if (range.from && range.to) {
    return {
      expression: "#gsk BETWEEN :from AND :to",
      names,
      values: { ":from": range.from, ":to": range.to },
    };
  }
  if (range.from) return { expression: "#gsk >= :from", names, values: { ":from": range.from } };
  if (range.to) return { expression: "#gsk < :to", names, values: { ":to": range.to } };
  return null;
}

const sortKeyOf = (item: Item) => String(item[byStatus.sortKey]);

/** Where the leased partitions' read stands: the shard, and the key of the last item taken in it. */
interface LeasedPosition {
  readonly shard: number;
  readonly after: Item | null;
}

/**
 * Where `stream` stands: the last item taken from each merged partition (statuses × shards, in
 * the selection's order), and once the merge is done, where the leased partitions' read is.
 */
interface StreamPosition {
  readonly merged: readonly (Position | null)[];
  readonly leased?: LeasedPosition;
}

/** The index and table keys of a leased item: where a query of its partition goes on after it. */
function leaseKeyOf(item: Item): Item {
  return {
    [TABLE.partitionKey]: item[TABLE.partitionKey],
    [TABLE.sortKey]: item[TABLE.sortKey],
    [byStatus.partitionKey]: item[byStatus.partitionKey],
    [byStatus.sortKey]: item[byStatus.sortKey],
  };
}

function positionOf(item: Item): Position {
  const id = String(item[TABLE.partitionKey]).slice("CAND#".length);
  return [sortKeyOf(item), id];
}

/** The run-index key and table key of the item at `position`: where a query of the run continues after it. */
function runStartKey(partition: string, [sortKey, id]: RunPosition): Item {
  return { ...keys.candidate(id), [byRun.partitionKey]: partition, [byRun.sortKey]: sortKey };
}

/** The index key and table key of the item at `position`: where a query continues after it. */
function startKey(partition: string, [sortKey, id]: readonly [string, string]): Item {
  return { ...keys.candidate(id), [byStatus.partitionKey]: partition, [byStatus.sortKey]: sortKey };
}

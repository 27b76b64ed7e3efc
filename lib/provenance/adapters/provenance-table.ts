import { type DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { keys, leasePartition, statusPartition } from "../../common/adapters/table-keys.ts";
import { transactConditionally } from "../../common/adapters/transactions.ts";
import type { CandidateStatus } from "../../common/domain/candidate.ts";
import type { ProvenanceFill } from "../../common/domain/provenance.ts";
import type { CounterDelta } from "../../common/domain/stats.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../common/resources.ts";
import { adjudicationPartition, votingPartition } from "../../review/adapters/vote-keys.ts";
import type { IndexPosition } from "../domain/provenance-requests.ts";
import type { HeldList, ProvenancePage, ProvenanceRecord, ProvenanceStore } from "../ports.ts";

type Item = Record<string, unknown>;

/** Where each held list sits in the status index. */
const HELD_PARTITIONS: Record<HeldList, (shard: number) => string> = {
  leased: leasePartition,
  voting: votingPartition,
  adjudication: adjudicationPartition,
};

const { byStatus } = TABLE.indexes;

/** What provenance work reads of a candidate: never its prompt or answer. */
const PROJECTION = {
  ProjectionExpression: [
    "#pk",
    "#sk",
    "#gpk",
    "#gsk",
    "id",
    "#status",
    "#version",
    "provenance",
    "#source",
    "benchmark_run_id",
    "model_name",
    "task_type",
    "corrected_response",
    "reviewer",
    "decided_at",
    "prompt_ready",
  ].join(", "),
  names: {
    "#pk": TABLE.partitionKey,
    "#sk": TABLE.sortKey,
    "#gpk": byStatus.partitionKey,
    "#gsk": byStatus.sortKey,
    "#status": "status",
    "#version": "version",
    "#source": "source",
  },
};

/**
 * Provenance reads and fills in the single table. Records are read from the status index (never
 * a scan); a fill is one TransactWriteItems of the candidate's conditional update and one counter
 * shard's update, so the report's counters move exactly with what is stored.
 */
export class ProvenanceTable implements ProvenanceStore {
  readonly shards = STATUS_INDEX_SHARDS;

  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readPartition(
    status: CandidateStatus,
    shard: number,
    after: IndexPosition | null,
    limit: number,
    held?: HeldList,
  ): Promise<ProvenancePage> {
    const partition = held ? HELD_PARTITIONS[held](shard) : statusPartition(status, shard);
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: byStatus.name,
        KeyConditionExpression: "#gpk = :gpk",
        ProjectionExpression: PROJECTION.ProjectionExpression,
        ExpressionAttributeNames: PROJECTION.names,
        ExpressionAttributeValues: { ":gpk": partition },
        ExclusiveStartKey: after
          ? { ...keys.candidate(after[1]), [byStatus.partitionKey]: partition, [byStatus.sortKey]: after[0] }
          : undefined,
        Limit: limit,
      }),
    );
    const last = result.LastEvaluatedKey;
    return {
      records: (result.Items ?? []).map((item) => ({ record: recordOf(item), position: positionOf(item) })),
      next: last ? positionOf(last) : null,
    };
  }

  async find(id: string): Promise<ProvenanceRecord | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.candidate(id),
        ConsistentRead: true,
        ProjectionExpression: PROJECTION.ProjectionExpression,
        ExpressionAttributeNames: PROJECTION.names,
      }),
    );
    return Item ? recordOf(Item) : null;
  }

  async fill(
    record: ProvenanceRecord,
    fill: ProvenanceFill,
    delta: CounterDelta,
  ): Promise<"filled" | "stale"> {
    const update = fillUpdate(record, fill);
    const outcome = await transactConditionally<"stale">(this.dynamodb, this.tableName, {
      build: async () => ({
        items: [{ Update: { TableName: this.tableName, Key: keys.candidate(record.id), ...update } }],
        counters: delta,
      }),
      onConditionFailed: () => "stale",
      idempotent: true,
    });
    return outcome.committed ? "filled" : outcome.value;
  }
}

/**
 * The conditional update of one fill: each field is set only where the record still holds what
 * was read (absent, `null` or blank), at the version it was read at. A record with no block gets
 * the whole block, on condition that it still has none.
 */
export function fillUpdate(record: ProvenanceRecord, fill: ProvenanceFill) {
  const names: Record<string, string> = {
    "#pk": TABLE.partitionKey,
    "#prov": "provenance",
    "#version": "version",
  };
  const values: Record<string, unknown> = {};
  const conditions = ["attribute_exists(#pk)"];
  const sets: string[] = [];
  if (typeof record.version === "number") {
    conditions.push("#version = :expected");
    values[":expected"] = record.version;
    values[":version"] = record.version + 1;
  } else {
    conditions.push("attribute_not_exists(#version)");
    values[":version"] = 1;
  }
  sets.push("#version = :version");

  if (fill.createsBlock) {
    conditions.push("attribute_not_exists(#prov)");
    values[":prov"] = fill.provenance;
    sets.push("#prov = :prov");
  } else {
    conditions.push("attribute_exists(#prov)");
    const current = record.provenance as Record<string, unknown>;
    Object.entries(fill.fields).forEach(([field, value], i) => {
      names[`#f${i}`] = field;
      values[`:f${i}`] = value;
      sets.push(`#prov.#f${i} = :f${i}`);
      const was = current[field];
      if (was === undefined) conditions.push(`attribute_not_exists(#prov.#f${i})`);
      else if (was === null) {
        values[":null"] = "NULL";
        conditions.push(`attribute_type(#prov.#f${i}, :null)`);
      } else {
        values[`:was${i}`] = was;
        conditions.push(`#prov.#f${i} = :was${i}`);
      }
    });
    names["#filled"] = "backfilled_fields";
    values[":filled"] = fill.filled;
    values[":none"] = [];
    sets.push("#prov.#filled = list_append(if_not_exists(#prov.#filled, :none), :filled)");
  }
  return {
    UpdateExpression: `SET ${sets.join(", ")}`,
    ConditionExpression: conditions.join(" AND "),
    ExpressionAttributeNames: names,
    ExpressionAttributeValues: values,
  };
}

function recordOf(item: Item): ProvenanceRecord {
  const { [TABLE.partitionKey]: _pk, [TABLE.sortKey]: _sk, ...rest } = item;
  delete rest[byStatus.partitionKey];
  delete rest[byStatus.sortKey];
  return rest as unknown as ProvenanceRecord;
}

function positionOf(item: Item): IndexPosition {
  return [String(item[byStatus.sortKey]), String(item[TABLE.partitionKey]).slice("CAND#".length)];
}

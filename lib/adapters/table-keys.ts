import { createHash } from "node:crypto";
import type { Candidate, CandidateStatus } from "../domain/candidate.ts";
import { COUNTER_SHARDS, STATUS_INDEX_SHARDS, TABLE } from "../resources.ts";

/** Key layout of the single table. Every item carries `type` so a reader never guesses. */
export const keys = {
  candidate: (id: string) => ({ [TABLE.partitionKey]: `CAND#${id}`, [TABLE.sortKey]: "CAND" }),
  candidateEvent: (id: string, at: string, seq: string) => ({
    [TABLE.partitionKey]: `CAND#${id}`,
    [TABLE.sortKey]: `EVENT#${at}#${seq}`,
  }),
  run: (runId: string) => ({ [TABLE.partitionKey]: `RUN#${runId}`, [TABLE.sortKey]: "RUN" }),
  counterShard: (shard: number) => ({ [TABLE.partitionKey]: "STATS", [TABLE.sortKey]: `SHARD#${shard}` }),
  /** Settings changed at run time, one item per area (`review`: the runs prefix). */
  settings: (area: string) => ({ [TABLE.partitionKey]: "SETTINGS", [TABLE.sortKey]: area }),
} as const;

export function shardOf(id: string, shards: number): number {
  return createHash("md5").update(id).digest().readUInt32BE(0) % shards;
}

export function statusPartition(status: CandidateStatus, shard: number): string {
  return `STATUS#${status}#${shard}`;
}

/** Queue order: the time the answer was produced (or captured), then the id for a total order. */
export function queueSortKey(candidate: Pick<Candidate, "id" | "timestamp" | "provenance">): string {
  const when = candidate.timestamp
    ? new Date(candidate.timestamp)
    : new Date(candidate.provenance.captured_at);
  const iso = Number.isNaN(when.getTime()) ? candidate.provenance.captured_at : when.toISOString();
  return `${iso}#${candidate.id}`;
}

/** Index attributes for a candidate in `status`: the status index always, the run index when it has a run. */
export function candidateIndexKeys(
  candidate: Pick<Candidate, "id" | "timestamp" | "provenance">,
  status: CandidateStatus,
): Record<string, string> {
  const { byStatus, byRun } = TABLE.indexes;
  const indexKeys: Record<string, string> = {
    [byStatus.partitionKey]: statusPartition(status, shardOf(candidate.id, STATUS_INDEX_SHARDS)),
    [byStatus.sortKey]: queueSortKey(candidate),
  };
  const { source_run_id: runId, line } = candidate.provenance;
  if (runId) {
    indexKeys[byRun.partitionKey] = `RUN#${runId}`;
    indexKeys[byRun.sortKey] = `${String(line ?? 0).padStart(10, "0")}#${candidate.id}`;
  }
  return indexKeys;
}

export function randomCounterShard(): number {
  return Math.floor(Math.random() * COUNTER_SHARDS);
}

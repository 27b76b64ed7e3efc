import { queueSortKey, shardOf } from "../../common/adapters/table-keys.ts";
import type { Candidate } from "../../common/domain/candidate.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../common/resources.ts";

/**
 * Keys of double review in the single table. Votes and a round's record sit in the candidate's
 * partition. While a candidate waits for more votes it is in a voting partition of the status
 * index (`VOTING#<shard>`, in queue order), out of the queue's; while it waits for an admin, in an
 * adjudication partition (`ADJUDICATE#<shard>`). Completed rounds and the review log (every
 * decision and undo, by UTC day) are partitions of the eval-session index (gsi3), like exports.
 */

const { byStatus, evalSessions } = TABLE.indexes;

export const VOTE_PREFIX = "VOTE#";
export const ROUND_PREFIX = "ROUND#";
export const REVIEW_ROUNDS_PARTITION = "REVIEWROUNDS";
export const reviewLogPartition = (day: string) => `REVIEWLOG#${day}`;
export const votingPartition = (shard: number) => `VOTING#${shard}`;
export const adjudicationPartition = (shard: number) => `ADJUDICATE#${shard}`;

const pad = (round: number) => String(round).padStart(6, "0");

export const voteKeys = {
  vote: (id: string, round: number, reviewer: string) => ({
    [TABLE.partitionKey]: `CAND#${id}`,
    [TABLE.sortKey]: `${VOTE_PREFIX}${pad(round)}#${reviewer}`,
  }),
  votePrefix: (round: number) => `${VOTE_PREFIX}${pad(round)}#`,
  round: (id: string, round: number) => ({
    [TABLE.partitionKey]: `CAND#${id}`,
    [TABLE.sortKey]: `${ROUND_PREFIX}${pad(round)}`,
  }),
};

type Placed = Pick<Candidate, "id" | "timestamp" | "provenance">;

/** Status-index attributes of a candidate waiting for more votes, in its place in the queue's order. */
export function votingIndexKeys(candidate: Placed): Record<string, string> {
  return {
    [byStatus.partitionKey]: votingPartition(shardOf(candidate.id, STATUS_INDEX_SHARDS)),
    [byStatus.sortKey]: queueSortKey(candidate),
  };
}

/** Status-index attributes of a candidate waiting for an admin's decision. */
export function adjudicationIndexKeys(candidate: Placed): Record<string, string> {
  return {
    [byStatus.partitionKey]: adjudicationPartition(shardOf(candidate.id, STATUS_INDEX_SHARDS)),
    [byStatus.sortKey]: queueSortKey(candidate),
  };
}

/** gsi3 attributes of a history event: the day's review log, in time order. */
export function reviewLogKeys(id: string, at: string, sequence: string): Record<string, string> {
  return {
    [evalSessions.partitionKey]: reviewLogPartition(at.slice(0, 10)),
    [evalSessions.sortKey]: `${at}#${id}#${sequence}`,
  };
}

/** gsi3 attributes of a completed round, in time order. */
export function roundIndexKeys(id: string, round: number, at: string): Record<string, string> {
  return {
    [evalSessions.partitionKey]: REVIEW_ROUNDS_PARTITION,
    [evalSessions.sortKey]: `${at}#${id}#${pad(round)}`,
  };
}

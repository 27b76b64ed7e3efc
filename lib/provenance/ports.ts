import type { CandidateStatus } from "../common/domain/candidate.ts";
import type { BackfillSubject, ProvenanceFill } from "../common/domain/provenance.ts";
import type { CountedCandidate, CounterDelta } from "../common/domain/stats.ts";
import type { IndexPosition } from "./domain/provenance-requests.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
/** A candidate as provenance work reads it from the store. */
export interface ProvenanceRecord extends CountedCandidate, BackfillSubject {
  readonly id: string;
  readonly status: CandidateStatus;
  readonly version?: number;
  readonly source?: string | null;
  readonly benchmark_run_id?: string | null;
  readonly model_name?: string | null;
}

export interface ProvenancePage {
  readonly records: readonly { readonly record: ProvenanceRecord; readonly position: IndexPosition }[];
  /** Where the next read of this partition starts; `null` when the partition is read to its end. */
  readonly next: IndexPosition | null;
}

/**
 * The lists of `needs_review` candidates kept out of the queue's partitions of the status index:
 * leased to a reviewer, waiting for another vote (double review), waiting for adjudication.
 */
export const HELD_LISTS = ["leased", "voting", "adjudication"] as const;
export type HeldList = (typeof HELD_LISTS)[number];

export interface ProvenanceStore {
  /** Partitions of the status index per status. */
  readonly shards: number;
  /**
   * Up to `limit` records of one partition of the status index, in index order, after `after`:
   * the partition of `status`, or with `held` that list's partition (`needs_review` records).
   */
  readPartition(
    status: CandidateStatus,
    shard: number,
    after: IndexPosition | null,
    limit: number,
    held?: HeldList,
  ): Promise<ProvenancePage>;
  /** The record as stored now (a consistent read); `null` when there is no such id. */
  find(id: string): Promise<ProvenanceRecord | null>;
  /**
   * Writes `fill` into the record's provenance with the counter `delta`, in one transaction that
   * applies only while the record is at the version it was read at and still lacks every field
   * the fill sets. `stale` when it was not (nothing was written).
   */
  fill(record: ProvenanceRecord, fill: ProvenanceFill, delta: CounterDelta): Promise<"filled" | "stale">;
}

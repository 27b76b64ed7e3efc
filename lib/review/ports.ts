import type { CounterDelta } from "../common/domain/stats.ts";
import type { BulkJob } from "./domain/bulk.ts";
import type { ReviewPolicy, ReviewPolicyRule, ReviewRound, Vote } from "./domain/double-review.ts";
import type { Lease } from "./domain/lease.ts";
import type { QueueFilters, QueuePosition } from "./domain/queue.ts";
import type { ReviewEvent, ReviewSubject, Transition } from "./domain/review.ts";
import type { LogEvent } from "./domain/reviewer-numbers.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
/** A candidate as the API shows it: every stored field, the full prompt and answer, no storage keys. */
export type CandidateView = Readonly<Record<string, unknown>> & {
  readonly id: string;
  readonly status: string;
};

/** A decision made by a bulk job: its marker (the candidate and the version it left) is written with it. */
export interface BulkMark {
  readonly bulkId: string;
}

export interface ReviewStore {
  /** The candidate's current review state, read consistently; `null` when there is no such id. */
  findSubject(id: string): Promise<ReviewSubject | null>;
  /**
   * Writes the transition, its history event and its counter delta in one transaction that
   * applies only if the candidate is still at `from` and `expectedVersion`. Throws `NotFoundError`
   * when the candidate is gone and `ConflictError` (naming the current status) when it moved.
   */
  apply(transition: Transition, bulk?: BulkMark): Promise<void>;
  /** The candidate and its history, oldest event first; `null` when there is no such id. */
  detail(id: string): Promise<{ candidate: CandidateView; history: ReviewEvent[] } | null>;
}

export interface QueueWalk {
  readonly filters: QueueFilters;
  /** Start after this position; from the oldest item when `null`. */
  readonly after: QueuePosition | null;
  /** Items to pass over before the page starts (Avocet's `page`). */
  readonly skip: number;
  readonly limit: number;
}

export interface QueueReader {
  /** The number of shards a position has one entry for. */
  readonly shards: number;
  /**
   * `needs_review` candidates oldest first, merged over the shards: the page, the position
   * after its last item and whether any item follows.
   */
  walk(walk: QueueWalk): Promise<{ items: CandidateView[]; position: QueuePosition; more: boolean }>;
}

/** The queue as its index holds it: `QueueReader.walk` without loading prompts and answers from the body store. */
export interface QueueIndex {
  walkItems(walk: QueueWalk): Promise<{ items: QueuedItem[]; position: QueuePosition; more: boolean }>;
  /**
   * The same queue (unleased candidates in the status's own partitions) restricted to one run,
   * read from the run index in line order: what it reads grows with the run, not with the queue.
   */
  walkRunItems(walk: RunWalk): Promise<{ items: QueuedItem[]; position: RunPosition | null; more: boolean }>;
}

/** Where a walk of the run index stands: the last item's run-index sort key and its id. */
export type RunPosition = readonly [sortKey: string, id: string];

export interface RunWalk {
  readonly runId: string;
  /** Every filter applies, `run_id` included. */
  readonly filters: QueueFilters;
  /** Start after this position; from the run's first line when `null`. */
  readonly after: RunPosition | null;
  readonly limit: number;
}

export interface CounterReader {
  read(): Promise<CounterDelta>;
}

/** A stored candidate as an index read shows it: enough to claim it and to check the filters. */
export type QueuedItem = Readonly<Record<string, unknown>> & {
  readonly id: string;
  readonly lease_expires_at?: string;
};

export interface LeaseStore {
  /** Up to `perShard` candidates per lease partition whose lease expired by `now`, earliest first. */
  expired(now: string, perShard: number): Promise<QueuedItem[]>;
  /**
   * Candidates waiting for more votes (double review) under `filters` that `voter` has not voted
   * on, in the queue's order: of at most `perShard` read per voting partition.
   */
  awaitingVotes(filters: QueueFilters, voter: string, perShard: number): Promise<QueuedItem[]>;
  /** The `limit` oldest unleased `needs_review` candidates under `filters`, in the queue's order. */
  queued(filters: QueueFilters, limit: number): Promise<QueuedItem[]>;
  /**
   * One conditional write: leases the candidate for `lease` if it is still `needs_review` and
   * nobody holds it (no lease, or one expired by `now`), moving it into its lease partition.
   * The candidate as it is now, or `null` when another reviewer got there first.
   */
  claim(item: QueuedItem, lease: Lease, now: string): Promise<CandidateView | null>;
  /**
   * Ends `holder`'s lease: the candidate goes back into its queue partition, in its place. When
   * `holder` does not hold it (anymore), nothing changes and the current state is answered.
   */
  release(
    id: string,
    holder: string,
  ): Promise<{ released: true } | { released: false; current: ReviewSubject }>;
  /** Returns a candidate whose lease expired by `now` to the queue; `false` when it changed since read. */
  expire(item: QueuedItem, now: string): Promise<boolean>;
}

export interface BulkStore {
  create(job: BulkJob): Promise<void>;
  find(id: string): Promise<BulkJob | null>;
  /** Saves `job` only if the stored one is still at `expectedVersion`; `false` when another batch saved first. */
  save(job: BulkJob, expectedVersion: number): Promise<boolean>;
  /** The candidates the bulk decided, with the version each decision left, in id order after `after`. */
  marks(
    id: string,
    after: string | null,
    limit: number,
  ): Promise<{ items: { candidate_id: string; version: number }[]; last: string | null; more: boolean }>;
}

/** Double review: the policy, votes and rounds, the adjudication queue and the review log. */
export interface VoteStore {
  readPolicy(): Promise<ReviewPolicy>;
  writePolicy(rules: readonly ReviewPolicyRule[], by: string, at: string): Promise<ReviewPolicy>;
  /** The votes of a candidate's round, oldest first, read consistently. */
  votes(id: string, round: number): Promise<Vote[]>;
  /**
   * A vote that does not settle the candidate, with its history event; with `round`, the votes
   * disagreed and the candidate goes to adjudication. A `ConflictError` when this reviewer voted
   * already or the candidate moved on.
   */
  castVote(subject: ReviewSubject, vote: Vote, event: ReviewEvent, round: ReviewRound | null): Promise<void>;
  /** Takes `reviewer`'s vote back (with its history event): the candidate waits for it again. */
  retract(subject: ReviewSubject, reviewer: string, event: ReviewEvent): Promise<void>;
  /** The settling vote: the transition, the vote and the round's record in one transaction. */
  settle(transition: Transition, vote: Vote, round: ReviewRound): Promise<void>;
  /** An admin's decision on a candidate in adjudication, noted on its round's record. */
  adjudicate(transition: Transition, round: number): Promise<void>;
  /** Candidates waiting for adjudication, oldest first. */
  awaitingAdjudication(
    after: QueuePosition | null,
    limit: number,
  ): Promise<{ items: CandidateView[]; position: QueuePosition; more: boolean }>;
  /** Completed rounds whose record time falls between `from` and `to` (either may be open). */
  rounds(from: string | null, to: string | null): Promise<ReviewRound[]>;
  /** The review log of these UTC days, between `from` and `to`. */
  log(days: readonly string[], from: string, to: string): Promise<LogEvent[]>;
}

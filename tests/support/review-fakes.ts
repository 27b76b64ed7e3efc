import { queueSortKey } from "../../lib/common/adapters/table-keys.ts";
import { type Candidate, newCandidateFromLine } from "../../lib/common/domain/candidate.ts";
import { ConflictError, NotFoundError } from "../../lib/common/domain/errors.ts";
import { type CounterDelta, deltaForNew, mergeDeltas } from "../../lib/common/domain/stats.ts";
import type { BulkJob } from "../../lib/review/domain/bulk.ts";
import {
  blockingLease,
  type Lease,
  type LeaseFields,
  leaseConflict,
  matchesFilters,
} from "../../lib/review/domain/lease.ts";
import type { QueueFilters } from "../../lib/review/domain/queue.ts";
import type { ReviewEvent, ReviewSubject, Transition } from "../../lib/review/domain/review.ts";
import type {
  BulkMark,
  BulkStore,
  CandidateView,
  LeaseStore,
  QueuedItem,
  QueueIndex,
  QueueReader,
  QueueWalk,
  ReviewStore,
  RunWalk,
} from "../../lib/review/ports.ts";

/** A stored candidate for tests: `needs_review`, version 1, from run `run-1`. */
export function storedCandidate(id: string, overrides: Partial<Candidate> = {}): Candidate {
  return {
    ...newCandidateFromLine(
      {
        id,
        timestamp: "2026-04-07T14:30:22Z",
        prompt_messages: [{ role: "user", content: "2 + 2?" }],
        model_response: "5",
        task_type: "math",
        model_name: "m1",
      },
      {
        source: "benchmark",
        channel: "s3-upload",
        model: "m1",
        captured_at: "2026-04-07T15:00:00.000Z",
        source_run_id: "run-1",
        key: "runs/run-1/sft_candidates.jsonl",
        line: 1,
      },
    ),
    ...overrides,
  };
}

/** A candidate a reviewer approved with a correction, its provenance naming who and when. */
export function approvedCandidate(id: string): Candidate {
  const candidate = storedCandidate(id, { status: "approved", corrected_response: "4", prompt_ready: true });
  return {
    ...candidate,
    provenance: {
      ...candidate.provenance,
      approved: true,
      approved_by: "ana",
      approved_at: "2026-04-08T09:00:00.000Z",
    } as Candidate["provenance"],
  };
}

/** The review store in memory, with the same compare-and-set rule as the table's transaction. */
export class MemoryReviewStore implements ReviewStore {
  readonly candidates = new Map<string, Candidate & Record<string, unknown>>();
  readonly events: ReviewEvent[] = [];
  counters: CounterDelta = {};

  add(...candidates: Candidate[]): this {
    for (const candidate of candidates) {
      this.candidates.set(candidate.id, { ...candidate });
      this.counters = mergeDeltas([this.counters, deltaForNew(candidate)]);
    }
    return this;
  }

  async findSubject(id: string): Promise<ReviewSubject | null> {
    return this.candidates.get(id) ?? null;
  }

  /** Candidates decided by a bulk job, with the version the decision left, by bulk id. */
  readonly bulkMarks = new Map<string, Map<string, number>>();

  async apply(transition: Transition, bulk?: BulkMark): Promise<void> {
    const current = this.candidates.get(transition.subject.id);
    if (!current) throw new NotFoundError(`Candidate ${transition.subject.id} not found`);
    if (current.status !== transition.from || current.version !== transition.expectedVersion) {
      throw new ConflictError(`changed (current status: ${current.status})`, current.status);
    }
    const guard = transition.leaseGuard;
    const held = guard ? blockingLease(current as LeaseFields, guard.holder, guard.at) : null;
    if (held) throw leaseConflict(current.id, held);
    const provenance: Record<string, unknown> = { ...current.provenance, ...transition.provenance.set };
    for (const name of transition.provenance.remove) delete provenance[name];
    this.candidates.set(current.id, {
      ...current,
      status: transition.to,
      version: transition.version,
      corrected_response: transition.corrected_response,
      draft_correction: transition.draft_correction,
      failure_category: transition.failure_category,
      reviewer: transition.reviewer,
      decided_at: transition.decided_at,
      provenance: provenance as unknown as Candidate["provenance"],
      lease_holder: undefined,
      lease_holder_name: undefined,
      lease_expires_at: undefined,
    });
    this.events.push(transition.event);
    this.counters = mergeDeltas([this.counters, transition.counterDelta]);
    if (bulk) {
      const marks = this.bulkMarks.get(bulk.bulkId) ?? new Map<string, number>();
      marks.set(transition.subject.id, transition.version);
      this.bulkMarks.set(bulk.bulkId, marks);
    }
  }

  async detail(id: string) {
    const candidate = this.candidates.get(id);
    if (!candidate) return null;
    return {
      candidate: candidate as unknown as CandidateView,
      history: this.events.filter((event) => event.candidate_id === id),
    };
  }
}

/**
 * Leases over a `MemoryReviewStore`'s candidates, with the table's rules: a claim succeeds only on
 * a `needs_review` candidate nobody holds (or whose lease expired); the queue lists only unleased
 * ones, oldest first. `reads` counts the items each method looked at.
 */
export class MemoryLeaseStore implements LeaseStore {
  reads = 0;
  /** Ids to lose the race for: the claim fails because another reviewer (`sub-thief`) just took them. */
  readonly stolen = new Set<string>();

  constructor(private readonly store: MemoryReviewStore) {}

  private get all() {
    return [...this.store.candidates.values()];
  }

  async expired(now: string, perShard: number): Promise<QueuedItem[]> {
    const expired = this.all
      .filter((c) => c.status === "needs_review" && typeof c.lease_expires_at === "string")
      .filter((c) => (c.lease_expires_at as string) < now)
      .sort((a, b) => String(a.lease_expires_at).localeCompare(String(b.lease_expires_at)))
      .slice(0, perShard * 4);
    this.reads += expired.length;
    return expired as unknown as QueuedItem[];
  }

  async awaitingVotes(filters: QueueFilters, voter: string, perShard: number): Promise<QueuedItem[]> {
    const voted = (c: Record<string, unknown>) => Array.isArray(c.voters) && c.voters.includes(voter);
    const items = this.all
      .filter((c) => c.status === "needs_review" && c.lease_expires_at === undefined)
      .filter((c) => typeof c.votes === "number" && c.votes > 0 && !c.adjudication && !voted(c))
      .filter((c) => matchesFilters(c, filters))
      .sort((a, b) => queueSortKey(a).localeCompare(queueSortKey(b)))
      .slice(0, perShard * 4);
    this.reads += items.length;
    return items as unknown as QueuedItem[];
  }

  async queued(filters: QueueFilters, limit: number): Promise<QueuedItem[]> {
    const items = this.all
      .filter(
        (c) => c.status === "needs_review" && c.lease_expires_at === undefined && !c.votes && !c.adjudication,
      )
      .filter((c) => matchesFilters(c, filters))
      .sort((a, b) => queueSortKey(a).localeCompare(queueSortKey(b)))
      .slice(0, limit);
    this.reads += items.length;
    return items as unknown as QueuedItem[];
  }

  async claim(item: QueuedItem, lease: Lease, now: string): Promise<CandidateView | null> {
    const current = this.store.candidates.get(item.id);
    if (current && this.stolen.delete(item.id)) {
      this.store.candidates.set(item.id, {
        ...current,
        lease_holder: "sub-thief",
        lease_holder_name: "thief",
        lease_expires_at: "2999-01-01T00:00:00.000Z",
      });
      return null;
    }
    if (current?.status !== "needs_review") return null;
    const expires = current.lease_expires_at as string | undefined;
    if (expires !== undefined && expires > now) return null;
    const leased = {
      ...current,
      lease_holder: lease.holder,
      lease_holder_name: lease.holder_name,
      lease_expires_at: lease.expires_at,
    };
    this.store.candidates.set(item.id, leased);
    return leased as unknown as CandidateView;
  }

  async release(id: string, holder: string) {
    const current = this.store.candidates.get(id);
    if (!current) throw new NotFoundError(`Candidate ${id} not found`);
    if (current.status !== "needs_review" || current.lease_holder !== holder) {
      return { released: false as const, current: current as ReviewSubject };
    }
    this.unlease(id);
    return { released: true as const };
  }

  async expire(item: QueuedItem, now: string): Promise<boolean> {
    const current = this.store.candidates.get(item.id);
    const expires = current?.lease_expires_at;
    if (!current || expires !== item.lease_expires_at || typeof expires !== "string" || expires > now)
      return false;
    this.unlease(item.id);
    return true;
  }

  private unlease(id: string) {
    const current = this.store.candidates.get(id);
    if (!current) return;
    const { lease_holder: _h, lease_holder_name: _n, lease_expires_at: _e, ...rest } = current;
    this.store.candidates.set(id, rest as typeof current);
  }
}

/** Bulk jobs in memory over a `MemoryReviewStore` (its markers), with the table's version check. */
export class MemoryBulkStore implements BulkStore {
  readonly jobs = new Map<string, BulkJob>();

  constructor(private readonly store: MemoryReviewStore) {}

  async create(job: BulkJob) {
    this.jobs.set(job.id, job);
  }

  async find(id: string) {
    return this.jobs.get(id) ?? null;
  }

  async save(job: BulkJob, expectedVersion: number) {
    if (this.jobs.get(job.id)?.version !== expectedVersion) return false;
    this.jobs.set(job.id, job);
    return true;
  }

  async marks(id: string, after: string | null, limit: number) {
    const all = [...(this.store.bulkMarks.get(id) ?? new Map<string, number>()).entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .filter(([candidateId]) => after === null || candidateId > after);
    const items = all.slice(0, limit).map(([candidate_id, version]) => ({ candidate_id, version }));
    return { items, last: items.at(-1)?.candidate_id ?? after, more: all.length > limit };
  }
}

/** The queue over a `MemoryReviewStore`: unleased `needs_review` candidates, oldest first. */
export class MemoryQueue implements QueueReader, QueueIndex {
  readonly shards = 1;

  constructor(private readonly store: MemoryReviewStore) {}

  async walk(walk: QueueWalk) {
    const { items, position, more } = await this.walkItems(walk);
    return { items: items as unknown as CandidateView[], position, more };
  }

  async walkItems({ filters, after, skip, limit }: QueueWalk) {
    const start = after?.[0]?.[0] ?? "";
    const queue = [...this.store.candidates.values()]
      .filter((c) => c.status === "needs_review" && c.lease_expires_at === undefined)
      .filter((c) => matchesFilters(c, filters))
      .sort((a, b) => queueSortKey(a).localeCompare(queueSortKey(b)))
      .filter((c) => queueSortKey(c) > start);
    const items = queue.slice(skip, skip + limit);
    const last = items.at(-1);
    return {
      items: items as unknown as QueuedItem[],
      position: [last ? ([queueSortKey(last), last.id] as [string, string]) : (after?.[0] ?? null)],
      more: queue.length > skip + limit,
    };
  }

  /** The run's unleased waiting candidates under `filters`, in line order (then id), as the run index holds them. */
  async walkRunItems({ runId, filters, after, limit }: RunWalk) {
    const runKey = (c: Candidate) => `${String(c.provenance.line ?? 0).padStart(10, "0")}#${c.id}`;
    const start = after?.[0] ?? "";
    const run = [...this.store.candidates.values()]
      .filter((c) => c.provenance.source_run_id === runId)
      .filter((c) => c.status === "needs_review" && c.lease_expires_at === undefined)
      .filter((c) => matchesFilters(c, filters))
      .sort((a, b) => runKey(a).localeCompare(runKey(b)))
      .filter((c) => runKey(c) > start);
    const items = run.slice(0, limit);
    const last = items.at(-1);
    return {
      items: items as unknown as QueuedItem[],
      position: last ? ([runKey(last), last.id] as const) : after,
      more: run.length > limit,
    };
  }
}

import { type Candidate, newCandidateFromLine } from "../../lib/common/domain/candidate.ts";
import { ConflictError, NotFoundError } from "../../lib/common/domain/errors.ts";
import { type CounterDelta, deltaForNew, mergeDeltas } from "../../lib/common/domain/stats.ts";
import type { ReviewEvent, ReviewSubject, Transition } from "../../lib/review/domain/review.ts";
import type { CandidateView, ReviewStore } from "../../lib/review/ports.ts";

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

  async apply(transition: Transition): Promise<void> {
    const current = this.candidates.get(transition.subject.id);
    if (!current) throw new NotFoundError(`Candidate ${transition.subject.id} not found`);
    if (current.status !== transition.from || current.version !== transition.expectedVersion) {
      throw new ConflictError(`changed (current status: ${current.status})`, current.status);
    }
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
    });
    this.events.push(transition.event);
    this.counters = mergeDeltas([this.counters, transition.counterDelta]);
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

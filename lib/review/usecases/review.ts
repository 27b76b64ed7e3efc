import { NotFoundError } from "../../shared/domain/errors.ts";
import {
  type Decision,
  planDecision,
  planUndo,
  type ReviewEvent,
  type ReviewSubject,
  type Transition,
} from "../domain/review.ts";

/** A candidate as the API shows it: every stored field, the full prompt and answer, no storage keys. */
export type CandidateView = Readonly<Record<string, unknown>> & {
  readonly id: string;
  readonly status: string;
};

export interface ReviewStore {
  /** The candidate's current review state, read consistently; `null` when there is no such id. */
  findSubject(id: string): Promise<ReviewSubject | null>;
  /**
   * Writes the transition, its history event and its counter delta in one transaction that
   * applies only if the candidate is still at `from` and `expectedVersion`. Throws `NotFoundError`
   * when the candidate is gone and `ConflictError` (naming the current status) when it moved.
   */
  apply(transition: Transition): Promise<void>;
  /** The candidate and its history, oldest event first; `null` when there is no such id. */
  detail(id: string): Promise<{ candidate: CandidateView; history: ReviewEvent[] } | null>;
}

export interface ReviewDeps {
  readonly store: ReviewStore;
  readonly now?: () => Date;
}

async function subjectOf(deps: ReviewDeps, id: string): Promise<ReviewSubject> {
  const subject = await deps.store.findSubject(id);
  if (!subject) throw new NotFoundError(`Candidate ${id} not found`);
  return subject;
}

/**
 * Records a reviewer's decision: one conditional write, so of two reviewers deciding the same
 * candidate at once exactly one wins and the other gets a `ConflictError`.
 */
export async function submitDecision(
  deps: ReviewDeps,
  decision: Decision,
  reviewer: string,
): Promise<Transition> {
  const subject = await subjectOf(deps, decision.id);
  const transition = planDecision(subject, decision, reviewer, (deps.now ?? (() => new Date()))());
  await deps.store.apply(transition);
  return transition;
}

/** Takes a decision back: the candidate returns to the queue without its correction or category. */
export async function undoDecision(deps: ReviewDeps, id: string, reviewer: string): Promise<Transition> {
  const subject = await subjectOf(deps, id);
  const transition = planUndo(subject, reviewer, (deps.now ?? (() => new Date()))());
  await deps.store.apply(transition);
  return transition;
}

export async function candidateDetail(deps: Pick<ReviewDeps, "store">, id: string) {
  const detail = await deps.store.detail(id);
  if (!detail) throw new NotFoundError(`Candidate ${id} not found`);
  return detail;
}

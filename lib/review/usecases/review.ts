import { NotFoundError } from "../../common/domain/errors.ts";
import { type Metrics, metrics } from "../../common/metrics.ts";
import {
  type Actor,
  type Decision,
  planDecision,
  planUndo,
  type ReviewSubject,
  type Transition,
} from "../domain/review.ts";
import { REVIEW_METRICS } from "../metrics.ts";
import type { ReviewStore } from "../ports.ts";

export interface ReviewDeps {
  readonly store: ReviewStore;
  readonly now?: () => Date;
  /** Where decisions (by action) and undos are counted; the process's metrics unless given. */
  readonly metrics?: Metrics;
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
  reviewer: Actor,
): Promise<Transition> {
  const subject = await subjectOf(deps, decision.id);
  const transition = planDecision(subject, decision, reviewer, (deps.now ?? (() => new Date()))());
  await deps.store.apply(transition);
  (deps.metrics ?? metrics).count(REVIEW_METRICS.decisions, 1, decision.action);
  return transition;
}

/** Takes a decision back: the candidate returns to the queue without its correction or category. */
export async function undoDecision(deps: ReviewDeps, id: string, reviewer: Actor): Promise<Transition> {
  const subject = await subjectOf(deps, id);
  const transition = planUndo(subject, reviewer, (deps.now ?? (() => new Date()))());
  await deps.store.apply(transition);
  (deps.metrics ?? metrics).count(REVIEW_METRICS.undos);
  return transition;
}

export async function candidateDetail(deps: Pick<ReviewDeps, "store">, id: string) {
  const detail = await deps.store.detail(id);
  if (!detail) throw new NotFoundError(`Candidate ${id} not found`);
  return detail;
}

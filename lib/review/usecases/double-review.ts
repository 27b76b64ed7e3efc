import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import { type Metrics, metrics } from "../../common/metrics.ts";
import { correctionSource } from "../../suggest/domain/suggestion.ts";
import { type AgreementReport, agreementReport } from "../domain/agreement.ts";
import {
  adjudicationConflict,
  planVote,
  type ReviewPolicy,
  type ReviewPolicyRequest,
  reviewsRequired,
  roundOf,
} from "../domain/double-review.ts";
import { blockingLease, leaseConflict } from "../domain/lease.ts";
import { decodeCursor, encodeCursor } from "../domain/queue.ts";
import {
  type Actor,
  type Decision,
  planDecision,
  type ReviewEvent,
  type ReviewSubject,
  type Transition,
  withDecisionFacts,
} from "../domain/review.ts";
import {
  daysOf,
  type ReviewerNumbersReport,
  type ReviewerStatsQuery,
  reviewerNumbers,
  windowOf,
} from "../domain/reviewer-numbers.ts";
import { REVIEW_METRICS } from "../metrics.ts";
import type { CandidateView, ReviewStore, VoteStore } from "../ports.ts";
import { submitDecision, undoDecision } from "./review.ts";

export interface DoubleReviewDeps {
  readonly store: ReviewStore;
  readonly votes: VoteStore;
  readonly now?: () => Date;
  readonly metrics?: Metrics;
}

/** Where a decision left the candidate: decided, or (double review) waiting for votes or an admin. */
export interface DecisionOutcome {
  readonly state: "decided" | "awaiting_votes" | "adjudication";
  /** Votes cast in the round and votes it needs; absent for a candidate under no double review. */
  readonly votes?: number;
  readonly reviews_required?: number;
  /** How a double review settled: the votes agreed, or an admin adjudicated. */
  readonly settled_by?: "agreement" | "adjudication";
}

const clock = (deps: { now?: () => Date }) => (deps.now ?? (() => new Date()))();
const actorId = (actor: Actor) => (typeof actor === "string" ? actor : actor.id);

async function subjectOf(deps: Pick<DoubleReviewDeps, "store">, id: string): Promise<ReviewSubject> {
  const subject = await deps.store.findSubject(id);
  if (!subject) throw new NotFoundError(`Candidate ${id} not found`);
  return subject;
}

/**
 * `POST /api/sft/submit` under the review policy. A candidate that needs one review is decided as
 * always (`submitDecision`). One that needs more, or already has a vote, takes the decision as a
 * vote: stored with the reviewer's id (a second vote of the same reviewer is a 409), and when it
 * is the last vote needed, the votes either agree and settle the candidate (one review
 * transition: the counters move once) or disagree and send it to adjudication.
 */
export async function decide(
  deps: Omit<DoubleReviewDeps, "votes"> & { readonly votes?: VoteStore | undefined },
  decision: Decision,
  actor: Actor,
): Promise<DecisionOutcome> {
  const { votes: store } = deps;
  // Without a vote store (a deployment wired without double review) every decision is single.
  if (!store) {
    await submitDecision(deps, decision, actor);
    return { state: "decided" };
  }
  const subject = await subjectOf(deps, decision.id);
  const policy = await store.readPolicy();
  const voted = (subject.votes ?? 0) > 0 || Boolean(subject.adjudication);
  // A candidate with votes stays under double review even if the policy changed since.
  const required = Math.max(reviewsRequired(policy, subject), voted ? 2 : 1);
  if (required === 1) {
    await submitDecision(deps, decision, actor);
    return { state: "decided" };
  }
  const at = clock(deps);
  const round = subject.vote_round ?? 0;
  const previous = (subject.votes ?? 0) > 0 ? await store.votes(subject.id, round) : [];
  const outcome = planVote(subject, decision, actor, at, required, previous);
  const votes = previous.length + 1;
  const count = () => (deps.metrics ?? metrics).count(REVIEW_METRICS.decisions, 1, decision.action);
  if (outcome.kind === "settle") {
    const planned = planDecision(subject, outcome.decision, actor, at, "agreement");
    // The event is this reviewer's decision: its origin is their own text's, not the first vote's.
    const own = ownOrigin(decision, subject);
    // Provenance names every reviewer whose vote settled it, beside the last as `approved_by`/`excluded_by`.
    const transition: Transition = withDecisionFacts(
      planned,
      { settled_by: "agreement", reviewed_by: outcome.votes.map((vote) => vote.reviewer) },
      own ? { correction_origin: own } : {},
    );
    await store.settle(
      transition,
      outcome.vote,
      roundOf(subject, outcome.votes, true, transition.updated_at),
    );
    count();
    return { state: "decided", votes, reviews_required: required, settled_by: "agreement" };
  }
  const adjudicate = outcome.kind === "adjudicate";
  const event = voteEvent(subject, outcome.vote, decision, adjudicate);
  await store.castVote(
    subject,
    outcome.vote,
    event,
    adjudicate ? roundOf(subject, outcome.votes, false, outcome.vote.at) : null,
  );
  count();
  return { state: adjudicate ? "adjudication" : "awaiting_votes", votes, reviews_required: required };
}

function ownOrigin(decision: Decision, subject: ReviewSubject) {
  if (decision.action !== "correct") return null;
  return correctionSource(
    decision.corrected_response ?? "",
    decision.suggestion_id ?? null,
    subject.suggestion,
  ).origin;
}

/** The history event of a vote that does not settle: the status stays, the version moves on. */
function voteEvent(
  subject: ReviewSubject,
  vote: ReturnType<typeof planVote>["vote"],
  decision: Decision,
  toAdjudication: boolean,
): ReviewEvent {
  const origin = ownOrigin(decision, subject);
  return {
    candidate_id: subject.id,
    action: vote.action,
    from: "needs_review",
    to: "needs_review",
    failure_category: vote.failure_category,
    reviewer: vote.reviewer,
    ...(vote.reviewer_name ? { reviewer_name: vote.reviewer_name } : {}),
    at: vote.at,
    version: subject.version + 1,
    corrected_response: vote.corrected_response,
    replaced_correction: null,
    vote: true,
    ...(toAdjudication ? { to_adjudication: true } : {}),
    ...(origin ? { correction_origin: origin } : {}),
    ...(vote.lease_started_at ? { lease_started_at: vote.lease_started_at } : {}),
  };
}

/**
 * `POST /api/sft/undo`: a decision is taken back as always (`undoDecision`; a settled double
 * review starts a new round). On a candidate still waiting for votes, the caller's own vote is
 * taken back instead; the candidate waits for it again (and is the caller's to take again). A
 * vote is not taken back while another reviewer holds the candidate: a 409 naming the holder,
 * as for a decision.
 */
export async function undo(
  deps: Omit<DoubleReviewDeps, "votes"> & { readonly votes?: VoteStore | undefined },
  id: string,
  actor: Actor,
): Promise<void> {
  const { votes: store } = deps;
  const subject = store ? await subjectOf(deps, id) : null;
  const reviewer = actorId(actor);
  if (!store || !subject || subject.status !== "needs_review" || !(subject.voters ?? []).includes(reviewer)) {
    await undoDecision(deps, id, actor);
    return;
  }
  if (subject.adjudication) throw adjudicationConflict(id);
  const at = clock(deps).toISOString();
  // As for a decision: while another reviewer holds the candidate (to cast the next vote), the
  // votes are theirs to add to, not the caller's to take from.
  const held = blockingLease(subject, actor, at);
  if (held) throw leaseConflict(id, held);
  const name = typeof actor === "string" || actor.name === actor.id ? null : actor.name;
  await store.retract(subject, reviewer, {
    candidate_id: id,
    action: "undo",
    from: "needs_review",
    to: "needs_review",
    failure_category: null,
    reviewer,
    ...(name ? { reviewer_name: name } : {}),
    at,
    version: subject.version + 1,
    corrected_response: null,
    replaced_correction: null,
    vote: true,
  });
  (deps.metrics ?? metrics).count(REVIEW_METRICS.undos);
}

/** `POST /api/sft/adjudication/{id}`: an admin's decision on a candidate whose votes disagreed settles it. */
export async function adjudicate(
  deps: DoubleReviewDeps,
  decision: Decision,
  actor: Actor,
): Promise<DecisionOutcome> {
  const subject = await subjectOf(deps, decision.id);
  if (!subject.adjudication) {
    throw new ConflictError(
      `Candidate ${subject.id} is not awaiting adjudication (current status: ${subject.status})`,
      subject.status,
    );
  }
  // Provenance names the reviewers who disagreed and the admin who settled it.
  const transition = withDecisionFacts(planDecision(subject, decision, actor, clock(deps), "adjudication"), {
    settled_by: "adjudication",
    reviewed_by: [...(subject.voters ?? [])],
    adjudicated_by: actorId(actor),
  });
  await deps.votes.adjudicate(transition, subject.vote_round ?? 0);
  (deps.metrics ?? metrics).count(REVIEW_METRICS.decisions, 1, decision.action);
  return { state: "decided", votes: subject.votes ?? 0, settled_by: "adjudication" };
}

/** `GET /api/sft/adjudication`: candidates waiting for an admin, oldest first, with their votes. */
export async function adjudicationQueue(
  deps: Pick<DoubleReviewDeps, "votes">,
  query: { per_page: number; cursor?: string | undefined },
  shards: number,
): Promise<{ items: (CandidateView & { votes_cast: unknown[] })[]; next_cursor: string | null }> {
  const after = query.cursor ? decodeCursor(query.cursor, shards) : null;
  const page = await deps.votes.awaitingAdjudication(after, query.per_page);
  const items = await Promise.all(
    page.items.map(async (item) => {
      const round = typeof item.vote_round === "number" ? item.vote_round : 0;
      const votes = await deps.votes.votes(item.id, round);
      return { ...item, votes_cast: votes };
    }),
  );
  return { items, next_cursor: page.more ? encodeCursor(page.position) : null };
}

export async function readPolicy(deps: Pick<DoubleReviewDeps, "votes">): Promise<ReviewPolicy> {
  return deps.votes.readPolicy();
}

export async function writePolicy(
  deps: Pick<DoubleReviewDeps, "votes" | "now">,
  request: ReviewPolicyRequest,
  actor: Actor,
): Promise<ReviewPolicy> {
  return deps.votes.writePolicy(request.rules, actorId(actor), clock(deps).toISOString());
}

/** `GET /api/sft/stats/agreement?from=&to=`: agreement over the rounds completed in the window (all when open). */
export async function agreementStats(
  deps: Pick<DoubleReviewDeps, "votes" | "now">,
  query: { from?: string | undefined; to?: string | undefined },
): Promise<AgreementReport & { from: string | null; to: string | null }> {
  // Bounded like the reviewer numbers: the rounds of one window are read, never every round kept.
  const { from, to } = windowOf(query, clock(deps));
  return { from, to, ...agreementReport(await deps.votes.rounds(from, to)) };
}

/** `GET /api/sft/stats/reviewers?from=&to=`: reviewer numbers over the window (the last 7 days by default). */
export async function reviewerStats(
  deps: Pick<DoubleReviewDeps, "votes" | "now">,
  query: ReviewerStatsQuery,
): Promise<ReviewerNumbersReport> {
  const window = windowOf(query, clock(deps));
  return reviewerNumbers(await deps.votes.log(daysOf(window), window.from, window.to), window);
}

import { createHash } from "node:crypto";
import * as z from "zod";
import { FailureCategory } from "../../common/domain/candidate.ts";
import { ConflictError } from "../../common/domain/errors.ts";
import { REVIEW_ACTIONS } from "../../common/domain/vocabulary.ts";
import { blockingLease, leaseConflict } from "./lease.ts";
import type { Actor, Decision, ReviewAction, ReviewSubject } from "./review.ts";

/**
 * Double review. A policy says how many distinct reviewers must decide a candidate of a source or
 * task type (`reviews_required`, 1 by default). Under a policy of 2 or more, a decision is a vote:
 * the candidate stays `needs_review` (the counters do not move) until the last vote it needs.
 * Votes that all agree settle it as they decided; votes that disagree send it to adjudication,
 * where an admin's decision settles it. Counters move once, at settlement.
 *
 * Two decisions agree when they have the same action and, for `correct`, the same text once
 * normalised (`normaliseCorrection`: Unicode NFC, line endings as `\n`, runs of blanks as one
 * space, blanks around lines and the whole text removed). Case and punctuation count: "27.5" and
 * "27,5" are different answers. Failure categories do not count (they say why, not what).
 */

export const MAX_REVIEWS_REQUIRED = 5;

const ruleValue = z.string().trim().min(1).max(512);

export const ReviewPolicyRule = z
  .object({
    /** Candidates whose `provenance.source` is this; every source when absent. */
    source: ruleValue.optional(),
    /** Candidates of this task type; every task type when absent. */
    task_type: ruleValue.optional(),
    reviews_required: z.number().int().min(1).max(MAX_REVIEWS_REQUIRED),
  })
  .strict();
export type ReviewPolicyRule = z.infer<typeof ReviewPolicyRule>;

/** `POST /api/sft/review-policy`: the whole list of rules, replacing the stored one. */
export const ReviewPolicyRequest = z
  .object({ rules: z.array(ReviewPolicyRule).max(200) })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Set<string>();
    policy.rules.forEach((rule, i) => {
      const key = JSON.stringify([rule.source ?? null, rule.task_type ?? null]);
      if (seen.has(key)) {
        ctx.addIssue({
          code: "custom",
          path: ["rules", i],
          message: "another rule has the same source and task_type",
        });
      }
      seen.add(key);
    });
  });
export type ReviewPolicyRequest = z.infer<typeof ReviewPolicyRequest>;

export interface ReviewPolicy {
  readonly rules: readonly ReviewPolicyRule[];
  readonly updated_by: string | null;
  readonly updated_at: string | null;
}

export const EMPTY_POLICY: ReviewPolicy = { rules: [], updated_by: null, updated_at: null };

type PolicySubject = Pick<ReviewSubject, "task_type" | "provenance">;

const sourceOf = (subject: PolicySubject): string | undefined => {
  const source = (subject.provenance as { source?: unknown } | null | undefined)?.source;
  return typeof source === "string" ? source : undefined;
};

/** Reviews a candidate needs: the highest of the rules that match it (a rule's absent fields match anything), else 1. */
export function reviewsRequired(policy: Pick<ReviewPolicy, "rules">, subject: PolicySubject): number {
  const source = sourceOf(subject);
  let required = 1;
  for (const rule of policy.rules) {
    if (rule.source !== undefined && rule.source !== source) continue;
    if (rule.task_type !== undefined && rule.task_type !== subject.task_type) continue;
    required = Math.max(required, rule.reviews_required);
  }
  return required;
}

/** The text two corrections are compared by. */
export function normaliseCorrection(text: string): string {
  return text
    .normalize("NFC")
    .replace(/\r\n?/g, "\n")
    .split("\n")
    .map((line) => line.replace(/[ \t\f\v\u00a0]+/g, " ").trim())
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
}

/** A short key of a normalised correction: equal keys, equal texts. */
export function correctionKey(text: string | null): string | null {
  return text === null
    ? null
    : createHash("sha256").update(normaliseCorrection(text)).digest("hex").slice(0, 32);
}

/** One reviewer's vote, as stored beside the candidate. */
export interface Vote {
  readonly candidate_id: string;
  readonly round: number;
  readonly reviewer: string;
  readonly reviewer_name?: string | null;
  readonly action: ReviewAction;
  readonly corrected_response: string | null;
  readonly failure_category: FailureCategory | null;
  readonly suggestion_id?: string | null;
  readonly at: string;
  /** When the voter's lease began, if the vote was made under it. */
  readonly lease_started_at?: string | null;
}

/** Whether two decisions agree (see the file's comment). */
export function votesAgree(
  a: Pick<Vote, "action" | "corrected_response">,
  b: Pick<Vote, "action" | "corrected_response">,
): boolean {
  if (a.action !== b.action) return false;
  if (a.action !== "correct") return true;
  return correctionKey(a.corrected_response) === correctionKey(b.corrected_response);
}

/** The double-review state a candidate item carries beside its status. */
export interface VoteFields {
  /** Votes cast in the current round. */
  readonly votes?: number | null;
  /** Who cast them (ids). */
  readonly voters?: readonly string[] | null;
  /** The round: it starts at 0 and moves on when a settled candidate's decision is undone. */
  readonly vote_round?: number | null;
  /** Set while the votes disagree and an admin has not decided. */
  readonly adjudication?: boolean | null;
}

/** What a vote leads to: another vote awaited, a settlement by agreement, or adjudication. */
export type VoteOutcome =
  | { readonly kind: "awaiting"; readonly vote: Vote; readonly required: number }
  | {
      readonly kind: "settle";
      readonly vote: Vote;
      readonly votes: readonly Vote[];
      readonly decision: Decision;
    }
  | { readonly kind: "adjudicate"; readonly vote: Vote; readonly votes: readonly Vote[] };

const actorId = (actor: Actor) => (typeof actor === "string" ? actor : actor.id);
const actorName = (actor: Actor) =>
  typeof actor === "string" || actor.name === actor.id ? null : actor.name;

/** The 409 for a candidate waiting for an admin's decision. */
export function adjudicationConflict(id: string): ConflictError {
  return new ConflictError(
    `Candidate ${id} awaits adjudication: its reviewers disagreed (current status: needs_review)`,
    "needs_review",
  );
}

/**
 * A reviewer's decision on a candidate that needs `required` reviews, given the votes already cast
 * in its round: a `ConflictError` when the candidate is decided, held by someone else, waiting
 * for adjudication, or already has this reviewer's vote.
 */
export function planVote(
  subject: ReviewSubject & VoteFields,
  decision: Decision,
  actor: Actor,
  at: Date,
  required: number,
  previous: readonly Vote[],
): VoteOutcome {
  if (subject.status !== "needs_review") {
    throw new ConflictError(
      `Candidate ${subject.id} is ${subject.status}, not needs_review (current status: ${subject.status})`,
      subject.status,
    );
  }
  if (subject.adjudication) throw adjudicationConflict(subject.id);
  const reviewer = actorId(actor);
  if ((subject.voters ?? []).includes(reviewer) || previous.some((vote) => vote.reviewer === reviewer)) {
    throw new ConflictError(
      `You have already voted on candidate ${subject.id}: a second review needs another reviewer (current status: needs_review)`,
      "needs_review",
    );
  }
  const held = blockingLease(subject, actor, at);
  if (held) throw leaseConflict(subject.id, held);
  const name = actorName(actor);
  const leaseStarted =
    subject.lease_holder === reviewer
      ? ((subject as { lease_started_at?: string | null }).lease_started_at ?? null)
      : null;
  const vote: Vote = {
    candidate_id: subject.id,
    round: subject.vote_round ?? 0,
    reviewer,
    ...(name ? { reviewer_name: name } : {}),
    action: decision.action,
    corrected_response: decision.action === "correct" ? decision.corrected_response : null,
    failure_category: decision.failure_category,
    ...(decision.suggestion_id ? { suggestion_id: decision.suggestion_id } : {}),
    at: at.toISOString(),
    ...(leaseStarted ? { lease_started_at: leaseStarted } : {}),
  };
  const votes = [...previous, vote];
  if (votes.length < required) return { kind: "awaiting", vote, required };
  const [first] = votes as [Vote, ...Vote[]];
  if (votes.every((other) => votesAgree(first, other))) {
    return {
      kind: "settle",
      vote,
      votes,
      // The candidate takes the first vote's decision: its text, its category, its suggestion.
      decision: {
        id: subject.id,
        action: first.action,
        corrected_response: first.corrected_response,
        failure_category: first.failure_category,
        ...(first.suggestion_id ? { suggestion_id: first.suggestion_id } : {}),
      },
    };
  }
  return { kind: "adjudicate", vote, votes };
}

/** A completed round, as the agreement statistics read it. */
export interface ReviewRound {
  readonly candidate_id: string;
  readonly round: number;
  readonly at: string;
  readonly task_type: string | null;
  readonly source: string | null;
  readonly agreed: boolean;
  readonly votes: readonly {
    readonly reviewer: string;
    readonly reviewer_name?: string | null;
    readonly action: ReviewAction;
    readonly failure_category: FailureCategory | null;
    /** `correctionKey` of the vote's correction; `null` for other actions. */
    readonly text_key: string | null;
  }[];
  /** The admin's decision, once the round was adjudicated. */
  readonly adjudication?: {
    readonly action: ReviewAction;
    readonly reviewer: string;
    readonly at: string;
  } | null;
}

export function roundOf(
  subject: ReviewSubject,
  votes: readonly Vote[],
  agreed: boolean,
  at: string,
): ReviewRound {
  return {
    candidate_id: subject.id,
    round: votes[0]?.round ?? 0,
    at,
    task_type: subject.task_type ?? null,
    source: sourceOf(subject) ?? null,
    agreed,
    votes: votes.map((vote) => ({
      reviewer: vote.reviewer,
      ...(vote.reviewer_name ? { reviewer_name: vote.reviewer_name } : {}),
      action: vote.action,
      failure_category: vote.failure_category,
      text_key: correctionKey(vote.corrected_response),
    })),
  };
}

const integer = z
  .string()
  .regex(/^\s*\d+\s*$/, "must be an integer")
  .transform(Number);

/** `GET /api/sft/adjudication?per_page=&cursor=`. */
export const AdjudicationQuery = z.object({
  per_page: integer.pipe(z.number().int().min(1).max(100)).default(20),
  cursor: z.string().min(1).max(4096).optional(),
});

/** `GET /api/sft/stats/agreement?from=&to=`: rounds completed in the window, the last 7 days by default, at most 31. */
export const AgreementQuery = z.object({
  from: z.string().datetime({ offset: true }).optional(),
  to: z.string().datetime({ offset: true }).optional(),
});

/**
 * `POST /api/sft/adjudication/{id}`: the admin's decision, a submit body without the id (the path
 * names it). It is checked as `SubmitRequest` with the path's id, so the rules are the same.
 */
export const AdjudicationBody = z.object({
  action: z.enum(REVIEW_ACTIONS),
  corrected_response: z.string().nullish(),
  failure_category: FailureCategory.nullish(),
});

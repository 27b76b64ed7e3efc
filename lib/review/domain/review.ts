import * as z from "zod";
import { type Candidate, type CandidateStatus, FailureCategory } from "../../common/domain/candidate.ts";
import { ConflictError } from "../../common/domain/errors.ts";
import { type CounterDelta, deltaForChange } from "../../common/domain/stats.ts";
import { REVIEW_ACTIONS } from "../../common/domain/vocabulary.ts";
import {
  type CorrectionOrigin,
  correctionSource,
  ORIGIN_FACTS,
  originFacts,
} from "../../suggest/domain/suggestion.ts";
import { adjudicationConflict, type VoteFields } from "./double-review.ts";
import { blockingLease, type LeaseFields, leaseConflict } from "./lease.ts";

/**
 * The review state machine. A candidate waits in `needs_review`; a reviewer's decision moves it
 * to `approved` (with a correction), `discarded` or `model_rejected`; undo brings it back.
 *
 *   needs_review ──correct──▶ approved
 *   needs_review ──discard──▶ discarded
 *   needs_review ──flag─────▶ model_rejected
 *   approved | discarded | model_rejected ──undo──▶ needs_review
 */
export { REVIEW_ACTIONS };
export const ReviewAction = z.enum(REVIEW_ACTIONS);
export type ReviewAction = z.infer<typeof ReviewAction>;

export const DECISION_TARGET = {
  correct: "approved",
  discard: "discarded",
  flag: "model_rejected",
} as const satisfies Record<ReviewAction, CandidateStatus>;

/**
 * The candidate item already holds up to ~300 KB inline and must stay under DynamoDB's 400 KB
 * item limit once the correction is added; a correction is an answer, not a document.
 */
export const MAX_CORRECTION_BYTES = 64 * 1024;

export const CandidateId = z
  .string()
  .min(1)
  .max(512)
  .refine((id) => id.trim() !== "", "must not be blank");

/** `POST /api/sft/submit`. A correction is kept only for `correct`; the category for every action. */
export const SubmitRequest = z
  .object({
    id: CandidateId,
    action: ReviewAction,
    corrected_response: z.string().nullish(),
    failure_category: FailureCategory.nullish(),
    /**
     * The suggestion (its `id`) the reviewer's correction started from, if any: the server
     * compares the texts and records the correction as `accepted` or `edited` (else `written`).
     */
    suggestion_id: z.string().min(1).max(512).nullish(),
  })
  .superRefine((request, ctx) => {
    const correction = request.corrected_response ?? "";
    if (request.action === "correct" && correction.trim() === "") {
      ctx.addIssue({
        code: "custom",
        path: ["corrected_response"],
        message: "corrected_response must be a non-blank string when action is 'correct'",
      });
    }
    if (Buffer.byteLength(correction) > MAX_CORRECTION_BYTES) {
      ctx.addIssue({
        code: "custom",
        path: ["corrected_response"],
        message: `corrected_response must be at most ${MAX_CORRECTION_BYTES} bytes`,
      });
    }
  })
  .transform(
    (request): Decision => ({
      id: request.id,
      action: request.action,
      corrected_response: request.action === "correct" ? (request.corrected_response ?? null) : null,
      failure_category: request.failure_category ?? null,
      ...(request.action === "correct" && request.suggestion_id
        ? { suggestion_id: request.suggestion_id }
        : {}),
    }),
  );
export type SubmitRequest = z.input<typeof SubmitRequest>;

export interface Decision {
  readonly id: string;
  readonly action: ReviewAction;
  readonly corrected_response: string | null;
  readonly failure_category: FailureCategory | null;
  /** The suggestion a correction started from, as the client says; absent or `null`: none. */
  readonly suggestion_id?: string | null;
}

/** `POST /api/sft/undo`. */
export const UndoRequest = z.object({ id: CandidateId });
export type UndoRequest = z.infer<typeof UndoRequest>;

/** `POST /api/sft/release`: gives a leased candidate back to the queue (a skip). */
export const ReleaseRequest = z.object({ id: CandidateId });
export type ReleaseRequest = z.infer<typeof ReleaseRequest>;

/** What a transition needs to know about the candidate it changes. */
export type ReviewSubject = Pick<
  Candidate,
  | "id"
  | "status"
  | "version"
  | "corrected_response"
  | "failure_category"
  | "timestamp"
  | "task_type"
  | "provenance"
  | "prompt_ready"
> &
  LeaseFields &
  VoteFields & {
    /** The suggested correction stored beside the candidate, if a suggestion job wrote one. */
    readonly suggestion?: unknown;
    /** When the current lease began (`next`), for the time a decision took. */
    readonly lease_started_at?: string | null;
  };

/**
 * Who made a change: the immutable id that is recorded and compared (a token's `sub`), and a
 * name for people to read beside it. A plain id is its own name.
 */
export type Actor = string | { readonly id: string; readonly name: string };

const actorId = (actor: Actor) => (typeof actor === "string" ? actor : actor.id);
/** The display name, when it says more than the id. */
const actorName = (actor: Actor) =>
  typeof actor === "string" || actor.name === actor.id ? null : actor.name;

/** One entry of a candidate's history: every decision and every undo. */
export interface ReviewEvent {
  readonly candidate_id: string;
  readonly action: ReviewAction | "undo";
  readonly from: CandidateStatus;
  readonly to: CandidateStatus;
  readonly failure_category: FailureCategory | null;
  readonly reviewer: string;
  /** For display only: the reviewer's name when the id does not say it (an email beside a `sub`). */
  readonly reviewer_name?: string | null;
  readonly at: string;
  /** The candidate's version after the change. */
  readonly version: number;
  /** The correction this change set (a `correct`), so the history holds every text ever approved. */
  readonly corrected_response: string | null;
  /** The correction in place before this change: what an undo took away stays readable here. */
  readonly replaced_correction: string | null;
  /** The bulk job that made this change, when one did. */
  readonly bulk_id?: string;
  /** A reviewer's correction: accepted as suggested, edited from the suggestion, or written without one. */
  readonly correction_origin?: CorrectionOrigin;
  /** When the decider's lease on the candidate began, when they decided under it. */
  readonly lease_started_at?: string;
  /** A vote of double review that did not settle the candidate (its status did not change). */
  readonly vote?: boolean;
  /** A double-reviewed candidate's settlement: its votes agreed, or an admin adjudicated them. */
  readonly settled_by?: "agreement" | "adjudication";
  /** A vote that found the votes disagreeing: the candidate went to adjudication. */
  readonly to_adjudication?: boolean;
  /**
   * A bulk job's decision on a candidate whose policy asks for more than one review: an admin's
   * decision past the policy, and the reviews the policy asked for.
   */
  readonly policy_override?: boolean;
  readonly reviews_required?: number;
}

/** Review facts kept in the candidate's provenance, next to (never instead of) where it came from. */
export interface ProvenanceReviewFacts {
  readonly set: Readonly<Record<string, string | boolean | number | readonly string[]>>;
  readonly remove: readonly string[];
}

/**
 * How a decision was reached, beside who made it: a double review's settlement (`settled_by`,
 * the voters in `reviewed_by`, the admin in `adjudicated_by`), or a bulk job's decision
 * (`decided_in_bulk`, and `policy_override` with the `reviews_required` it went past).
 */
export const DECISION_FACTS = [
  "settled_by",
  "reviewed_by",
  "adjudicated_by",
  "decided_in_bulk",
  "policy_override",
  "reviews_required",
] as const;

const REVIEW_FACTS = [
  "approved",
  "approved_by",
  "approved_at",
  "excluded",
  "exclusion_reason",
  "excluded_by",
  "excluded_at",
  ...ORIGIN_FACTS,
  ...DECISION_FACTS,
] as const;

/**
 * The decision with more review facts in the candidate's provenance (how it was reached:
 * `DECISION_FACTS`) and on its history event; an undo removes them with the rest.
 */
export function withDecisionFacts(
  transition: Transition,
  facts: Readonly<Record<string, string | boolean | number | readonly string[]>>,
  event: Partial<ReviewEvent> = {},
): Transition {
  return {
    ...transition,
    provenance: {
      set: { ...transition.provenance.set, ...facts },
      remove: transition.provenance.remove.filter((name) => !(name in facts)),
    },
    event: { ...transition.event, ...event },
  };
}

/** The provenance block once `facts` are applied: only the review facts change, the origin stays. */
export function withReviewFacts(provenance: unknown, facts: ProvenanceReviewFacts): Record<string, unknown> {
  const base = provenance !== null && typeof provenance === "object" ? provenance : {};
  const next: Record<string, unknown> = { ...base, ...facts.set };
  for (const name of facts.remove) delete next[name];
  return next;
}

/** Why a record is kept out of training sets: the decision, and the failure category when given. */
export function exclusionReason(status: CandidateStatus, category: FailureCategory | null): string {
  return category ? `${status}:${category}` : status;
}

/** One change of a candidate's review state, written atomically with its event and counters. */
export interface Transition {
  readonly subject: ReviewSubject;
  readonly from: CandidateStatus;
  readonly to: CandidateStatus;
  /** The write applies only if the stored candidate is still at this version (and `from`). */
  readonly expectedVersion: number;
  readonly version: number;
  readonly corrected_response: string | null;
  /** The correction an undo took away, offered as the reviewer's starting draft; `null` otherwise. */
  readonly draft_correction: string | null;
  readonly failure_category: FailureCategory | null;
  /** Who decided and when; both `null` once a decision is undone. */
  readonly reviewer: string | null;
  /** For display only: the decider's name beside `reviewer`. */
  readonly reviewer_name: string | null;
  readonly decided_at: string | null;
  readonly updated_by: string;
  readonly updated_at: string;
  readonly provenance: ProvenanceReviewFacts;
  readonly counterDelta: CounterDelta;
  readonly event: ReviewEvent;
  /**
   * A decision applies only while nobody else holds the candidate: the write is conditional on
   * no lease, the decider's own, or one expired by `at`. Every transition ends any lease.
   */
  readonly leaseGuard: { readonly holder: string; readonly at: string } | null;
  /** Set when this decision settles a double review: by agreement, or an admin's on a candidate in adjudication. */
  readonly settled_by?: "agreement" | "adjudication";
}

function conflict(subject: Pick<ReviewSubject, "id" | "status">, expected: string): ConflictError {
  return new ConflictError(
    `Candidate ${subject.id} is ${subject.status}, not ${expected} (current status: ${subject.status})`,
    subject.status,
  );
}

function transition(
  subject: ReviewSubject,
  change: Pick<
    Transition,
    "to" | "corrected_response" | "draft_correction" | "failure_category" | "provenance"
  > & {
    readonly action: ReviewEvent["action"];
    readonly decided: boolean;
    readonly correction_origin?: CorrectionOrigin;
  },
  actor: Actor,
  at: Date,
): Transition {
  const time = at.toISOString();
  const version = subject.version + 1;
  const reviewer = actorId(actor);
  const name = actorName(actor);
  const leaseStarted =
    change.decided && subject.lease_holder === reviewer && subject.lease_started_at
      ? subject.lease_started_at
      : null;
  const after = {
    ...subject,
    status: change.to,
    corrected_response: change.corrected_response,
    provenance: withReviewFacts(subject.provenance, change.provenance),
  };
  return {
    subject,
    from: subject.status,
    to: change.to,
    expectedVersion: subject.version,
    version,
    corrected_response: change.corrected_response,
    draft_correction: change.draft_correction,
    failure_category: change.failure_category,
    reviewer: change.decided ? reviewer : null,
    reviewer_name: change.decided ? name : null,
    decided_at: change.decided ? time : null,
    updated_by: reviewer,
    updated_at: time,
    provenance: change.provenance,
    counterDelta: deltaForChange(subject, after),
    leaseGuard: change.decided ? { holder: reviewer, at: time } : null,
    event: {
      candidate_id: subject.id,
      action: change.action,
      from: subject.status,
      to: change.to,
      failure_category: change.failure_category,
      reviewer,
      ...(name ? { reviewer_name: name } : {}),
      at: time,
      version,
      corrected_response: change.corrected_response,
      replaced_correction: subject.corrected_response ?? null,
      ...(change.correction_origin ? { correction_origin: change.correction_origin } : {}),
      ...(leaseStarted ? { lease_started_at: leaseStarted } : {}),
    },
  };
}

/**
 * A reviewer's decision on a candidate waiting for review; a `ConflictError` for any other state.
 * `settledBy` marks the decision that settles a double review (the last agreeing vote, or an
 * admin's adjudication, the only decision a candidate in adjudication takes).
 */
export function planDecision(
  subject: ReviewSubject,
  decision: Decision,
  actor: Actor,
  at: Date,
  settledBy?: "agreement" | "adjudication",
): Transition {
  if (subject.status !== "needs_review") throw conflict(subject, "needs_review");
  if (Boolean(subject.adjudication) !== (settledBy === "adjudication")) {
    if (subject.adjudication) throw adjudicationConflict(subject.id);
    throw new ConflictError(
      `Candidate ${subject.id} is not awaiting adjudication (current status: ${subject.status})`,
      subject.status,
    );
  }
  // A candidate with votes is settled by its votes alone (or an adjudication): a single decision
  // (a bulk batch that listed it before the first vote) would leave the round's votes behind.
  if (!settledBy && (subject.votes ?? 0) > 0) {
    throw new ConflictError(
      `Candidate ${subject.id} is under double review: it is decided by its votes (current status: needs_review)`,
      subject.status,
    );
  }
  const held = blockingLease(subject, actor, at);
  if (held) throw leaseConflict(subject.id, held);
  const reviewer = actorId(actor);
  const to = DECISION_TARGET[decision.action];
  const time = at.toISOString();
  // Where a correction came from, by the texts the server holds (`correctionSource`).
  const source =
    to === "approved"
      ? correctionSource(
          decision.corrected_response ?? "",
          decision.suggestion_id ?? null,
          subject.suggestion,
        )
      : null;
  const origin = source ? originFacts(source) : {};
  const facts: ProvenanceReviewFacts =
    to === "approved"
      ? {
          set: { approved: true, approved_by: reviewer, approved_at: time, ...origin },
          remove: REVIEW_FACTS.filter((f) => !f.startsWith("approved") && !(f in origin)),
        }
      : {
          set: {
            approved: false,
            excluded: true,
            exclusion_reason: exclusionReason(to, decision.failure_category),
            excluded_by: reviewer,
            excluded_at: time,
          },
          remove: ["approved_by", "approved_at", ...ORIGIN_FACTS, ...DECISION_FACTS],
        };
  const planned = transition(
    subject,
    {
      action: decision.action,
      to,
      corrected_response: to === "approved" ? decision.corrected_response : null,
      draft_correction: null,
      failure_category: decision.failure_category,
      provenance: facts,
      decided: true,
      ...(source ? { correction_origin: source.origin } : {}),
    },
    actor,
    at,
  );
  return settledBy
    ? { ...planned, settled_by: settledBy, event: { ...planned.event, settled_by: settledBy } }
    : planned;
}

/** Takes a decision back: the candidate waits for review again, without correction or category. */
export function planUndo(subject: ReviewSubject, actor: Actor, at: Date): Transition {
  if (subject.status === "needs_review") {
    throw new ConflictError(
      `Candidate ${subject.id} is already needs_review (current status: needs_review)`,
      subject.status,
    );
  }
  return transition(
    subject,
    {
      action: "undo",
      to: "needs_review",
      corrected_response: null,
      // The undone correction is not lost: its event keeps it, and it is the next draft.
      draft_correction: subject.corrected_response ?? null,
      failure_category: null,
      provenance: { set: {}, remove: REVIEW_FACTS },
      decided: false,
    },
    actor,
    at,
  );
}

/**
 * The conflict to report when a conditional write found the candidate changed since it was read:
 * held by another reviewer (when the transition was a decision), or moved on.
 */
export function staleConflict(
  current: Pick<ReviewSubject, "id" | "status"> & LeaseFields,
  transition?: Transition,
): ConflictError {
  const guard = transition?.leaseGuard;
  if (guard && current.status === "needs_review") {
    const held = blockingLease(current, guard.holder, guard.at);
    if (held) return leaseConflict(current.id, held);
  }
  return new ConflictError(
    `Candidate ${current.id} was changed by another reviewer (current status: ${current.status})`,
    current.status,
  );
}

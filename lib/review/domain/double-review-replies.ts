import * as z from "zod";
import { REVIEW_ACTIONS } from "../../common/domain/vocabulary.ts";
import { ReviewPolicyRule } from "./double-review.ts";

/** The replies of the double-review and reviewer-numbers routes, for the API contract and the web client. */

const rate = z.number().nullable();

/** `POST /api/sft/submit`: Avocet's `{ok: true}`, with where a double review stands beside it. */
export const DecisionOutcomeReply = z.object({
  state: z.enum(["decided", "awaiting_votes", "adjudication"]),
  votes: z.number().optional(),
  reviews_required: z.number().optional(),
  settled_by: z.enum(["agreement", "adjudication"]).optional(),
});
export const SubmitReply = z.object({ ok: z.literal(true), review: DecisionOutcomeReply.optional() });

export const ReviewPolicyReply = z.object({
  rules: z.array(ReviewPolicyRule),
  updated_by: z.string().nullable(),
  updated_at: z.string().nullable(),
});

const Vote = z.looseObject({
  reviewer: z.string(),
  reviewer_name: z.string().nullish(),
  action: z.enum(REVIEW_ACTIONS),
  corrected_response: z.string().nullable(),
  failure_category: z.string().nullable(),
  at: z.string(),
});

export const AdjudicationPage = z.object({
  items: z.array(z.looseObject({ id: z.string(), status: z.string(), votes_cast: z.array(Vote) })),
  next_cursor: z.string().nullable(),
});

const byAction = <T extends z.ZodType>(value: T) => z.object({ correct: value, discard: value, flag: value });

const Agreement = z.object({
  n: z.number(),
  agreed: z.number(),
  percent: rate,
  kappa: rate,
  by_category: byAction(
    z.object({
      kappa: rate,
      specific_agreement: rate,
      rater1: z.number(),
      rater2: z.number(),
      both: z.number(),
    }),
  ),
  confusion: byAction(byAction(z.number())),
});

export const AgreementReply = z.object({
  from: z.string().nullable(),
  to: z.string().nullable(),
  rounds: z.number(),
  settled_by_agreement: z.number(),
  adjudicated: z.number(),
  awaiting_adjudication: z.number(),
  overall: Agreement,
  pairs: z.array(
    Agreement.extend({
      rater1: z.string(),
      rater2: z.string(),
      rater1_name: z.string().nullable(),
      rater2_name: z.string().nullable(),
    }),
  ),
});
export type AgreementReply = z.infer<typeof AgreementReply>;

const Numbers = z.object({
  decisions: z.number(),
  by_action: z.record(z.string(), z.number()),
  active_hours: z.number(),
  decisions_per_hour: rate,
  median_decision_seconds: rate,
  timed_decisions: z.number(),
  undos: z.number(),
  undo_rate: rate,
  suggestions: z.object({
    accepted: z.number(),
    edited: z.number(),
    written: z.number(),
    acceptance: rate,
  }),
});

export const ReviewerStatsReply = z.object({
  from: z.string(),
  to: z.string(),
  overall: Numbers,
  reviewers: z.array(Numbers.extend({ reviewer: z.string(), reviewer_name: z.string().nullable() })),
});
export type ReviewerStatsReply = z.infer<typeof ReviewerStatsReply>;

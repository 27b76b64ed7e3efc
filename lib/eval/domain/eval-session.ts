import * as z from "zod";
import { PromptMessage } from "../../common/domain/candidate.ts";
import { MAX_COUNTED_LABEL_CHARS } from "../../common/domain/stats.ts";
import { storageProblem } from "../../common/domain/storable.ts";
import {
  type AxisScores,
  CURRENT_VERSIONS,
  type ExpertVerdict,
  type JudgeVersions,
  roundedScores,
} from "./rubric.ts";

const identifier = (max: number) =>
  z
    .string()
    .trim()
    .min(1)
    .max(max)
    .refine((id) => !/\p{Cc}/u.test(id), "must not contain control characters");

/** Any ISO 8601 date-time with an offset, stored normalised to UTC (`toISOString`) so it sorts. */
const instant = z.iso.datetime({ offset: true }).transform((value) => new Date(value).toISOString());

export const MAX_SESSION_MESSAGES = 10_000;

/** `POST /api/eval/sessions`: a chat session as the product records it, created or replaced. */
export const SessionInput = z
  .object({
    id: identifier(256),
    profile_id: identifier(128),
    name: z.string().max(500).default(""),
    created_at: instant,
    last_active: instant.optional(),
    pinned: z.boolean().default(false),
    // A message's `model` is counted (by model) once an answer becomes a candidate: capped like
    // every counted label, so one long name cannot fill the counters' items for everyone.
    messages: z
      .array(PromptMessage.extend({ model: z.string().max(MAX_COUNTED_LABEL_CHARS).nullish() }))
      .max(MAX_SESSION_MESSAGES),
  })
  // A message keeps its unknown fields, and messages are stored as they came: what the store
  // cannot hold (a number past 2^53, 32 levels, a field named `constructor`) is a 422 naming where.
  .superRefine((session, ctx) => {
    const problem = storageProblem({ messages: session.messages });
    if (problem) ctx.addIssue({ code: "custom", path: problem.path.split("."), message: problem.detail });
  })
  .transform((session) => ({ ...session, last_active: session.last_active ?? session.created_at }));
export type SessionInput = z.output<typeof SessionInput>;

export type SessionMessage = PromptMessage;

export const Rating = z.union([z.literal(1), z.literal(-1)]);
export type Rating = z.infer<typeof Rating>;

/** `POST /api/eval/feedback`: a like (1) or dislike (-1) of one message; the rater is the caller. */
export const FeedbackInput = z.object({
  session_id: identifier(256),
  message_index: z.number().int().min(0),
  rating: Rating,
  comment: z.string().max(2_000).nullish(),
  /**
   * The product's own end user who rated, when a product sends its users' feedback: recorded as
   * the rater, with the caller that sent it beside it (`sent_by`). Absent, the caller is the rater.
   */
  rater: identifier(256).nullish(),
});
export type FeedbackInput = z.infer<typeof FeedbackInput>;

export interface Feedback {
  readonly session_id: string;
  readonly message_index: number;
  readonly rating: Rating;
  readonly comment: string | null;
  readonly rater: string;
  /** Who sent the rating when it is not the rater's own (a product on behalf of its user). */
  readonly sent_by?: string;
  readonly created_at: string;
  readonly updated_at: string;
}

/**
 * The key a rating is kept under: one per message and rater. A rater a sender named is kept
 * apart per sender, so two products' users of the same name are two raters.
 */
export function raterKey(feedback: Pick<Feedback, "rater" | "sent_by">): string {
  return feedback.sent_by && feedback.sent_by !== feedback.rater
    ? `${feedback.sent_by}/${feedback.rater}`
    : feedback.rater;
}

/** What feedback changes in a session's like and dislike counts. */
export function feedbackCountDelta(
  previous: Rating | null,
  next: Rating,
): { likes: number; dislikes: number } {
  const count = (rating: Rating | null) => ({
    likes: rating === 1 ? 1 : 0,
    dislikes: rating === -1 ? 1 : 0,
  });
  const before = count(previous);
  const after = count(next);
  return { likes: after.likes - before.likes, dislikes: after.dislikes - before.dislikes };
}

/** The latest evaluation of a session, as its summary keeps it. */
export interface EvaluationSummary extends JudgeVersions {
  readonly run_id: string;
  readonly evaluated_at: string;
  readonly model: string;
  readonly backend: string;
  readonly scores: AxisScores;
}

/** One evaluation of a session: the aggregated scores and what each expert said. */
export interface Evaluation extends EvaluationSummary {
  readonly session_id: string;
  readonly experts: readonly ExpertVerdict[];
}

export function evaluationSummary(evaluation: Evaluation): EvaluationSummary {
  const { session_id: _session, experts: _experts, ...summary } = evaluation;
  return summary;
}

export interface JudgeFailure {
  readonly run_id: string;
  readonly at: string;
  readonly error: string;
}

/** A session without its messages: what the overview lists. */
export interface SessionSummary {
  readonly id: string;
  readonly profile_id: string;
  readonly name: string;
  readonly created_at: string;
  readonly last_active: string;
  readonly pinned: boolean;
  readonly message_count: number;
  readonly likes: number;
  readonly dislikes: number;
  readonly latest_evaluation: EvaluationSummary | null;
  readonly last_failure: JudgeFailure | null;
  readonly version: number;
}

export const EVAL_STATUSES = ["evaluated", "pending", "stale"] as const;
export const EvalStatus = z.enum(EVAL_STATUSES);
export type EvalStatus = z.infer<typeof EvalStatus>;

/**
 * A session is `evaluated` when its latest evaluation was made by the current judge under the
 * current rubric, `stale` when by another judge or rubric, `pending` when never evaluated.
 */
export function evaluationStatus(
  latest: JudgeVersions | null | undefined,
  current: JudgeVersions = CURRENT_VERSIONS,
): EvalStatus {
  if (!latest) return "pending";
  return latest.judge_version === current.judge_version && latest.rubric_version === current.rubric_version
    ? "evaluated"
    : "stale";
}

/** `GET /api/eval/sessions` */
export const OverviewQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  offset: z.coerce.number().int().min(0).max(100_000).default(0),
  profile: identifier(128).optional(),
  status: EvalStatus.optional(),
});
export type OverviewQuery = z.infer<typeof OverviewQuery>;

/** One overview row. */
export function overviewRow(summary: SessionSummary, current: JudgeVersions = CURRENT_VERSIONS) {
  const { version: _version, ...fields } = summary;
  return { ...fields, status: evaluationStatus(summary.latest_evaluation, current) };
}
export type OverviewRow = ReturnType<typeof overviewRow>;

/**
 * `GET /api/eval/sessions` as the session eval API answered it: a bare list. Without `limit` it
 * holds up to 500 rows (the most a page may hold), so an old dashboard that never paged sees as
 * many sessions as one request can give; `GET /api/v2/eval/sessions` pages with `has_more`.
 */
export const LegacyOverviewQuery = OverviewQuery.extend({
  limit: z.coerce.number().int().min(1).max(500).default(500),
});

/**
 * One row as the session eval API listed it — `session_id`, `msg_count`, `likes`, `dislikes`,
 * `eval_status`, `latest_avg` (per-axis means rounded to whole numbers), `latest_eval_date`,
 * `latest_judge_version`, `latest_rubric_version` — with Flywheel's row beside them.
 */
export function legacySessionRow(row: OverviewRow) {
  const latest = row.latest_evaluation;
  return {
    ...row,
    session_id: row.id,
    msg_count: row.message_count,
    likes: row.likes,
    dislikes: row.dislikes,
    eval_status: row.status,
    latest_avg: roundedScores(latest?.scores ?? null),
    latest_eval_date: latest?.evaluated_at ?? null,
    latest_judge_version: latest?.judge_version ?? null,
    latest_rubric_version: latest?.rubric_version ?? null,
  };
}

/** `POST /api/eval/sessions/{id}/candidates` */
export const CandidateFromMessageInput = z.object({ message_index: z.number().int().min(0) });
export type CandidateFromMessageInput = z.infer<typeof CandidateFromMessageInput>;

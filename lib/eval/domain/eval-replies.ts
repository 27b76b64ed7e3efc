import * as z from "zod";
import { PromptMessage } from "../../common/domain/candidate.ts";
import { EVAL_STATUSES } from "./eval-session.ts";
import { COMPLEXITY_BUCKETS } from "./eval-stats.ts";
import { JUDGE_BACKENDS, JUDGE_RUN_SCOPES, RUN_SESSION_STATES } from "./judge-run.ts";
import { AXES } from "./rubric.ts";

/**
 * What the eval API answers, as zod schemas: the API's contract (and so its OpenAPI document)
 * is built from them, a test checks the real handler's answers against them, and the web UI
 * takes its types from them. Objects are loose: a field added beside these is not a break.
 */

const axis = z.enum(AXES);
/** Per-axis scores, every axis present: a number, or `null` where the axis was not scored. */
export const AxisScoresReply = z.record(axis, z.number().nullable());

const versions = { judge_version: z.string(), rubric_version: z.string() };

export const EvaluationSummaryReply = z.looseObject({
  run_id: z.string(),
  evaluated_at: z.string(),
  model: z.string(),
  backend: z.string(),
  scores: AxisScoresReply,
  ...versions,
});

export const ExpertVerdictReply = z.looseObject({
  expert: z.string(),
  scores: AxisScoresReply,
  comment: z.string(),
});

export const EvaluationReply = EvaluationSummaryReply.extend({
  session_id: z.string(),
  experts: z.array(ExpertVerdictReply),
});

export const JudgeFailureReply = z.looseObject({ run_id: z.string(), at: z.string(), error: z.string() });

/** One row of `GET /api/v2/eval/sessions`. */
export const OverviewRowReply = z.looseObject({
  id: z.string(),
  profile_id: z.string(),
  name: z.string(),
  created_at: z.string(),
  last_active: z.string(),
  pinned: z.boolean(),
  message_count: z.number(),
  likes: z.number(),
  dislikes: z.number(),
  status: z.enum(EVAL_STATUSES),
  latest_evaluation: EvaluationSummaryReply.nullable(),
  last_failure: JudgeFailureReply.nullable(),
});

/** `GET /api/v2/eval/sessions`: Flywheel's paged overview. */
export const OverviewPageReply = z.looseObject({
  sessions: z.array(OverviewRowReply),
  limit: z.number(),
  offset: z.number(),
  has_more: z.boolean(),
  ...versions,
});

/** A row of `GET /api/eval/sessions`: the session eval API's fields beside Flywheel's. */
export const LegacySessionRowReply = OverviewRowReply.extend({
  session_id: z.string(),
  msg_count: z.number(),
  eval_status: z.enum(EVAL_STATUSES),
  latest_avg: AxisScoresReply.nullable(),
  latest_eval_date: z.string().nullable(),
  latest_judge_version: z.string().nullable(),
  latest_rubric_version: z.string().nullable(),
});

export const FeedbackReply = z.looseObject({
  session_id: z.string(),
  message_index: z.number(),
  rating: z.union([z.literal(1), z.literal(-1)]),
  comment: z.string().nullable(),
  rater: z.string(),
  sent_by: z.string().optional(),
  created_at: z.string(),
  updated_at: z.string(),
});

/** `GET /api/eval/sessions/{id}`: the row with messages, feedback and every evaluation, newest first. */
export const SessionDetailReply = LegacySessionRowReply.extend({
  messages: z.array(PromptMessage),
  feedback: z.array(FeedbackReply),
  evaluations: z.array(EvaluationReply),
});

/** `POST /api/eval/sessions/{id}/candidates` */
export const CandidateMadeReply = z.looseObject({
  id: z.string(),
  status: z.string(),
  created: z.boolean(),
});

/** One session of a run: the session eval API's `state`, `avg`, `error` beside Flywheel's fields. */
export const RunSessionReply = z.looseObject({
  session_id: z.string(),
  status: z.enum(RUN_SESSION_STATES),
  state: z.enum(["pending", "running", "ok", "failed"]),
  avg: AxisScoresReply.nullable(),
  error: z.string().nullable(),
  started_at: z.string().nullish(),
  finished_at: z.string().nullish(),
  scores: AxisScoresReply.nullish(),
  candidates_created: z.number().nullish(),
});

/** `GET /api/eval/run/{id}` (with `sessions`) and each run of `GET /api/eval/runs` (without). */
export const JudgeRunReply = z.looseObject({
  run_id: z.string(),
  state: z.enum(["running", "done", "failed"]),
  started_at: z.string(),
  finished_at: z.string().nullable(),
  judge_model: z.string(),
  ...versions,
  id: z.string(),
  scope: z.enum(JUDGE_RUN_SCOPES),
  session_id: z.string().nullable(),
  since: z.string().nullable(),
  limit: z.number(),
  model: z.string(),
  backend: z.enum(JUDGE_BACKENDS),
  candidates_from_dislikes: z.boolean(),
  total: z.number(),
  done: z.number(),
  failed: z.number(),
  created_at: z.string(),
  created_by: z.string(),
  completed_at: z.string().nullable(),
  status: z.enum(["running", "completed"]),
  counts: z.looseObject({ pending: z.number(), running: z.number(), done: z.number(), failed: z.number() }),
  sessions: z.array(RunSessionReply).optional(),
});

export const JudgeRunsReply = z.looseObject({ runs: z.array(JudgeRunReply) });

export const AxisMeansReply = z.looseObject({
  sessions: z.number(),
  means: AxisScoresReply,
  samples: z.record(axis, z.number()),
});

export const WeekStatsReply = AxisMeansReply.extend({
  week_start: z.string(),
  buckets: z.record(z.enum(COMPLEXITY_BUCKETS), AxisMeansReply).optional(),
});

/** `GET /api/eval/stats` */
export const EvalStatsReply = z.looseObject({
  ...versions,
  days: z.number(),
  since: z.string(),
  by_complexity_bucket: z.boolean(),
  weeks: z.array(WeekStatsReply),
});

export type AxisScoresReply = z.infer<typeof AxisScoresReply>;
export type EvaluationSummaryReply = z.infer<typeof EvaluationSummaryReply>;
export type EvaluationReply = z.infer<typeof EvaluationReply>;
export type OverviewRowReply = z.infer<typeof OverviewRowReply>;
export type OverviewPageReply = z.infer<typeof OverviewPageReply>;
export type FeedbackReply = z.infer<typeof FeedbackReply>;
export type SessionDetailReply = z.infer<typeof SessionDetailReply>;
export type CandidateMadeReply = z.infer<typeof CandidateMadeReply>;
export type RunSessionReply = z.infer<typeof RunSessionReply>;
export type JudgeRunReply = z.infer<typeof JudgeRunReply>;
export type JudgeRunsReply = z.infer<typeof JudgeRunsReply>;
export type AxisMeansReply = z.infer<typeof AxisMeansReply>;
export type WeekStatsReply = z.infer<typeof WeekStatsReply>;
export type EvalStatsReply = z.infer<typeof EvalStatsReply>;

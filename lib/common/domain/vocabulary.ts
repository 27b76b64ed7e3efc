/**
 * The words every part of Flywheel shares — the API, the CLI and the web UI — as plain constants,
 * with no schema library, so the browser bundle can import them too.
 */

/** Why a model's answer was wrong, as a reviewer or a product files it. */
export const FAILURE_CATEGORIES = [
  "scoring_artifact",
  "style_violation",
  "partial_answer",
  "wrong_answer",
  "format_error",
  "hallucination",
] as const;
export type FailureCategory = (typeof FAILURE_CATEGORIES)[number];

/** Where a candidate stands in review. */
export const CANDIDATE_STATUSES = ["needs_review", "approved", "discarded", "model_rejected"] as const;
export type CandidateStatus = (typeof CANDIDATE_STATUSES)[number];

/** What a reviewer can decide about a candidate. */
export const REVIEW_ACTIONS = ["correct", "discard", "flag"] as const;
export type ReviewAction = (typeof REVIEW_ACTIONS)[number];

/**
 * Where a reviewer's correction came from: `accepted` as a suggestion job suggested it, `edited`
 * from that suggestion, or `written` without one.
 */
export const CORRECTION_ORIGINS = ["accepted", "edited", "written"] as const;
export type CorrectionOrigin = (typeof CORRECTION_ORIGINS)[number];

import * as z from "zod";
import { JudgeBackend } from "../../eval/domain/judge-run.ts";
import type { QueueFilters } from "../../review/domain/queue.ts";
import { SUGGESTION_PROMPT_VERSION } from "./prompt.ts";
import type { Suggestion } from "./suggestion.ts";

/**
 * Suggestion jobs: ask the LLM backend for a corrected answer to each waiting candidate a job
 * selects (by run, model, task type, source, or the whole queue), one queue message per
 * candidate, and keep the answer beside the candidate. A job counts what became of each
 * candidate: suggested, failed (by reason) or skipped (by reason).
 */

/** Candidates one job may take: it is started by one API request, which must stay short. */
export const MAX_JOB_CANDIDATES = 1_000;
export const DEFAULT_JOB_CANDIDATES = 100;
/** Queue items a selection reads at most while passing over candidates that already hold a suggestion. */
export const MAX_SELECTION_READS = 20_000;

const filterValue = z.string().trim().min(1).max(512).optional();

/**
 * `POST /api/sft/suggestions`. The filters select waiting candidates as the queue does (none:
 * the whole queue, oldest first, up to `limit`); `suggest_model` and `backend` name the LLM
 * (the judge's defaults when absent). Candidates already holding a suggestion of this prompt
 * version by this model are passed over unless `replace` is true.
 */
export const SuggestionJobRequest = z.object({
  model: filterValue,
  task_type: filterValue,
  run_id: filterValue,
  source: filterValue,
  limit: z.number().int().min(1).max(MAX_JOB_CANDIDATES).default(DEFAULT_JOB_CANDIDATES),
  suggest_model: z.string().trim().min(1).max(256).optional(),
  backend: JudgeBackend.optional(),
  replace: z.boolean().default(false),
});
export type SuggestionJobRequest = z.output<typeof SuggestionJobRequest>;

/** Why a candidate got no suggestion although the model was asked (or could not be). */
export const FAILURE_REASONS = [
  "malformed",
  "timeout",
  "busy",
  "backend_error",
  "not_configured",
  "not_queued",
  "gave_up",
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/** Why a selected candidate was left alone. */
export const SKIP_REASONS = ["decided", "not_found", "already_suggested"] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SuggestionJob {
  readonly id: string;
  readonly filters: QueueFilters;
  readonly limit: number;
  readonly replace: boolean;
  /** The LLM asked, the backend it is asked through, and the prompt's version. */
  readonly model: string;
  readonly backend: JudgeBackend;
  readonly prompt_version: string;
  /** Candidates selected: one message each. */
  readonly total: number;
  /** Candidates the selection passed over because they already hold this job's kind of suggestion. */
  readonly passed_over: number;
  readonly suggested: number;
  readonly failed: number;
  readonly failed_by_reason: Partial<Record<FailureReason, number>>;
  readonly skipped: number;
  readonly skipped_by_reason: Partial<Record<SkipReason, number>>;
  readonly created_at: string;
  readonly created_by: string;
  readonly completed_at: string | null;
}

/** The job as the API answers it: its counts and its state, `done` once every candidate is counted. */
export function suggestionJobView(job: SuggestionJob) {
  const finished = job.suggested + job.failed + job.skipped;
  return {
    ...job,
    state: finished >= job.total ? ("done" as const) : ("running" as const),
    pending: Math.max(0, job.total - finished),
  };
}

/** One message of the suggestion queue: one candidate of one job. */
export const SuggestMessage = z.object({
  job_id: z.string().min(1),
  candidate_id: z.string().min(1),
});
export type SuggestMessage = z.infer<typeof SuggestMessage>;

/** Whether a stored suggestion is what `job` would write again (same prompt version and model). */
export function alreadySuggested(
  job: Pick<SuggestionJob, "model" | "prompt_version">,
  current: Suggestion | null,
): boolean {
  return current !== null && current.model === job.model && current.prompt_version === job.prompt_version;
}

export function newSuggestionJob(
  id: string,
  request: SuggestionJobRequest,
  llm: { model: string; backend: JudgeBackend },
  creator: string,
  at: Date,
): SuggestionJob {
  const filters: Record<string, string> = {};
  for (const name of ["model", "task_type", "run_id", "source"] as const) {
    const value = request[name];
    if (value !== undefined) filters[name] = value;
  }
  return {
    id,
    filters,
    limit: request.limit,
    replace: request.replace,
    model: llm.model,
    backend: llm.backend,
    prompt_version: SUGGESTION_PROMPT_VERSION,
    total: 0,
    passed_over: 0,
    suggested: 0,
    failed: 0,
    failed_by_reason: {},
    skipped: 0,
    skipped_by_reason: {},
    created_at: at.toISOString(),
    created_by: creator,
    completed_at: null,
  };
}

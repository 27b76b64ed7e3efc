import * as z from "zod";
import { type AxisScores, type JudgeVersions, roundedScores } from "./rubric.ts";

export const JUDGE_BACKENDS = ["openai", "bedrock", "ollama"] as const;
/**
 * `openai`: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama); `bedrock`:
 * Converse; `ollama`: the session eval API's backend name, an OpenAI-compatible endpoint of its
 * own (`JUDGE_OLLAMA_BASE_URL`), so its clients' runs keep working unchanged.
 */
export const JudgeBackend = z.enum(JUDGE_BACKENDS);
export type JudgeBackend = z.infer<typeof JudgeBackend>;

export const JUDGE_RUN_SCOPES = ["unevaluated", "session", "all"] as const;
export const JudgeRunScope = z.enum(JUDGE_RUN_SCOPES);
export type JudgeRunScope = z.infer<typeof JudgeRunScope>;

/** Sessions one run may take; a run is started by one API request, which must stay short. */
export const MAX_RUN_SESSIONS = 1_000;

/**
 * `POST /api/eval/run`. `unevaluated` takes every session not evaluated under the current
 * versions (pending and stale), `all` every session, `session` the one named; `since` keeps
 * sessions active at or after it; `limit` caps the count, most recently active first. As the
 * session eval API did, `scope` defaults to `unevaluated`, and `model` and `backend` to the
 * deployment's defaults (`JudgeRunDefaults`), so `{}` starts a run.
 */
export const JudgeRunRequest = z
  .object({
    scope: JudgeRunScope.default("unevaluated"),
    session_id: z.string().trim().min(1).max(256).optional(),
    since: z.iso
      .datetime({ offset: true })
      .transform((value) => new Date(value).toISOString())
      .optional(),
    limit: z.number().int().min(1).max(MAX_RUN_SESSIONS).default(500),
    model: z.string().trim().min(1).max(256).optional(),
    backend: JudgeBackend.optional(),
    /** Also turn every disliked assistant message of each session into a review candidate. */
    candidates_from_dislikes: z.boolean().default(false),
  })
  .superRefine((request, ctx) => {
    if (request.scope === "session" && request.session_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["session_id"], message: "is required when scope is 'session'" });
    }
  });
export type JudgeRunRequest = z.output<typeof JudgeRunRequest>;

/** What a run request that names no model or backend gets (`JUDGE_DEFAULT_MODEL`, `JUDGE_DEFAULT_BACKEND`). */
export interface JudgeRunDefaults {
  readonly model: string;
  readonly backend: JudgeBackend;
}

/**
 * Without configuration: `openai`, Flywheel's default backend from the start (its own clients
 * keep it), and the model the manual's examples use. A deployment standing in for the session
 * eval API sets `JUDGE_DEFAULT_BACKEND=ollama` to give its clients their old default too.
 */
export const DEFAULT_RUN_DEFAULTS: JudgeRunDefaults = { model: "llama3.1", backend: "openai" };

export const RUN_SESSION_STATES = ["pending", "running", "done", "failed"] as const;
export type RunSessionState = (typeof RUN_SESSION_STATES)[number];

export interface JudgeRun extends JudgeVersions {
  readonly id: string;
  readonly scope: JudgeRunScope;
  readonly session_id: string | null;
  readonly since: string | null;
  readonly limit: number;
  readonly model: string;
  readonly backend: JudgeBackend;
  readonly candidates_from_dislikes: boolean;
  readonly total: number;
  readonly done: number;
  readonly failed: number;
  readonly created_at: string;
  readonly created_by: string;
  readonly completed_at: string | null;
}

export interface RunSessionProgress {
  readonly session_id: string;
  readonly status: RunSessionState;
  readonly started_at?: string | null;
  readonly finished_at?: string | null;
  readonly error?: string | null;
  readonly scores?: AxisScores | null;
  readonly candidates_created?: number | null;
}

export type JudgeRunStatus = "running" | "completed";

/** A run is completed once every session in it is done or failed. */
export function judgeRunStatus(run: Pick<JudgeRun, "total" | "done" | "failed">): JudgeRunStatus {
  return run.done + run.failed >= run.total ? "completed" : "running";
}

/** The session eval API's run states: `failed` when the run is over and no session was judged. */
export type LegacyRunState = "running" | "done" | "failed";
export function legacyRunState(run: Pick<JudgeRun, "total" | "done" | "failed">): LegacyRunState {
  if (judgeRunStatus(run) === "running") return "running";
  return run.failed > 0 && run.done === 0 ? "failed" : "done";
}

/**
 * When the last session finished: a run's own completion time is written just after its last
 * session's, so a read between the two takes the session's.
 */
function lastFinished(sessions: readonly RunSessionProgress[] | undefined): string | null {
  const times = (sessions ?? []).map((s) => s.finished_at).filter((t): t is string => Boolean(t));
  return times.length === 0 ? null : times.reduce((a, b) => (a > b ? a : b));
}

/** The session eval API's per-session states: Flywheel's `done` is its `ok`. */
export type LegacySessionState = "pending" | "running" | "ok" | "failed";
export const legacySessionState = (status: RunSessionState): LegacySessionState =>
  status === "done" ? "ok" : status;

/**
 * A run's session as the API shows it: the session eval API's fields (`session_id`, `state`,
 * `avg`, `error`) with Flywheel's beside them.
 */
export function runSessionView(progress: RunSessionProgress) {
  return {
    ...progress,
    session_id: progress.session_id,
    state: legacySessionState(progress.status),
    avg: roundedScores(progress.scores ?? null),
    error: progress.error ?? null,
  };
}

/**
 * A run as the API shows it, with per-session progress when given: the session eval API's
 * fields (`run_id`, `state`, `started_at`, `finished_at`, `judge_model`, `judge_version`,
 * `rubric_version`, `sessions`) and Flywheel's beside them (`id`, `status`, `counts`, …).
 */
export function judgeRunView(run: JudgeRun, sessions?: readonly RunSessionProgress[]) {
  const running = sessions?.filter((s) => s.status === "running").length ?? 0;
  const state = legacyRunState(run);
  const view = {
    run_id: run.id,
    state,
    started_at: run.created_at,
    finished_at: run.completed_at ?? (state === "running" ? null : lastFinished(sessions)),
    judge_model: run.model,
    ...run,
    status: judgeRunStatus(run),
    counts: {
      pending: Math.max(0, run.total - run.done - run.failed - running),
      running,
      done: run.done,
      failed: run.failed,
    },
  };
  return sessions ? { ...view, sessions: sessions.map(runSessionView) } : view;
}

/** A judge-queue message: judge this session for this run. */
export const JudgeMessage = z.object({
  run_id: z.string().min(1),
  session_id: z.string().min(1),
});
export type JudgeMessage = z.infer<typeof JudgeMessage>;

/** `GET /api/eval/runs` */
export const RunsQuery = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50) });
export type RunsQuery = z.infer<typeof RunsQuery>;

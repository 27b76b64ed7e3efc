import { z } from "zod";
import type { AxisScores, JudgeVersions } from "./rubric.ts";

export const JUDGE_BACKENDS = ["openai", "bedrock"] as const;
/** `openai`: any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama); `bedrock`: Converse. */
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
 * sessions active at or after it; `limit` caps the count, most recently active first.
 */
export const JudgeRunRequest = z
  .object({
    scope: JudgeRunScope,
    session_id: z.string().trim().min(1).max(256).optional(),
    since: z.iso
      .datetime({ offset: true })
      .transform((value) => new Date(value).toISOString())
      .optional(),
    limit: z.number().int().min(1).max(MAX_RUN_SESSIONS).default(500),
    model: z.string().trim().min(1).max(256),
    backend: JudgeBackend.default("openai"),
    /** Also turn every disliked assistant message of each session into a review candidate. */
    candidates_from_dislikes: z.boolean().default(false),
  })
  .superRefine((request, ctx) => {
    if (request.scope === "session" && request.session_id === undefined) {
      ctx.addIssue({ code: "custom", path: ["session_id"], message: "is required when scope is 'session'" });
    }
  });
export type JudgeRunRequest = z.output<typeof JudgeRunRequest>;

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

/** A run as the API shows it, with per-session progress when given. */
export function judgeRunView(run: JudgeRun, sessions?: readonly RunSessionProgress[]) {
  const running = sessions?.filter((s) => s.status === "running").length ?? 0;
  const view = {
    ...run,
    status: judgeRunStatus(run),
    counts: {
      pending: Math.max(0, run.total - run.done - run.failed - running),
      running,
      done: run.done,
      failed: run.failed,
    },
  };
  return sessions ? { ...view, sessions } : view;
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

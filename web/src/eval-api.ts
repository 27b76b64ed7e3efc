import type { z } from "zod";
import type {
  CandidateMadeReply,
  EvalStatsReply,
  JudgeRunReply,
  JudgeRunsReply,
  OverviewPageReply,
  SessionDetailReply,
} from "../../lib/eval/domain/eval-replies.ts";
import type { EvalStatus } from "../../lib/eval/domain/eval-session.ts";
import type { JudgeRunRequest } from "../../lib/eval/domain/judge-run.ts";

export type {
  AxisMeansReply,
  AxisScoresReply,
  CandidateMadeReply,
  EvalStatsReply,
  EvaluationReply,
  EvaluationSummaryReply,
  FeedbackReply,
  JudgeRunReply,
  OverviewPageReply,
  OverviewRowReply,
  RunSessionReply,
  SessionDetailReply,
  WeekStatsReply,
} from "../../lib/eval/domain/eval-replies.ts";
export type { EvalStatus };

/** The client's one way to call the API: method, path, JSON body; the answer or an `ApiError`. */
export type ApiRequest = <T>(
  method: string,
  path: string,
  body?: unknown,
  signal?: AbortSignal,
) => Promise<T>;

/** What `POST /api/eval/run` takes, as a caller writes it (defaults left out). */
export type JudgeRunInput = z.input<typeof JudgeRunRequest>;

export interface SessionsQuery {
  readonly limit?: number;
  readonly offset?: number;
  readonly profile?: string | null;
  readonly status?: EvalStatus | null;
}

export interface ProfileEntry {
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
}

const enc = encodeURIComponent;

function queryString(params: Readonly<Record<string, string | number | boolean | null | undefined>>) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(key, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

/**
 * The eval API, typed by the zod schemas of its answers (`lib/eval/domain/eval-replies.ts`, the
 * same ones the API's contract and OpenAPI document are built from).
 */
export function createEvalApi(request: ApiRequest) {
  return {
    /** Flywheel's paged overview, `GET /api/v2/eval/sessions`: pinned first, then most recent. */
    sessions(query: SessionsQuery = {}, signal?: AbortSignal) {
      const path = `/api/v2/eval/sessions${queryString({
        limit: query.limit,
        offset: query.offset,
        profile: query.profile,
        status: query.status,
      })}`;
      return request<OverviewPageReply>("GET", path, undefined, signal);
    },
    session(id: string, signal?: AbortSignal) {
      return request<SessionDetailReply>("GET", `/api/eval/sessions/${enc(id)}`, undefined, signal);
    },
    /** Turns one assistant answer into a review candidate; asking again returns the same one. */
    makeCandidate(sessionId: string, messageIndex: number) {
      return request<CandidateMadeReply>("POST", `/api/eval/sessions/${enc(sessionId)}/candidates`, {
        message_index: messageIndex,
      });
    },
    profiles(signal?: AbortSignal) {
      return request<{ profiles: ProfileEntry[] }>("GET", "/api/eval/profiles", undefined, signal);
    },
    startRun(input: JudgeRunInput) {
      return request<JudgeRunReply>("POST", "/api/eval/run", input);
    },
    run(id: string, signal?: AbortSignal) {
      return request<JudgeRunReply>("GET", `/api/eval/run/${enc(id)}`, undefined, signal);
    },
    runs(limit = 20, signal?: AbortSignal) {
      return request<JudgeRunsReply>("GET", `/api/eval/runs${queryString({ limit })}`, undefined, signal);
    },
    /** Weekly per-axis means over `days`; with `byComplexityBucket` each week split by bucket. */
    stats(query: { days?: number; byComplexityBucket?: boolean } = {}, signal?: AbortSignal) {
      const path = `/api/eval/stats${queryString({
        days: query.days,
        by_complexity_bucket: query.byComplexityBucket ? "true" : undefined,
      })}`;
      return request<EvalStatsReply>("GET", path, undefined, signal);
    },
  };
}

export type EvalApi = ReturnType<typeof createEvalApi>;

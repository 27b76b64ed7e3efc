import { countMetric, timeMetric } from "../common/metrics.ts";
import { JUDGE_BACKENDS } from "./domain/judge-run.ts";

/** Why a call to the judge model failed: shedding load, unreachable or erroring, anything else. */
export const JUDGE_CALL_FAILURES = ["busy", "backend_error", "other"] as const;
export type JudgeCallFailure = (typeof JUDGE_CALL_FAILURES)[number];

/** Why a session's judging was recorded as failed. */
export const JUDGE_SESSION_FAILURES = [
  "backend_error",
  "output_error",
  "not_configured",
  "session_not_found",
] as const;
export type JudgeSessionFailure = (typeof JUDGE_SESSION_FAILURES)[number];

/** What judging counts: calls to the model by backend, their failures and latency, sessions. */
export const EVAL_METRICS = {
  /** Calls to the judge model (one per expert, plus a retry after a malformed reply), by backend. */
  calls: countMetric("JudgeCalls", "eval", { name: "backend", values: JUDGE_BACKENDS }),
  /** Calls that failed, by why. */
  callFailures: countMetric("JudgeCallFailures", "eval", { name: "reason", values: JUDGE_CALL_FAILURES }),
  /** How long each call took, answered or not. */
  latency: timeMetric("JudgeLatency", "eval"),
  /** Sessions judged and recorded. */
  sessionsJudged: countMetric("SessionsJudged", "eval"),
  /** Sessions recorded as failed, by why. */
  sessionsFailed: countMetric("SessionsFailed", "eval", { name: "reason", values: JUDGE_SESSION_FAILURES }),
} as const;

import { type Metrics, metrics as processMetrics } from "../../common/metrics.ts";
import { inSpan } from "../../common/tracing.ts";
import type { Evaluation, SessionMessage } from "../domain/eval-session.ts";
import type { JudgeBackend, JudgeMessage } from "../domain/judge-run.ts";
import {
  type AxisScores,
  aggregateScores,
  CURRENT_VERSIONS,
  correctionTurns,
  EXPERTS,
  type Expert,
  type ExpertVerdict,
  expertPrompt,
  type JudgeContext,
  parseVerdict,
} from "../domain/rubric.ts";
import { EVAL_METRICS, type JudgeSessionFailure } from "../metrics.ts";
import type { EvalProfileStore, JudgeRunStore } from "../ports.ts";
import {
  JudgeBackendError,
  JudgeBusyError,
  type JudgeModel,
  JudgeNotConfiguredError,
  JudgeOutputError,
} from "../ports.ts";
import { candidatesFromDislikes, type EvalSessionDeps } from "./eval-sessions.ts";

/**
 * Asks one expert about one conversation. A reply that does not validate gets one retry, with
 * the problem named; a second bad reply is a `JudgeOutputError`.
 */
export async function askExpert(
  judge: JudgeModel,
  model: string,
  expert: Expert,
  messages: readonly SessionMessage[],
  context: JudgeContext = {},
): Promise<ExpertVerdict> {
  const turns = expertPrompt(expert, messages, context);
  const first = await judge.complete(model, turns);
  const parsed = parseVerdict(first);
  if (parsed.ok) return { expert: expert.name, ...parsed.verdict };
  const second = await judge.complete(model, [...turns, ...correctionTurns(first, parsed.problem)]);
  const retried = parseVerdict(second);
  if (retried.ok) return { expert: expert.name, ...retried.verdict };
  throw new JudgeOutputError(`${expert.name} answered malformed JSON twice: ${retried.problem}`);
}

/** Every expert's verdict and their per-axis means; the first expert failure fails the whole. */
export async function judgeConversation(
  judge: JudgeModel,
  model: string,
  messages: readonly SessionMessage[],
  experts: readonly Expert[] = EXPERTS,
  context: JudgeContext = {},
): Promise<{ scores: AxisScores; experts: ExpertVerdict[] }> {
  // Settle all before failing, so no request is left running after the session is recorded.
  const settled = await Promise.allSettled(
    experts.map((expert) => askExpert(judge, model, expert, messages, context)),
  );
  const failure = settled.find((result) => result.status === "rejected");
  if (failure) throw failure.reason;
  const verdicts = settled.map((result) => (result as PromiseFulfilledResult<ExpertVerdict>).value);
  return { scores: aggregateScores(verdicts), experts: verdicts };
}

export interface JudgeSessionDeps extends EvalSessionDeps {
  readonly runs: JudgeRunStore;
  /** The profile registry; without it (or without the session's profile) the judge reads none. */
  readonly profiles?: EvalProfileStore;
  readonly judges: Partial<Record<JudgeBackend, JudgeModel>>;
  /** Where calls to the judge, their failures and latency are counted; the process's unless given. */
  readonly metrics?: Metrics;
}

/**
 * `judge` with every call counted (by backend), timed, its failure counted by why, and traced as
 * a `judge` subsegment annotated with the backend; the answer or the error passes through
 * unchanged.
 */
export function measuredJudge(judge: JudgeModel, backend: JudgeBackend, metrics: Metrics): JudgeModel {
  return {
    async complete(model, turns) {
      const started = performance.now();
      metrics.count(EVAL_METRICS.calls, 1, backend);
      try {
        return await inSpan("judge", { backend }, () => judge.complete(model, turns));
      } catch (error) {
        const reason =
          error instanceof JudgeBusyError
            ? "busy"
            : error instanceof JudgeBackendError
              ? "backend_error"
              : "other";
        metrics.count(EVAL_METRICS.callFailures, 1, reason);
        throw error;
      } finally {
        metrics.time(EVAL_METRICS.latency, performance.now() - started);
      }
    },
  };
}

/** Why a session's judging failed, for its count. */
function sessionFailureOf(error: unknown): JudgeSessionFailure {
  if (error instanceof JudgeNotConfiguredError) return "not_configured";
  if (error instanceof JudgeOutputError) return "output_error";
  return "backend_error";
}

export type JudgeOutcome =
  | { status: "evaluated"; evaluation: Evaluation }
  | { status: "failed"; error: string }
  | { status: "skipped"; reason: string };

// A busy judge (JudgeBusyError) is not among these: it is thrown, so the message is delivered
// again later, and only its last delivery records the session as failed.
const isJudgeFailure = (error: unknown) =>
  error instanceof JudgeBackendError ||
  error instanceof JudgeOutputError ||
  error instanceof JudgeNotConfiguredError;

/**
 * Judges one session of one run. A judge that cannot answer, or answers badly, is recorded as
 * the session's failure and the message is done; a failure of the store throws so the message
 * is retried. A session already finished in the run (a redelivery) is skipped.
 */
export async function judgeSession(deps: JudgeSessionDeps, message: JudgeMessage): Promise<JudgeOutcome> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const found = await deps.runs.progress(message.run_id, message.session_id);
  if (!found) return { status: "skipped", reason: "unknown run or session" };
  const { run } = found;
  const metrics = deps.metrics ?? processMetrics;
  if (!(await deps.runs.markRunning(run.id, message.session_id, now()))) {
    return { status: "skipped", reason: "already finished" };
  }
  try {
    const fail = async (error: string, reason: JudgeSessionFailure): Promise<JudgeOutcome> => {
      await deps.runs.recordFailure(run.id, message.session_id, error, now());
      metrics.count(EVAL_METRICS.sessionsFailed, 1, reason);
      return { status: "failed", error };
    };
    const [summary, messages] = await Promise.all([
      deps.sessions.summary(message.session_id),
      deps.sessions.messages(message.session_id),
    ]);
    if (!summary || !messages) return await fail("session not found", "session_not_found");
    const candidates = run.candidates_from_dislikes
      ? await candidatesFromDislikes(deps, summary, messages)
      : null;
    try {
      const configured = deps.judges[run.backend];
      const judge = configured && measuredJudge(configured, run.backend, metrics);
      if (!judge) throw new JudgeNotConfiguredError(`no judge is configured for backend '${run.backend}'`);
      const [feedback, profile] = await Promise.all([
        deps.sessions.feedback(summary.id),
        deps.profiles ? deps.profiles.get(summary.profile_id) : null,
      ]);
      const verdict = await judgeConversation(judge, run.model, messages, EXPERTS, { feedback, profile });
      const evaluation: Evaluation = {
        session_id: summary.id,
        run_id: run.id,
        evaluated_at: now(),
        // The versions of the code that judged, which are what the status is derived against.
        ...(deps.versions ?? CURRENT_VERSIONS),
        model: run.model,
        backend: run.backend,
        scores: verdict.scores,
        experts: verdict.experts,
      };
      const recorded = await deps.runs.recordEvaluation(evaluation, {
        candidatesCreated: candidates ? candidates.created.length : null,
      });
      if (recorded === "recorded") metrics.count(EVAL_METRICS.sessionsJudged);
      return recorded === "recorded"
        ? { status: "evaluated", evaluation }
        : { status: "skipped", reason: "already finished" };
    } catch (error) {
      if (isJudgeFailure(error)) return await fail((error as Error).message, sessionFailureOf(error));
      throw error;
    }
  } finally {
    await deps.runs.completeIfFinished(run.id, now());
  }
}

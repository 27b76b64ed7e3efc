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
import type { EvalProfileStore, JudgeRunStore } from "../ports.ts";
import { JudgeBackendError, type JudgeModel, JudgeNotConfiguredError, JudgeOutputError } from "../ports.ts";
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
  if (!(await deps.runs.markRunning(run.id, message.session_id, now()))) {
    return { status: "skipped", reason: "already finished" };
  }
  try {
    const fail = async (error: string): Promise<JudgeOutcome> => {
      await deps.runs.recordFailure(run.id, message.session_id, error, now());
      return { status: "failed", error };
    };
    const [summary, messages] = await Promise.all([
      deps.sessions.summary(message.session_id),
      deps.sessions.messages(message.session_id),
    ]);
    if (!summary || !messages) return await fail("session not found");
    const candidates = run.candidates_from_dislikes
      ? await candidatesFromDislikes(deps, summary, messages)
      : null;
    try {
      const judge = deps.judges[run.backend];
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
      return recorded === "recorded"
        ? { status: "evaluated", evaluation }
        : { status: "skipped", reason: "already finished" };
    } catch (error) {
      if (isJudgeFailure(error)) return await fail((error as Error).message);
      throw error;
    }
  } finally {
    await deps.runs.completeIfFinished(run.id, now());
  }
}

import type { JudgeBackend } from "../../eval/domain/judge-run.ts";
import { JudgeBackendError, type JudgeModel, JudgeOutputError, JudgeTimeoutError } from "../../eval/ports.ts";
import { alreadySuggested, type FailureReason, type SuggestMessage } from "../domain/job.ts";
import { parseSuggestion, retryTurns, type SuggestionSubject, suggestionPrompt } from "../domain/prompt.ts";
import { suggestionOf } from "../domain/suggestion.ts";
import type { SuggestionStore } from "../ports.ts";

export interface SuggestCandidateDeps {
  readonly store: SuggestionStore;
  /** The judge's models, by backend: the same port and adapters. */
  readonly models: Partial<Record<JudgeBackend, JudgeModel>>;
  readonly now?: () => Date;
}

/**
 * Asks the model for a corrected answer. A reply that does not parse gets one retry with the
 * problem named, as the judge's experts do; a second bad reply is a `JudgeOutputError`.
 */
export async function askSuggestion(
  model: JudgeModel,
  name: string,
  subject: SuggestionSubject,
): Promise<string> {
  const turns = suggestionPrompt(subject);
  const first = await model.complete(name, turns);
  const parsed = parseSuggestion(first);
  if (parsed.ok) return parsed.text;
  const second = await model.complete(name, [...turns, ...retryTurns(first, parsed.problem)]);
  const retried = parseSuggestion(second);
  if (retried.ok) return retried.text;
  throw new JudgeOutputError(`the model answered malformed JSON twice: ${retried.problem}`);
}

/**
 * The reason a failure of the model is counted under; `null` for an error that is not the
 * model's answer (a busy backend, a store failure): those are thrown, so the message is
 * delivered again later.
 */
export function failureReasonOf(error: unknown): FailureReason | null {
  if (error instanceof JudgeOutputError) return "malformed";
  if (error instanceof JudgeTimeoutError) return "timeout";
  if (error instanceof JudgeBackendError) return "backend_error";
  return null;
}

export type SuggestOutcome =
  | { status: "suggested"; text: string }
  | { status: "failed"; reason: FailureReason; error: string }
  | { status: "skipped"; reason: string };

/**
 * Suggests a correction for one candidate of one job. The model's failures (malformed twice, a
 * timeout, an error answer) are counted on the job and the message is done; a busy model
 * (`JudgeBusyError`) and store failures throw, so the message is retried. A candidate decided
 * meanwhile is skipped and never written to; a candidate already counted (a redelivery) changes
 * nothing.
 */
export async function suggestCandidate(
  deps: SuggestCandidateDeps,
  message: SuggestMessage,
): Promise<SuggestOutcome> {
  const now = () => (deps.now ?? (() => new Date()))().toISOString();
  const job = await deps.store.find(message.job_id);
  if (!job) return { status: "skipped", reason: "unknown job" };
  if (await deps.store.counted(job.id, message.candidate_id))
    return { status: "skipped", reason: "already counted" };
  try {
    const skip = async (reason: "decided" | "not_found" | "already_suggested"): Promise<SuggestOutcome> => {
      await deps.store.recordOutcome(job.id, message.candidate_id, { kind: "skipped", reason }, now());
      return { status: "skipped", reason };
    };
    const fail = async (reason: FailureReason, error: string): Promise<SuggestOutcome> => {
      await deps.store.recordOutcome(job.id, message.candidate_id, { kind: "failed", reason, error }, now());
      return { status: "failed", reason, error };
    };
    const candidate = await deps.store.candidate(message.candidate_id);
    if (!candidate) return await skip("not_found");
    if (candidate.status !== "needs_review") return await skip("decided");
    if (!job.replace && alreadySuggested(job, suggestionOf(candidate.suggestion))) {
      return await skip("already_suggested");
    }
    const model = deps.models[job.backend];
    if (!model) return await fail("not_configured", `no model is configured for backend '${job.backend}'`);
    let text: string;
    try {
      text = await askSuggestion(model, job.model, candidate as SuggestionSubject);
    } catch (error) {
      const reason = failureReasonOf(error);
      if (reason === null) throw error;
      return await fail(reason, (error as Error).message);
    }
    const recorded = await deps.store.recordSuggestion(job.id, candidate.id, {
      id: job.id,
      text,
      model: job.model,
      backend: job.backend,
      prompt_version: job.prompt_version,
      suggested_at: now(),
    });
    if (recorded === "decided" || recorded === "not_found") return await skip(recorded);
    if (recorded === "already_counted") return { status: "skipped", reason: "already counted" };
    return { status: "suggested", text };
  } finally {
    await deps.store.completeIfFinished(job.id, now());
  }
}

import { randomUUID } from "node:crypto";
import { NotConfiguredError, NotFoundError } from "../../common/domain/errors.ts";
import { DEFAULT_RUN_DEFAULTS, type JudgeRunDefaults } from "../../eval/domain/judge-run.ts";
import type { QueuePosition } from "../../review/domain/queue.ts";
import {
  alreadySuggested,
  MAX_SELECTION_READS,
  newSuggestionJob,
  type SuggestionJob,
  type SuggestionJobRequest,
  suggestionJobView,
} from "../domain/job.ts";
import { suggestionOf } from "../domain/suggestion.ts";
import type { SuggestionQueueIndex, SuggestionStore, SuggestQueue } from "../ports.ts";

export interface SuggestionJobDeps {
  readonly store: SuggestionStore;
  readonly queue: SuggestionQueueIndex;
  /** Absent when this deployment has no suggestion queue. */
  readonly messages?: SuggestQueue | undefined;
  /** The LLM and backend of a request that names none: the judge's defaults. */
  readonly defaults?: JudgeRunDefaults;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/** Queue items read per page while selecting. */
const SELECTION_PAGE = 200;

/**
 * The waiting candidates a job takes, oldest first under its filters, from the queue's index
 * (no bodies loaded): up to `limit`, passing over those that already hold the suggestion this job
 * would write (unless it replaces them), reading at most `MAX_SELECTION_READS` items.
 */
async function selectCandidates(
  deps: Pick<SuggestionJobDeps, "queue">,
  job: SuggestionJob,
): Promise<{ ids: string[]; passedOver: number }> {
  const ids: string[] = [];
  let passedOver = 0;
  let read = 0;
  let after: QueuePosition | null = null;
  while (ids.length < job.limit && read < MAX_SELECTION_READS) {
    const page = await deps.queue.walkItems({ filters: job.filters, after, skip: 0, limit: SELECTION_PAGE });
    for (const item of page.items) {
      read += 1;
      if (ids.length >= job.limit) break;
      if (!job.replace && alreadySuggested(job, suggestionOf(item.suggestion))) passedOver += 1;
      else ids.push(item.id);
    }
    if (!page.more) break;
    after = page.position;
  }
  return { ids, passedOver };
}

/**
 * Starts a suggestion job: selects the candidates, stores the job with its total, and puts one
 * message per candidate on the suggestion queue. Returns at once; progress is read with
 * `suggestionJob`.
 */
export async function startSuggestionJob(
  deps: SuggestionJobDeps,
  request: SuggestionJobRequest,
  creator: string,
) {
  if (!deps.messages) throw new NotConfiguredError("Suggestion jobs are not configured on this deployment");
  const at = (deps.now ?? (() => new Date()))();
  const defaults = deps.defaults ?? DEFAULT_RUN_DEFAULTS;
  const draft = newSuggestionJob(
    (deps.newId ?? randomUUID)(),
    request,
    { model: request.suggest_model ?? defaults.model, backend: request.backend ?? defaults.backend },
    creator,
    at,
  );
  const { ids, passedOver } = await selectCandidates(deps, draft);
  const job: SuggestionJob = {
    ...draft,
    total: ids.length,
    passed_over: passedOver,
    completed_at: ids.length === 0 ? at.toISOString() : null,
  };
  await deps.store.create(job, ids);
  const { failed } = await deps.messages.send(ids.map((candidate_id) => ({ job_id: job.id, candidate_id })));
  for (const { message, error } of failed) {
    await deps.store.recordOutcome(
      job.id,
      message.candidate_id,
      { kind: "failed", reason: "not_queued", error: `could not be queued: ${error}` },
      at.toISOString(),
    );
  }
  if (failed.length > 0) await deps.store.completeIfFinished(job.id, at.toISOString());
  return suggestionJob(deps, job.id);
}

export async function suggestionJob(deps: Pick<SuggestionJobDeps, "store">, id: string) {
  const job = await deps.store.find(id);
  if (!job) throw new NotFoundError(`Suggestion job ${id} not found`);
  return suggestionJobView(job);
}

import { randomUUID } from "node:crypto";
import { NotConfiguredError, NotFoundError } from "../../common/domain/errors.ts";
import {
  DEFAULT_RUN_DEFAULTS,
  type JudgeRun,
  type JudgeRunDefaults,
  type JudgeRunRequest,
  judgeRunView,
} from "../domain/judge-run.ts";
import { CURRENT_VERSIONS, type JudgeVersions } from "../domain/rubric.ts";
import type { EvalSessionStore, JudgeQueue, JudgeRunStore } from "../ports.ts";

export interface JudgeRunDeps {
  readonly runs: JudgeRunStore;
  readonly sessions: Pick<EvalSessionStore, "summary">;
  /** Absent when this deployment has no judge queue. */
  readonly queue?: JudgeQueue | undefined;
  readonly versions?: JudgeVersions;
  /** The model and backend of a request that names none. */
  readonly defaults?: JudgeRunDefaults;
  readonly now?: () => Date;
  readonly newId?: () => string;
}

/**
 * Starts a judge run: selects the sessions, stores the run with every session `pending`, and
 * puts one message per session on the judge queue. Returns at once; progress is read from the
 * store by `judgeRun`, whichever instance asks.
 */
export async function startJudgeRun(deps: JudgeRunDeps, request: JudgeRunRequest, creator: string) {
  if (!deps.queue) throw new NotConfiguredError("Judge runs are not configured on this deployment");
  const current = deps.versions ?? CURRENT_VERSIONS;
  let sessionIds: string[];
  if (request.scope === "session") {
    const sessionId = request.session_id as string;
    if (!(await deps.sessions.summary(sessionId))) throw new NotFoundError(`Session ${sessionId} not found`);
    sessionIds = [sessionId];
  } else {
    sessionIds = await deps.runs.selectSessions(
      { scope: request.scope, since: request.since, limit: request.limit },
      current,
    );
  }
  const now = (deps.now ?? (() => new Date()))().toISOString();
  const defaults = deps.defaults ?? DEFAULT_RUN_DEFAULTS;
  const run: JudgeRun = {
    id: (deps.newId ?? randomUUID)(),
    scope: request.scope,
    session_id: request.session_id ?? null,
    since: request.since ?? null,
    limit: request.limit,
    model: request.model ?? defaults.model,
    backend: request.backend ?? defaults.backend,
    candidates_from_dislikes: request.candidates_from_dislikes,
    ...current,
    total: sessionIds.length,
    done: 0,
    failed: 0,
    created_at: now,
    created_by: creator,
    completed_at: sessionIds.length === 0 ? now : null,
  };
  await deps.runs.create(run, sessionIds);
  const { failed } = await deps.queue.send(sessionIds.map((session_id) => ({ run_id: run.id, session_id })));
  for (const { message, error } of failed) {
    await deps.runs.recordFailure(run.id, message.session_id, `could not be queued: ${error}`, now);
  }
  if (failed.length > 0) await deps.runs.completeIfFinished(run.id, now);
  return judgeRun(deps, run.id);
}

export async function judgeRun(deps: Pick<JudgeRunDeps, "runs">, runId: string) {
  const found = await deps.runs.get(runId);
  if (!found) throw new NotFoundError(`Judge run ${runId} not found`);
  return judgeRunView(found.run, found.sessions);
}

export async function judgeRuns(deps: Pick<JudgeRunDeps, "runs">, limit: number) {
  return { runs: (await deps.runs.list(limit)).map((run) => judgeRunView(run)) };
}

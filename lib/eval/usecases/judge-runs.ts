import { randomUUID } from "node:crypto";
import { NotConfiguredError, NotFoundError } from "../../shared/domain/errors.ts";
import type { Evaluation } from "../domain/eval-session.ts";
import {
  type JudgeMessage,
  type JudgeRun,
  type JudgeRunRequest,
  judgeRunView,
  type RunSessionProgress,
} from "../domain/judge-run.ts";
import { CURRENT_VERSIONS, type JudgeVersions } from "../domain/rubric.ts";
import type { EvalSessionStore } from "./eval-sessions.ts";

export interface SessionSelection {
  readonly scope: "unevaluated" | "all";
  readonly since?: string | undefined;
  readonly limit: number;
}

export interface JudgeRunStore {
  /** Ids of the sessions a run takes, pinned then most recently active first, from indexes. */
  selectSessions(selection: SessionSelection, current: JudgeVersions): Promise<string[]>;
  /** Stores the run and a `pending` progress entry for each of its sessions. */
  create(run: JudgeRun, sessionIds: readonly string[]): Promise<void>;
  /** The run and its sessions' progress, read consistently; `null` for an unknown id. */
  get(runId: string): Promise<{ run: JudgeRun; sessions: RunSessionProgress[] } | null>;
  /** The newest runs first. */
  list(limit: number): Promise<JudgeRun[]>;
  /** A run and one session's progress in it; `null` when either is unknown. */
  progress(runId: string, sessionId: string): Promise<{ run: JudgeRun; progress: RunSessionProgress } | null>;
  /** Marks the session `running`; `false` when it already finished in this run. */
  markRunning(runId: string, sessionId: string, at: string): Promise<boolean>;
  /**
   * In one write: stores the evaluation, makes it the session's latest when it is the newest,
   * marks the session done in the run and counts it. `already_finished` (a redelivery) changes nothing.
   */
  recordEvaluation(
    evaluation: Evaluation,
    outcome: { candidatesCreated: number | null },
  ): Promise<"recorded" | "already_finished">;
  /** In one write: the failure on the session, its progress in the run, and the run's count. */
  recordFailure(
    runId: string,
    sessionId: string,
    error: string,
    at: string,
  ): Promise<"recorded" | "already_finished">;
  /** Stamps the run completed once every session is done or failed. */
  completeIfFinished(runId: string, at: string): Promise<void>;
}

export interface JudgeQueue {
  /** Sends one message per session; returns those that could not be sent. */
  send(messages: readonly JudgeMessage[]): Promise<{ failed: { message: JudgeMessage; error: string }[] }>;
}

export interface JudgeRunDeps {
  readonly runs: JudgeRunStore;
  readonly sessions: Pick<EvalSessionStore, "summary">;
  /** Absent when this deployment has no judge queue. */
  readonly queue?: JudgeQueue | undefined;
  readonly versions?: JudgeVersions;
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
  const run: JudgeRun = {
    id: (deps.newId ?? randomUUID)(),
    scope: request.scope,
    session_id: request.session_id ?? null,
    since: request.since ?? null,
    limit: request.limit,
    model: request.model,
    backend: request.backend,
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

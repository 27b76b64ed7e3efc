import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, requireReviewer, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, parseQuery, pathId } from "../../common/http/request.ts";
import {
  CandidateFromMessageInput,
  FeedbackInput,
  OverviewQuery,
  SessionInput,
} from "../domain/eval-session.ts";
import { StatsQuery } from "../domain/eval-stats.ts";
import { JudgeRunRequest, RunsQuery } from "../domain/judge-run.ts";
import {
  candidateFromMessage,
  type EvalSessionDeps,
  evalStats,
  recordFeedback,
  sessionDetail,
  sessionFeedback,
  sessionsOverview,
  upsertSession,
} from "../usecases/eval-sessions.ts";
import { type JudgeRunDeps, judgeRun, judgeRuns, startJudgeRun } from "../usecases/judge-runs.ts";

export interface EvalRouteDeps {
  readonly sessions: EvalSessionDeps;
  readonly runs: JudgeRunDeps;
}

const json = (value: unknown) => value as HandlerResponse;

/**
 * The eval API (`/api/eval/*`): sessions and feedback from the chat product, judge runs, stats
 * and the loop back into the review queue. Same bearer authentication as the review API; the
 * authenticated principal is the rater of feedback and the creator of runs.
 */
export function registerEvalRoutes(
  app: Router,
  deps: EvalRouteDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const caller = [requireReviewer(authenticate)];

  app.post("/api/eval/sessions", caller, async ({ req }) => {
    const result = await upsertSession(deps.sessions, await parseJsonBody(req, SessionInput));
    return jsonReply(result.created ? 201 : 200, result);
  });

  app.get("/api/eval/sessions", caller, async ({ req }) =>
    json(await sessionsOverview(deps.sessions, parseQuery(req, OverviewQuery))),
  );

  app.get("/api/eval/sessions/:id", caller, async ({ params }) =>
    json(await sessionDetail(deps.sessions, pathId(params, "id", "Session"))),
  );

  app.post("/api/eval/sessions/:id/candidates", caller, async ({ req, params }) => {
    const { message_index } = await parseJsonBody(req, CandidateFromMessageInput);
    const result = await candidateFromMessage(deps.sessions, pathId(params, "id", "Session"), message_index);
    return jsonReply(result.created ? 201 : 200, result);
  });

  app.post("/api/eval/feedback", caller, async (reqCtx) => {
    const input = await parseJsonBody(reqCtx.req, FeedbackInput);
    const result = await recordFeedback(deps.sessions, input, reviewerOf(reqCtx));
    return jsonReply(result.created ? 201 : 200, result.feedback);
  });

  app.get("/api/eval/feedback/:session_id", caller, async ({ params }) =>
    json(await sessionFeedback(deps.sessions, pathId(params, "session_id", "Session"))),
  );

  app.post("/api/eval/run", caller, async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, JudgeRunRequest);
    return jsonReply(202, await startJudgeRun(deps.runs, request, reviewerOf(reqCtx)));
  });

  app.get("/api/eval/run/:id", caller, async ({ params }) =>
    json(await judgeRun(deps.runs, pathId(params, "id", "Judge run"))),
  );

  app.get("/api/eval/runs", caller, async ({ req }) =>
    json(await judgeRuns(deps.runs, parseQuery(req, RunsQuery).limit)),
  );

  app.get("/api/eval/stats", caller, async ({ req }) =>
    json(await evalStats(deps.sessions, parseQuery(req, StatsQuery))),
  );
}

import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, parseQuery, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { ProfileInput } from "../domain/eval-profile.ts";
import {
  CandidateFromMessageInput,
  FeedbackInput,
  LegacyOverviewQuery,
  OverviewQuery,
  SessionInput,
} from "../domain/eval-session.ts";
import { StatsQuery } from "../domain/eval-stats.ts";
import { JudgeRunRequest, RunsQuery } from "../domain/judge-run.ts";
import { type EvalProfileDeps, listProfiles, putProfile } from "../usecases/eval-profiles.ts";
import {
  candidateFromMessage,
  type EvalSessionDeps,
  evalStats,
  legacySessionsList,
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
  readonly profiles: EvalProfileDeps;
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
  const routes = guardedRoutes(app, authenticate);

  routes.post("/api/eval/sessions", async ({ req }) => {
    const result = await upsertSession(deps.sessions, await parseJsonBody(req, SessionInput));
    return jsonReply(result.created ? 201 : 200, result);
  });

  // The session eval API's bare list of rows; Flywheel's paged object lives at /api/v2.
  routes.get("/api/eval/sessions", async ({ req }) =>
    json(await legacySessionsList(deps.sessions, parseQuery(req, LegacyOverviewQuery))),
  );

  routes.get("/api/v2/eval/sessions", async ({ req }) =>
    json(await sessionsOverview(deps.sessions, parseQuery(req, OverviewQuery))),
  );

  routes.get("/api/eval/sessions/:id", async ({ params }) =>
    json(await sessionDetail(deps.sessions, pathId(params, "id", "Session"))),
  );

  routes.post("/api/eval/sessions/:id/candidates", async ({ req, params }) => {
    const { message_index } = await parseJsonBody(req, CandidateFromMessageInput);
    const result = await candidateFromMessage(deps.sessions, pathId(params, "id", "Session"), message_index);
    return jsonReply(result.created ? 201 : 200, result);
  });

  routes.post("/api/eval/feedback", async (reqCtx) => {
    const input = await parseJsonBody(reqCtx.req, FeedbackInput);
    const result = await recordFeedback(deps.sessions, input, reviewerOf(reqCtx));
    return jsonReply(result.created ? 201 : 200, result.feedback);
  });

  routes.get("/api/eval/feedback/:session_id", async ({ params }) =>
    json(await sessionFeedback(deps.sessions, pathId(params, "session_id", "Session"))),
  );

  routes.post("/api/eval/run", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, JudgeRunRequest);
    return jsonReply(202, await startJudgeRun(deps.runs, request, reviewerOf(reqCtx)));
  });

  routes.get("/api/eval/run/:id", async ({ params }) =>
    json(await judgeRun(deps.runs, pathId(params, "id", "Judge run"))),
  );

  routes.get("/api/eval/runs", async ({ req }) =>
    json(await judgeRuns(deps.runs, parseQuery(req, RunsQuery).limit)),
  );

  // The optional profile registry the judge reads, as the session eval API had it.
  routes.post("/api/eval/profiles", async (reqCtx) => {
    const input = await parseJsonBody(reqCtx.req, ProfileInput);
    const { created, profile } = await putProfile(deps.profiles, input, reviewerOf(reqCtx));
    return jsonReply(created ? 201 : 200, profile);
  });

  routes.get("/api/eval/profiles", async () => json(await listProfiles(deps.profiles)));

  routes.get("/api/eval/stats", async ({ req }) =>
    json(await evalStats(deps.sessions, parseQuery(req, StatsQuery))),
  );
}

import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { SuggestionJobRequest } from "../domain/job.ts";
import { type SuggestionJobDeps, startSuggestionJob, suggestionJob } from "../usecases/suggestion-jobs.ts";

/** Suggestion jobs: started with the queue's filters, followed by id. */
export function registerSuggestionRoutes(
  app: Router,
  deps: SuggestionJobDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.post("/api/sft/suggestions", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, SuggestionJobRequest);
    return jsonReply(202, await startSuggestionJob(deps, request, reviewerOf(reqCtx)));
  });

  routes.get(
    "/api/sft/suggestions/:id",
    async ({ params }) =>
      (await suggestionJob(deps, pathId(params, "id", "Suggestion job"))) as unknown as HandlerResponse,
  );
}

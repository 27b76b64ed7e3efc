import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { parseJsonBody, parseWith } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { logger } from "../../common/logger.ts";
import { RecountRequest } from "../domain/recount.ts";
import { type RecountDeps, recountCounters } from "../usecases/recount.ts";

/** Replies are plain data; the router serialises them as JSON. */
const json = (value: unknown) => value as HandlerResponse;

/**
 * `/api/admin/*`: operations on the store itself. Flywheel has one kind of account, the reviewer,
 * so these take the same authentication as every other reviewer route; each call is logged with
 * who made it and what it found or changed.
 */
export function registerAdminRoutes(
  app: Router,
  deps: RecountDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  // `{ "repair": boolean, "segments": number }`, both optional; an empty body is a report.
  routes.post("/api/admin/recount", async (reqCtx) => {
    const empty = (await reqCtx.req.clone().text()).trim() === "";
    const request = empty
      ? parseWith(RecountRequest, {}, "body")
      : await parseJsonBody(reqCtx.req, RecountRequest);
    const report = await recountCounters(deps, request);
    logger.info("counters recounted", {
      by: reviewerOf(reqCtx),
      repair: report.repair,
      candidates: report.candidates,
      differences: report.differences,
    });
    return json(report);
  });
}

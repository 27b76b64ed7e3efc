import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import type { ReviewerAuthenticator } from "../../common/http/auth.ts";
import { parseQuery, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { RunQuarantineQuery } from "../domain/run-quarantine.ts";
import { listRunQuarantine, type RunQuarantineDeps } from "../usecases/run-quarantine.ts";

const json = (value: unknown) => value as HandlerResponse;

/** A run's quarantined lines for people to read: paged, by reason, with a signed link to the file. */
export function registerRunQuarantineRoutes(
  app: Router,
  deps: RunQuarantineDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);
  routes.get("/api/sft/runs/:run_id/quarantine", async ({ req, params }) =>
    json(await listRunQuarantine(deps, pathId(params, "run_id", "Run"), parseQuery(req, RunQuarantineQuery))),
  );
}

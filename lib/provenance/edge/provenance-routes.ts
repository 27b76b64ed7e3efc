import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { parseJsonBody, parseQuery } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { BackfillRequest, ValidateQuery } from "../domain/provenance-requests.ts";
import {
  backfillProvenance,
  listInvalidProvenance,
  type ProvenanceDeps,
  previewBackfill,
  readProvenanceReport,
} from "../usecases/provenance.ts";

/** Replies are plain data; the router serialises them as JSON. */
const json = (value: unknown) => value as HandlerResponse;

/** `/api/provenance/*`: the traceability report, the invalid records, and backfill. Reviewers only. */
export function registerProvenanceRoutes(
  app: Router,
  deps: ProvenanceDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.get("/api/provenance/report", async () => json(await readProvenanceReport(deps)));

  routes.get("/api/provenance/validate", async ({ req }) =>
    json(await listInvalidProvenance(deps, parseQuery(req, ValidateQuery))),
  );

  routes.post("/api/provenance/backfill", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, BackfillRequest);
    if (request.dry_run) return json(await previewBackfill(deps, request, reviewerOf(reqCtx)));
    return json(await backfillProvenance(deps, request, reviewerOf(reqCtx)));
  });
}

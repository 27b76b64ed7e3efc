import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { type ReviewerAuthenticator, requireReviewer, reviewerOf } from "../../common/http/auth.ts";
import { parseJsonBody, parseQuery } from "../../common/http/request.ts";
import { BackfillRequest, ValidateQuery } from "../domain/provenance-requests.ts";
import {
  backfillProvenance,
  listInvalidProvenance,
  type ProvenanceDeps,
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
  const reviewer = [requireReviewer(authenticate)];

  app.get("/api/provenance/report", reviewer, async () => json(await readProvenanceReport(deps)));

  app.get("/api/provenance/validate", reviewer, async ({ req }) =>
    json(await listInvalidProvenance(deps, parseQuery(req, ValidateQuery))),
  );

  app.post("/api/provenance/backfill", reviewer, async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, BackfillRequest);
    return json(await backfillProvenance(deps, request, reviewerOf(reqCtx)));
  });
}

import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import type { ReviewerAuthenticator } from "../../common/http/auth.ts";
import { parseQuery } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { IngestQuarantineQuery } from "../domain/quarantine-listing.ts";
import { type IngestQuarantineListingDeps, listIngestQuarantine } from "../usecases/quarantine-listing.ts";

/** The corrections queue's refused messages for people to read: one day at a time, paged, by reason. */
export function registerIngestQuarantineRoutes(
  app: Router,
  deps: IngestQuarantineListingDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);
  routes.get("/api/sft/ingest/quarantine", async ({ req }) =>
    json(await listIngestQuarantine(deps, parseQuery(req, IngestQuarantineQuery))),
  );
}

const json = (value: unknown) => value as HandlerResponse;

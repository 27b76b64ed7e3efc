import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import type { ReviewerAuthenticator } from "../../common/http/auth.ts";
import { parseQuery, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { IngestQuarantineQuery } from "../../ingest/domain/quarantine-listing.ts";
import {
  type IngestQuarantineListingDeps,
  listIngestQuarantine,
} from "../../ingest/usecases/quarantine-listing.ts";
import { RunQuarantineQuery } from "../domain/run-quarantine.ts";
import { listRunQuarantine, type RunQuarantineDeps } from "../usecases/run-quarantine.ts";

const json = (value: unknown) => value as HandlerResponse;

export interface QuarantineRouteDeps {
  readonly runs: RunQuarantineDeps;
  readonly ingest: IngestQuarantineListingDeps;
}

/**
 * What was kept out on the way in, for people to read: a run's quarantined lines and the ingest
 * path's refused messages, paged, by reason, with signed links to the files.
 */
export function registerQuarantineRoutes(
  app: Router,
  deps: QuarantineRouteDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.get("/api/sft/runs/:run_id/quarantine", async ({ req, params }) =>
    json(
      await listRunQuarantine(
        deps.runs,
        pathId(params, "run_id", "Run"),
        parseQuery(req, RunQuarantineQuery),
      ),
    ),
  );

  routes.get("/api/sft/ingest/quarantine", async ({ req }) =>
    json(await listIngestQuarantine(deps.ingest, parseQuery(req, IngestQuarantineQuery))),
  );
}

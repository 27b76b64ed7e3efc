import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerIngestQuarantineRoutes } from "../../ingest/edge/quarantine-routes.ts";
import { ingestQuarantineListingDeps } from "../../ingest/wiring.ts";
import { quarantineLinks, type SliceContext, storeNames } from "./context.ts";

/** Registers the ingest-quarantine routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, config, reviewer, exportConfig }: SliceContext): void {
  registerIngestQuarantineRoutes(
    app,
    ingestQuarantineListingDeps(clients, storeNames(config), quarantineLinks(exportConfig)),
    reviewer,
  );
}

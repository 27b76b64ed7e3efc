import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerIngestRoutes } from "../../ingest/edge/ingest-routes.ts";
import { ingestApiDeps } from "../../ingest/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the ingest routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, ingestConfig }: SliceContext): void {
  registerIngestRoutes(app, ingestApiDeps(clients, ingestConfig));
}

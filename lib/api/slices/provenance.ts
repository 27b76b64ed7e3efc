import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerProvenanceRoutes } from "../../provenance/edge/provenance-routes.ts";
import { provenanceApiDeps } from "../../provenance/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the provenance routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, config, reviewer }: SliceContext): void {
  registerProvenanceRoutes(app, provenanceApiDeps(clients, config), reviewer);
}

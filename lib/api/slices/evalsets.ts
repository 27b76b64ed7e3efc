import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerEvalSetRoutes } from "../../exports/edge/evalset-routes.ts";
import { evalSetDeps } from "../../exports/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the evalsets routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, reviewer, exportConfig }: SliceContext): void {
  registerEvalSetRoutes(app, evalSetDeps(clients, exportConfig), reviewer);
}

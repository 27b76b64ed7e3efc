import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerExportRoutes } from "../../exports/edge/export-routes.ts";
import { exportApiDeps } from "../../exports/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the exports routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, reviewer, exportConfig }: SliceContext): void {
  registerExportRoutes(app, exportApiDeps(clients, exportConfig), reviewer);
}

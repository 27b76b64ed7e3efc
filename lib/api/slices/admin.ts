import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerAdminRoutes } from "../../admin/edge/admin-routes.ts";
import { adminApiDeps } from "../../admin/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the admin routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, config, reviewer }: SliceContext): void {
  registerAdminRoutes(app, adminApiDeps(clients, config), reviewer);
}

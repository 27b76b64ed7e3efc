import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerRunQuarantineRoutes } from "../../import/edge/quarantine-routes.ts";
import { runQuarantineDeps } from "../../import/wiring.ts";
import { quarantineLinks, type SliceContext, storeNames } from "./context.ts";

/** Registers the run-quarantine routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, config, reviewer, exportConfig }: SliceContext): void {
  registerRunQuarantineRoutes(
    app,
    runQuarantineDeps(clients, storeNames(config), quarantineLinks(exportConfig)),
    reviewer,
  );
}

import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerEvalRoutes } from "../../eval/edge/eval-routes.ts";
import { evalApiDeps } from "../../eval/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the eval routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, reviewer, evalConfig }: SliceContext): void {
  registerEvalRoutes(app, evalApiDeps(clients, evalConfig), reviewer);
}

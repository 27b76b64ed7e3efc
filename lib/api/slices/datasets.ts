import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerDatasetRoutes } from "../../datasets/edge/dataset-routes.ts";
import { datasetDeps } from "../../datasets/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the datasets routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, reviewer, exportConfig }: SliceContext): void {
  registerDatasetRoutes(app, datasetDeps(clients, exportConfig), reviewer);
}

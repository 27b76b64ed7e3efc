import type { Router } from "@aws-lambda-powertools/event-handler/http";
import { registerSuggestionRoutes } from "../../suggest/edge/suggestion-routes.ts";
import { suggestionApiDeps } from "../../suggest/wiring.ts";
import type { SliceContext } from "./context.ts";

/** Registers the suggest routes on `app`; imported by `API_SLICES` on their first request. */
export function register(app: Router, { clients, reviewer, suggestConfig }: SliceContext): void {
  registerSuggestionRoutes(app, suggestionApiDeps(clients, suggestConfig), reviewer);
}

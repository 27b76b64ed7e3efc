import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import type { IngestApiConfig } from "../common/config.ts";
import { registerErrorResponses } from "../common/http/errors.ts";
import { routerHandler } from "../common/http/handler.ts";
import { logger } from "../common/logger.ts";
import { registerIngestRoutes } from "./edge/ingest-routes.ts";
import { ingestApiDeps } from "./wiring.ts";

/**
 * The ingest function's handler: `POST /api/sft/ingest` alone on a router of its own, with the
 * API's error mapping and header guard. In AWS the gateway sends that route here, so products
 * reach a function that may only insert; the API function serves the same route locally.
 */
export function createIngestApiHandler(clients: AwsClients, config: IngestApiConfig) {
  const app = new Router({ logger });
  registerErrorResponses(app, logger);
  registerIngestRoutes(app, ingestApiDeps(clients, config));
  return routerHandler(app);
}

import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { createAwsClients } from "../lib/adapters/aws-clients.ts";
import { evalApiDeps } from "../lib/adapters/eval-deps.ts";
import { exportApiDeps } from "../lib/adapters/export-deps.ts";
import { ingestApiDeps } from "../lib/adapters/ingest-api-deps.ts";
import { provenanceApiDeps } from "../lib/adapters/provenance-api-deps.ts";
import { reviewApiDeps } from "../lib/adapters/review-api-deps.ts";
import {
  EvalApiConfig,
  ExportApiConfig,
  IngestApiConfig,
  loadConfig,
  ReviewApiConfig,
} from "../lib/config.ts";
import { reviewerAuthenticator } from "../lib/http/auth.ts";
import { registerErrorResponses } from "../lib/http/errors.ts";
import { registerEvalRoutes } from "../lib/http/eval-routes.ts";
import { registerExportRoutes } from "../lib/http/export-routes.ts";
import { registerIngestRoutes } from "../lib/http/ingest-routes.ts";
import { registerProvenanceRoutes } from "../lib/http/provenance-routes.ts";
import { registerReviewRoutes } from "../lib/http/review-routes.ts";
import { logger } from "../lib/observability/logger.ts";

const config = loadConfig(ReviewApiConfig);
const clients = createAwsClients(config);
const app = new Router({ logger });
registerErrorResponses(app, logger);

app.get("/api/health", async () => ({ ok: true }));
registerReviewRoutes(
  app,
  reviewApiDeps(clients, {
    tableName: config.TABLE_NAME,
    bucket: config.BUCKET_NAME,
    runsPrefix: config.RUNS_PREFIX,
  }),
  reviewerAuthenticator(config),
);
registerIngestRoutes(app, ingestApiDeps(clients, loadConfig(IngestApiConfig)));
registerEvalRoutes(app, evalApiDeps(clients, loadConfig(EvalApiConfig)), reviewerAuthenticator(config));
registerProvenanceRoutes(app, provenanceApiDeps(clients, config), reviewerAuthenticator(config));
registerExportRoutes(app, exportApiDeps(clients, loadConfig(ExportApiConfig)), reviewerAuthenticator(config));

/** HTTP API (payload 2.0) → the route's use case; errors become `{"detail": ...}` in one place. */
export const handler = (event: APIGatewayProxyEventV2, context: Context) => {
  logger.addContext(context);
  return app.resolve(event, context);
};

import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { registerAdminRoutes } from "../admin/edge/admin-routes.ts";
import { adminApiDeps } from "../admin/wiring.ts";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import {
  EvalApiConfig,
  ExportApiConfig,
  IngestApiConfig,
  loadConfig,
  type ReviewApiConfig,
  SuggestApiConfig,
} from "../common/config.ts";
import { reviewerAuthenticator } from "../common/http/auth.ts";
import { registerErrorResponses } from "../common/http/errors.ts";
import { routerHandler } from "../common/http/handler.ts";
import { guardedRoutes, unregisteredRoutes } from "../common/http/routes.ts";
import { logger } from "../common/logger.ts";
import { registerDatasetRoutes } from "../datasets/edge/dataset-routes.ts";
import { datasetDeps } from "../datasets/wiring.ts";
import { registerEvalRoutes } from "../eval/edge/eval-routes.ts";
import { evalApiDeps } from "../eval/wiring.ts";
import { registerEvalSetRoutes } from "../exports/edge/evalset-routes.ts";
import { registerExportRoutes } from "../exports/edge/export-routes.ts";
import { evalSetDeps, exportApiDeps } from "../exports/wiring.ts";
import { registerRunQuarantineRoutes } from "../import/edge/quarantine-routes.ts";
import { runQuarantineDeps } from "../import/wiring.ts";
import { registerIngestRoutes } from "../ingest/edge/ingest-routes.ts";
import { registerIngestQuarantineRoutes } from "../ingest/edge/quarantine-routes.ts";
import { ingestApiDeps, ingestQuarantineListingDeps } from "../ingest/wiring.ts";
import { registerProvenanceRoutes } from "../provenance/edge/provenance-routes.ts";
import { provenanceApiDeps } from "../provenance/wiring.ts";
import { registerReviewRoutes } from "../review/edge/review-routes.ts";
import { reviewApiDeps } from "../review/wiring.ts";
import { registerSuggestionRoutes } from "../suggest/edge/suggestion-routes.ts";
import { suggestionApiDeps } from "../suggest/wiring.ts";
import { openApiDocument } from "./contract.ts";

/**
 * The one HTTP API: every capability's routes on one router, each wired to its adapters, with
 * errors mapped to `{"detail": ...}` in one place. The API function is this router's handler.
 */
export function createApiRouter(clients: AwsClients, config: ReviewApiConfig): Router {
  const app = new Router({ logger });
  registerErrorResponses(app, logger);
  const reviewer = reviewerAuthenticator(config);

  const open = guardedRoutes(app);
  open.get("/api/health", async () => ({ ok: true }));
  const exportConfig = loadConfig(ExportApiConfig);
  // Built on the first request, not at cold start: only documentation readers pay for it.
  let contract: Record<string, unknown> | undefined;
  open.get("/api/openapi.json", async () => {
    contract ??= openApiDocument(exportConfig.CODE_VERSION ?? "dev");
    return contract as HandlerResponse;
  });
  registerReviewRoutes(
    app,
    reviewApiDeps(clients, {
      tableName: config.TABLE_NAME,
      bucket: config.BUCKET_NAME,
      runsPrefix: config.RUNS_PREFIX,
      runUploadsQueueUrl: config.RUN_UPLOADS_QUEUE_URL,
    }),
    reviewer,
  );
  registerIngestRoutes(app, ingestApiDeps(clients, loadConfig(IngestApiConfig)));
  // Quarantine files are handed out as signed links that last as long as an export's.
  const links = {
    urlExpirySeconds: exportConfig.EXPORT_URL_EXPIRY_SECONDS,
    maxUrlExpirySeconds: exportConfig.EXPORT_URL_MAX_EXPIRY_SECONDS,
  };
  const names = { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME };
  registerRunQuarantineRoutes(app, runQuarantineDeps(clients, names, links), reviewer);
  registerIngestQuarantineRoutes(app, ingestQuarantineListingDeps(clients, names, links), reviewer);
  registerEvalRoutes(app, evalApiDeps(clients, loadConfig(EvalApiConfig)), reviewer);
  registerSuggestionRoutes(app, suggestionApiDeps(clients, loadConfig(SuggestApiConfig)), reviewer);
  registerProvenanceRoutes(app, provenanceApiDeps(clients, config), reviewer);
  registerExportRoutes(app, exportApiDeps(clients, exportConfig), reviewer);
  registerEvalSetRoutes(app, evalSetDeps(clients, exportConfig), reviewer);
  registerDatasetRoutes(app, datasetDeps(clients, exportConfig), reviewer);
  registerAdminRoutes(app, adminApiDeps(clients, config), reviewer);
  const missing = unregisteredRoutes(app);
  if (missing.length > 0) throw new Error(`declared in ROUTE_ACCESS but not served: ${missing.join(", ")}`);
  return app;
}

/**
 * The API function's handler: the router's, a header HTTP cannot carry answering 400
 * (`routerHandler`).
 */
export function createApiHandler(clients: AwsClients, config: ReviewApiConfig) {
  return routerHandler(createApiRouter(clients, config));
}

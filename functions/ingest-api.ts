import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { IngestApiConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { createIngestApiHandler } from "../lib/ingest/api-wiring.ts";

const config = loadConfig(IngestApiConfig);
const api = createIngestApiHandler(createAwsClients(config), config);

/** HTTP API (payload 2.0) `POST /api/sft/ingest` → one correction stored as an approved record. */
export const handler = observedHandler((event: APIGatewayProxyEventV2, context: Context) =>
  api(event, context),
);

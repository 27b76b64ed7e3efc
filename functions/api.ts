import type { APIGatewayProxyEventV2, Context } from "aws-lambda";
import { createApiHandler } from "../lib/api/wiring.ts";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { loadConfig, ReviewApiConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";

const config = loadConfig(ReviewApiConfig);
const api = createApiHandler(createAwsClients(config), config);

/** HTTP API (payload 2.0) → the route's use case; errors become `{"detail": ...}` in one place. */
export const handler = observedHandler((event: APIGatewayProxyEventV2, context: Context) =>
  api(event, context),
);

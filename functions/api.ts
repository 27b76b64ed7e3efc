import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { createApiRouter } from "../lib/api/wiring.ts";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { loadConfig, ReviewApiConfig } from "../lib/common/config.ts";
import { unrepresentableHeader } from "../lib/common/http/request.ts";
import { logger } from "../lib/common/logger.ts";

const config = loadConfig(ReviewApiConfig);
const app = createApiRouter(createAwsClients(config), config);

/** HTTP API (payload 2.0) → the route's use case; errors become `{"detail": ...}` in one place. */
export const handler = async (
  event: APIGatewayProxyEventV2,
  context: Context,
): Promise<APIGatewayProxyStructuredResultV2> => {
  logger.addContext(context);
  // A header the router cannot turn into a request is the caller's mistake: a 400, not a crash.
  const header = unrepresentableHeader(event.headers);
  if (header !== null) {
    logger.warn("request refused: a header HTTP cannot carry", { header });
    return {
      statusCode: 400,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        detail: `The ${header} header holds a character HTTP headers cannot carry (above U+00FF, NUL, CR or LF)`,
      }),
    };
  }
  return app.resolve(event, context);
};

import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { logger, withLogKeys } from "../logger.ts";
import { unrepresentableHeader } from "./request.ts";

/**
 * A Lambda handler for `app`: the router's, except that a header HTTP cannot carry (which the
 * router would throw on while turning the event into a request, before any error handler) is
 * the caller's mistake and answers 400. Every line logged while a request is served carries its
 * API Gateway request id (`correlation_id`, `request_id`).
 */
export function routerHandler(app: Router) {
  return async (
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> => {
    const requestId = event.requestContext?.requestId ?? context?.awsRequestId;
    return withLogKeys({ correlation_id: requestId, request_id: requestId }, () => resolve(event, context));
  };

  async function resolve(
    event: APIGatewayProxyEventV2,
    context: Context,
  ): Promise<APIGatewayProxyStructuredResultV2> {
    const header = unrepresentableHeader(event.headers);
    if (header === null) return app.resolve(event, context);
    logger.warn("request refused: a header HTTP cannot carry", { header });
    return {
      statusCode: 400,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        detail: `The ${header} header holds a character HTTP headers cannot carry (above U+00FF, NUL, CR or LF)`,
      }),
    };
  }
}

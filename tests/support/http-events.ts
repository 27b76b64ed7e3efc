import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";

export interface HttpRequest {
  readonly body?: unknown;
  readonly query?: Record<string, string>;
  readonly headers?: Record<string, string>;
  /** The bearer token sent as `Authorization`. */
  readonly token?: string;
  /** Claims as the HTTP API's JWT authorizer passes them on (AWS only). */
  readonly claims?: Record<string, string>;
}

/** An API Gateway HTTP API (payload 2.0) event, as AWS and the local runtime deliver it. */
export function httpEvent(method: string, path: string, request: HttpRequest = {}): APIGatewayProxyEventV2 {
  const rawQueryString = new URLSearchParams(request.query ?? {}).toString();
  const headers: Record<string, string> = {
    host: "api.example.test",
    "user-agent": "vitest",
    "x-forwarded-proto": "https",
    ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
    ...(request.token !== undefined ? { authorization: `Bearer ${request.token}` } : {}),
    ...request.headers,
  };
  const now = new Date();
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: `ANY /api/{proxy+}`,
    rawPath: path,
    rawQueryString,
    headers,
    requestContext: {
      accountId: "123456789012",
      apiId: "api",
      domainName: "api.example.test",
      domainPrefix: "api",
      http: { method, path, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: randomUUID(),
      routeKey: `ANY /api/{proxy+}`,
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    pathParameters: { proxy: path.replace(/^\/api\//, "") },
    isBase64Encoded: false,
  };
  if (rawQueryString) event.queryStringParameters = request.query;
  if (request.body !== undefined) {
    event.body = typeof request.body === "string" ? request.body : JSON.stringify(request.body);
  }
  if (request.claims) {
    (event.requestContext as unknown as Record<string, unknown>).authorizer = {
      jwt: { claims: request.claims, scopes: null },
    };
  }
  return event;
}

export interface HttpReply {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies are asserted field by field
  readonly body: any;
}

/** An API function's handler, as functions/api.ts exports it. */
export type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** Calls `handler` with an HTTP API event and parses the JSON reply. */
export async function callApi(
  handler: ApiHandler,
  context: Context,
  method: string,
  path: string,
  request?: HttpRequest,
): Promise<HttpReply> {
  const result = await handler(httpEvent(method, path, request), context);
  const text = result.isBase64Encoded
    ? Buffer.from(result.body ?? "", "base64").toString("utf8")
    : result.body;
  return { status: result.statusCode ?? 200, body: text ? JSON.parse(text) : undefined };
}

/**
 * Calls as a signed-in person: `sub` in the user-pool group `group`, with the claims the HTTP
 * API's JWT authorizer passes on (email `<sub>@example.com`). `handler` is read at each call, so
 * it may be assigned after this is made (in `beforeAll`).
 */
export function callerAs(handler: () => ApiHandler, context: Context) {
  return (sub: string, group: string) =>
    (method: string, path: string, request: HttpRequest = {}): Promise<HttpReply> =>
      callApi(handler(), context, method, path, {
        claims: { sub, email: `${sub}@example.com`, "cognito:groups": `[${group}]` },
        ...request,
      });
}

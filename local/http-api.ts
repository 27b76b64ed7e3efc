import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join, resolve, sep } from "node:path";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { createLambdaContext, InvocationTimeout, randomId, withTimeout } from "./lambda-context.ts";
import { LOCAL_ACCOUNT_ID } from "./s3-events.ts";

/** API Gateway's payload limit. */
export const MAX_REQUEST_BYTES = 10 * 1024 * 1024;
/** API Gateway's maximum integration timeout for HTTP APIs. */
const INTEGRATION_TIMEOUT_SECONDS = 30;
const API_ID = "local";

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export interface HttpApiServer {
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export interface HttpApiOptions {
  readonly port: number;
  readonly handler: HttpApiHandler;
  readonly region: string;
  readonly functionName?: string;
  /** Static files served for paths outside `/api`, when the folder exists. */
  readonly staticDir?: string;
  /**
   * Settings for the web UI on this machine (the dev reviewer token), served as
   * `GET /local-config.json` to loopback clients that name a loopback host only.
   */
  readonly browserConfig?: Readonly<Record<string, unknown>>;
  /** Passed to each request's context: once aborted, the handler has no time left. */
  readonly cutShort?: AbortSignal;
  readonly log?: (line: string) => void;
}

/**
 * An HTTP API (payload format 2.0, `$default` route) in front of one Lambda handler, on
 * 127.0.0.1: each request becomes the event API Gateway would send, and the handler's result
 * becomes the response. Errors look like API Gateway's own (413, 500, 503 with `{message}`).
 */
export async function startHttpApi(options: HttpApiOptions): Promise<HttpApiServer> {
  const log = options.log ?? (() => {});
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      log(`api: ${request.method} ${request.url} failed: ${String(error)}`);
      if (!response.headersSent) sendMessage(response, 500, "Internal Server Error");
      else response.destroy();
    });
  });

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://localhost");
    const path = url.pathname;
    if (path === LOCAL_CONFIG_PATH && options.browserConfig) {
      return serveBrowserConfig(options.browserConfig, request, response);
    }
    if (
      options.staticDir &&
      !isApiPath(path) &&
      (await serveStatic(options.staticDir, path, request, response))
    ) {
      return;
    }
    const declared = Number(request.headers["content-length"] ?? 0);
    if (declared > MAX_REQUEST_BYTES) return rejectTooLarge(request, response);
    const body = await readBody(request);
    if (body === undefined) return rejectTooLarge(request, response);
    const event = toHttpApiEvent(request, body, new Date(), url);
    const context = createLambdaContext({
      functionName: options.functionName ?? "flywheel-api",
      region: options.region,
      timeoutSeconds: INTEGRATION_TIMEOUT_SECONDS,
      ...(options.cutShort ? { cutShort: options.cutShort } : {}),
    });
    let result: APIGatewayProxyResultV2;
    try {
      result = await withTimeout(INTEGRATION_TIMEOUT_SECONDS, () => options.handler(event, context));
    } catch (error) {
      if (error instanceof InvocationTimeout) return sendMessage(response, 503, "Service Unavailable");
      log(
        `api: ${request.method} ${event.rawPath} threw: ${error instanceof Error ? error.stack : String(error)}`,
      );
      return sendMessage(response, 500, "Internal Server Error");
    }
    writeResult(response, result, request.method === "HEAD");
  };

  await new Promise<void>((done, fail) => {
    server.once("error", fail);
    server.listen({ port: options.port, host: "127.0.0.1" }, () => done());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stop: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        server.closeAllConnections();
      }),
  };
}

const isApiPath = (path: string) => path === "/api" || path.startsWith("/api/");

export const LOCAL_CONFIG_PATH = "/local-config.json";

const isLoopbackAddress = (address: string | undefined) =>
  address !== undefined && (/^(::ffff:)?127\./.test(address) || address === "::1");

/** `127.0.0.1:8787`, `localhost`, `[::1]:8787`: a page that reached us under another name is refused. */
export function isLoopbackHost(host: string | undefined): boolean {
  if (!host) return false;
  const name = host.startsWith("[") ? host.slice(0, host.indexOf("]") + 1) : host.replace(/:\d+$/, "");
  return name === "localhost" || name === "[::1]" || /^127(\.\d{1,3}){3}$/.test(name);
}

/**
 * The web UI's local settings. The server listens on 127.0.0.1 only; the Host check also keeps a
 * page from another site that rebinds its name to 127.0.0.1 from reading the token.
 */
function serveBrowserConfig(
  config: Readonly<Record<string, unknown>>,
  request: IncomingMessage,
  response: ServerResponse,
) {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return sendMessage(response, 405, "Method Not Allowed");
  }
  if (!isLoopbackAddress(request.socket.remoteAddress) || !isLoopbackHost(request.headers.host)) {
    return sendMessage(response, 403, "Forbidden");
  }
  const body = JSON.stringify(config);
  response.writeHead(200, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
  });
  response.end(request.method === "HEAD" ? undefined : body);
}

/**
 * Reads the body, or returns undefined once it exceeds {@link MAX_REQUEST_BYTES} (leaving the loop
 * leaves the rest unread); rejects when the client goes before its body ends.
 */
async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_REQUEST_BYTES) return undefined;
    chunks.push(chunk);
  }
  return chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
}

function rejectTooLarge(request: IncomingMessage, response: ServerResponse) {
  response.setHeader("connection", "close");
  sendMessage(response, 413, "Request Entity Too Large");
  response.once("finish", () => request.destroy());
}

function sendMessage(response: ServerResponse, status: number, message: string) {
  const body = JSON.stringify({ message });
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  response.end(body);
}

/** Content types API Gateway passes as text; every other body arrives base64-encoded. */
export function isTextContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mediaType = contentType.split(";")[0]?.trim().toLowerCase() ?? "";
  return (
    mediaType.startsWith("text/") ||
    /^application\/(json|xml|javascript|[\w.-]+\+(json|xml))$/.test(mediaType)
  );
}

export function toHttpApiEvent(
  request: IncomingMessage,
  body: Buffer,
  now = new Date(),
  url = new URL(request.url ?? "/", "http://localhost"),
): APIGatewayProxyEventV2 {
  const rawPath = url.pathname;
  const rawQueryString = url.search.replace(/^\?/, "");
  const sourceIp = (request.socket.remoteAddress ?? "127.0.0.1").replace(/^::ffff:/, "");

  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(request.headersDistinct)) {
    if (name === "cookie" || !values) continue;
    headers[name] = values.join(",");
  }
  headers["x-forwarded-for"] ??= sourceIp;
  headers["x-forwarded-port"] ??= String(request.socket.localPort ?? "");
  headers["x-forwarded-proto"] ??= "http";
  headers["x-amzn-trace-id"] ??=
    `Root=1-${Math.floor(now.getTime() / 1000).toString(16)}-${randomId(12).toString("hex")}`;

  const cookies = (request.headersDistinct.cookie ?? [])
    .flatMap((header) => header.split(";"))
    .map((cookie) => cookie.trim())
    .filter(Boolean);

  const query: Record<string, string> = {};
  for (const [name, value] of url.searchParams) {
    query[name] = name in query ? `${query[name]},${value}` : value;
  }

  const domainName = headers.host ?? "127.0.0.1";
  const requestId = randomId(10).toString("base64");
  const event: APIGatewayProxyEventV2 = {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: API_ID,
      domainName,
      domainPrefix: domainName.split(".")[0] ?? domainName,
      http: {
        method: request.method ?? "GET",
        path: rawPath,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId,
      routeKey: "$default",
      stage: "$default",
      time: formatRequestTime(now),
      timeEpoch: now.getTime(),
    },
    pathParameters: { proxy: safeDecode(rawPath.replace(/^\//, "")) },
    isBase64Encoded: false,
  };
  if (cookies.length > 0) event.cookies = cookies;
  if (rawQueryString) event.queryStringParameters = query;
  if (body.length > 0) {
    const text = isTextContentType(headers["content-type"]);
    event.body = text ? body.toString("utf8") : body.toString("base64");
    event.isBase64Encoded = !text;
  }
  return event;
}

/** `07/Apr/2026:14:30:22 +0000`, as in API Gateway's `requestContext.time`. */
function formatRequestTime(date: Date): string {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${pad(date.getUTCDate())}/${months[date.getUTCMonth()]}/${date.getUTCFullYear()}:` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} +0000`
  );
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/**
 * Writes a handler result the way API Gateway interprets payload 2.0 responses: a structured
 * result with `statusCode` is used as is; anything else is a 200 JSON body.
 */
function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2, headOnly: boolean) {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    const body = typeof result === "string" ? result : JSON.stringify(result);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(headOnly ? undefined : body);
    return;
  }
  for (const [name, value] of Object.entries(result.headers ?? {})) {
    response.setHeader(name, String(value));
  }
  if (result.cookies?.length) response.setHeader("set-cookie", result.cookies);
  const body =
    result.body === undefined
      ? undefined
      : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  if (body) response.setHeader("content-length", body.length);
  response.writeHead(result.statusCode ?? 200);
  response.end(headOnly ? undefined : body);
}

const STATIC_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".map": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

/**
 * Serves a file from `root`, falling back to `index.html` for extension-less paths (client-side
 * routes). Returns false when `root` does not exist, so the request goes to the handler.
 */
async function serveStatic(
  root: string,
  path: string,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<boolean> {
  const base = resolve(root);
  if (!(await isDirectory(base))) return false;
  if (request.method !== "GET" && request.method !== "HEAD") {
    sendMessage(response, 405, "Method Not Allowed");
    return true;
  }
  const requested = resolve(base, `.${safeDecode(path)}`);
  if (requested !== base && !requested.startsWith(base + sep)) {
    sendMessage(response, 404, "Not Found");
    return true;
  }
  let file = requested;
  if (await isDirectory(file)) file = join(file, "index.html");
  let info = await stat(file).catch(() => undefined);
  if (!info?.isFile() && extname(requested) === "") {
    file = join(base, "index.html");
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) {
    sendMessage(response, 404, "Not Found");
    return true;
  }
  response.writeHead(200, {
    "content-type": STATIC_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream",
    "content-length": info.size,
    "cache-control": "no-cache",
  });
  if (request.method === "HEAD") response.end();
  else createReadStream(file).pipe(response);
  return true;
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined))?.isDirectory() ?? false;
}

import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context } from "aws-lambda";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  type HttpApiHandler,
  type HttpApiServer,
  MAX_REQUEST_BYTES,
  startHttpApi,
} from "../../../local/http-api.ts";

let server: HttpApiServer;
let staticDir: string;
let received: { event: APIGatewayProxyEventV2; context: Context }[] = [];
let reply: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyResultV2> = async () => ({
  statusCode: 200,
  body: "{}",
});

beforeAll(async () => {
  staticDir = await mkdtemp(join(tmpdir(), "flywheel-static-"));
  await writeFile(join(staticDir, "index.html"), "<h1>flywheel</h1>");
  await writeFile(join(staticDir, "app.js"), "console.log(1)");
  const handler: HttpApiHandler = async (event, context) => {
    received.push({ event, context });
    return reply(event);
  };
  server = await startHttpApi({ port: 0, handler, region: "us-east-1", staticDir });
});

afterAll(async () => {
  await server.stop();
  await rm(staticDir, { recursive: true, force: true });
});

beforeEach(() => {
  received = [];
  reply = async () => ({ statusCode: 200, body: "{}" });
});

describe("local HTTP API", () => {
  it("listens on loopback only", () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("turns a request into an API Gateway payload 2.0 event", async () => {
    const response = await fetch(`${server.url}/api/candidates/c%201?status=new&tag=a&tag=b`, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Authorization: "Bearer t0ken",
        Cookie: "session=abc; theme=dark",
        "X-Custom": "1",
      },
      body: JSON.stringify({ hello: "world" }),
    });
    expect(response.status).toBe(200);

    const [{ event, context } = {} as never] = received;
    expect(event).toMatchObject({
      version: "2.0",
      routeKey: "$default",
      rawPath: "/api/candidates/c%201",
      rawQueryString: "status=new&tag=a&tag=b",
      cookies: ["session=abc", "theme=dark"],
      queryStringParameters: { status: "new", tag: "a,b" },
      pathParameters: { proxy: "api/candidates/c 1" },
      body: '{"hello":"world"}',
      isBase64Encoded: false,
      requestContext: {
        accountId: expect.any(String),
        apiId: expect.any(String),
        domainName: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        http: {
          method: "POST",
          path: "/api/candidates/c%201",
          protocol: "HTTP/1.1",
          sourceIp: "127.0.0.1",
          userAgent: expect.any(String),
        },
        requestId: expect.any(String),
        routeKey: "$default",
        stage: "$default",
        time: expect.stringMatching(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/),
        timeEpoch: expect.any(Number),
      },
    });
    expect(event.headers).toMatchObject({
      "content-type": "application/json",
      authorization: "Bearer t0ken",
      "x-custom": "1",
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(20_000);
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("leaves out what API Gateway leaves out of a bare GET", async () => {
    await fetch(`${server.url}/api/health`);
    const [{ event } = {} as never] = received;
    expect(event.body).toBeUndefined();
    expect(event.queryStringParameters).toBeUndefined();
    expect(event.cookies).toBeUndefined();
    expect(event.isBase64Encoded).toBe(false);
  });

  it("base64-encodes binary bodies", async () => {
    const bytes = Buffer.from([0, 1, 2, 255]);
    await fetch(`${server.url}/api/blob`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream" },
      body: bytes,
    });
    const [{ event } = {} as never] = received;
    expect(event.isBase64Encoded).toBe(true);
    expect(Buffer.from(event.body ?? "", "base64")).toEqual(bytes);
  });

  it("writes back status, headers, cookies and decoded base64 bodies", async () => {
    reply = async () => ({
      statusCode: 201,
      headers: { "content-type": "application/octet-stream", "x-request": "r1" },
      cookies: ["a=1; Path=/", "b=2; HttpOnly"],
      body: Buffer.from("binary!").toString("base64"),
      isBase64Encoded: true,
    });
    const response = await fetch(`${server.url}/api/x`);
    expect(response.status).toBe(201);
    expect(response.headers.get("x-request")).toBe("r1");
    expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/", "b=2; HttpOnly"]);
    expect(await response.text()).toBe("binary!");
  });

  it("answers a handler that throws with API Gateway's 500", async () => {
    reply = async () => {
      throw new Error("kaput");
    };
    const response = await fetch(`${server.url}/api/x`);
    expect(response.status).toBe(500);
    expect(await response.json()).toEqual({ message: "Internal Server Error" });
  });

  it("rejects bodies over 10 MB with 413 without calling the handler", async () => {
    const response = await fetch(`${server.url}/api/upload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "x".repeat(MAX_REQUEST_BYTES + 1),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toEqual({ message: "Request Entity Too Large" });
    expect(received).toHaveLength(0);
  });

  it("also rejects an oversized body sent without a content-length", async () => {
    const chunk = new Uint8Array(1024 * 1024).fill(120);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ > 11) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const response = await fetch(`${server.url}/api/upload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
      duplex: "half",
    } as RequestInit);
    expect(response.status).toBe(413);
    expect(received).toHaveLength(0);
  });

  it("accepts a body of exactly 10 MB", async () => {
    const response = await fetch(`${server.url}/api/upload`, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: "x".repeat(MAX_REQUEST_BYTES),
    });
    expect(response.status).toBe(200);
    expect(received[0]?.event.body).toHaveLength(MAX_REQUEST_BYTES);
  });

  it("serves the web build outside /api, with index.html for client-side routes", async () => {
    const asset = await fetch(`${server.url}/app.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("content-type")).toContain("javascript");
    expect(await asset.text()).toBe("console.log(1)");

    const route = await fetch(`${server.url}/review/queue`);
    expect(await route.text()).toBe("<h1>flywheel</h1>");

    expect((await fetch(`${server.url}/missing.css`)).status).toBe(404);
    expect((await fetch(`${server.url}/..%2f..%2fetc%2fpasswd`)).status).toBe(404);
    expect(received).toHaveLength(0);
  });
});

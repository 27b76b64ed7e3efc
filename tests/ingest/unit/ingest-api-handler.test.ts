import type { Context } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { createAwsClients } from "../../../lib/common/adapters/aws-clients.ts";
import { IngestApiConfig, loadConfig } from "../../../lib/common/config.ts";
import { createIngestApiHandler } from "../../../lib/ingest/api-wiring.ts";
import { httpEvent } from "../../support/http-events.ts";

// Every request here is refused before the body is read, so no AWS call is made.
const config = loadConfig(IngestApiConfig, {
  AWS_REGION: "us-east-1",
  TABLE_NAME: "flywheel-test",
  BUCKET_NAME: "flywheel-test",
  INGEST_TOKENS: JSON.stringify({ kiwi: "kiwi-token-0123456789" }),
});
const handler = createIngestApiHandler(createAwsClients(config), config);
const call = async (...args: Parameters<typeof httpEvent>) => {
  const reply = await handler(httpEvent(...args), {} as Context);
  return { status: reply.statusCode, body: reply.body ? JSON.parse(reply.body) : undefined };
};

describe("the ingest function's handler", () => {
  it("serves POST /api/sft/ingest, refusing a call without a token (401) or with another one (403)", async () => {
    expect((await call("POST", "/api/sft/ingest", { body: { source: "kiwi" } })).status).toBe(401);
    const wrong = await call("POST", "/api/sft/ingest", { body: { source: "kiwi" }, token: "not-a-token" });
    expect(wrong.status).toBe(403);
    expect(wrong.body).toEqual({ detail: expect.any(String) });
  });

  it("serves no other route", async () => {
    expect((await call("GET", "/api/health")).status).toBe(404);
    expect((await call("GET", "/api/sft/queue", { token: "kiwi-token-0123456789" })).status).toBe(404);
  });

  it("answers 400 to a header HTTP cannot carry, as the API function does", async () => {
    const reply = await call("POST", "/api/sft/ingest", { headers: { "x-note": "caf\u0113" } });
    expect(reply.status).toBe(400);
    expect(reply.body.detail).toContain("x-note");
  });
});

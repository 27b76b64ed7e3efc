import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { provisionTestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi } from "../../support/http-events.ts";

type ApiHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const REVIEWER = `reviewer-${randomUUID()}`;
const ADMIN = `admin-${randomUUID()}`;
const context = lambdaContext("api");
let api: ApiHandler;

beforeAll(async () => {
  const aws = await provisionTestAws("config-access");
  vi.resetModules();
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", `operator-${randomUUID()}`);
  vi.stubEnv("LOCAL_ROLE_TOKENS", JSON.stringify({ reviewer: REVIEWER, admin: ADMIN }));
  api = (await import("../../../functions/api.ts")).handler;
});

describe("GET /api/sft/config says whether the caller may change the runs prefix", () => {
  it("a reviewer reads it and may not change it: can_change false, and the change is refused", async () => {
    const read = await callApi(api, context, "GET", "/api/sft/config", { token: REVIEWER });
    expect(read.status).toBe(200);
    expect(read.body).toMatchObject({ bench_results_dir: expect.any(String), can_change: false });

    const change = await callApi(api, context, "POST", "/api/sft/config", {
      token: REVIEWER,
      body: { bench_results_dir: "runs/elsewhere/" },
    });
    expect(change.status).toBe(403);
    const after = await callApi(api, context, "GET", "/api/sft/config", { token: REVIEWER });
    expect(after.body.bench_results_dir).toBe(read.body.bench_results_dir);
  });

  it("an admin may: can_change true, and the change is kept", async () => {
    const read = await callApi(api, context, "GET", "/api/sft/config", { token: ADMIN });
    expect(read.body).toMatchObject({ can_change: true });
    const prefix = `${String(read.body.bench_results_dir).replace(/\/$/, "")}/team-a/`;
    const change = await callApi(api, context, "POST", "/api/sft/config", {
      token: ADMIN,
      body: { bench_results_dir: prefix },
    });
    expect(change.status).toBe(200);
    const after = await callApi(api, context, "GET", "/api/sft/config", { token: ADMIN });
    expect(after.body).toEqual({ bench_results_dir: prefix, can_change: true });
  });
});

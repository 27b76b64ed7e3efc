import { afterEach, describe, expect, it, vi } from "vitest";
import {
  API_SLICES,
  createApiRouter,
  loadSlice,
  routesOfSlices,
  type SliceName,
  sliceOf,
} from "../../../lib/api/wiring.ts";
import { createAwsClients } from "../../../lib/common/adapters/aws-clients.ts";
import {
  EvalApiConfig,
  ExportApiConfig,
  IngestApiConfig,
  loadConfig,
  ReviewApiConfig,
  SuggestApiConfig,
} from "../../../lib/common/config.ts";
import { type DeclaredRoute, ROUTE_ACCESS } from "../../../lib/common/http/access.ts";
import { reviewerAuthenticator } from "../../../lib/common/http/auth.ts";
import { httpEvent } from "../../support/http-events.ts";

const env = {
  AWS_REGION: "us-east-1",
  TABLE_NAME: "wiring-table",
  BUCKET_NAME: "wiring-bucket",
  REVIEWER_TOKEN: "wiring-reviewer-token",
};
const config = loadConfig(ReviewApiConfig, env);
const context = {
  clients: createAwsClients(config),
  config,
  reviewer: reviewerAuthenticator(config),
  exportConfig: loadConfig(ExportApiConfig, env),
  ingestConfig: loadConfig(IngestApiConfig, env),
  evalConfig: loadConfig(EvalApiConfig, env),
  suggestConfig: loadConfig(SuggestApiConfig, env),
};

describe("the API's capabilities, loaded on their first request", () => {
  it("gives every declared route but the function's own to exactly one capability", () => {
    const given = [...routesOfSlices().values()].flat().sort();
    const declared = (Object.keys(ROUTE_ACCESS) as DeclaredRoute[])
      .filter((route) => route !== "GET /api/health" && route !== "GET /api/openapi.json")
      .sort();
    expect(given).toEqual(declared);
    expect(sliceOf("GET /api/sft/runs/:run_id/quarantine")).toBe("runQuarantine");
    expect(sliceOf("GET /api/sft/runs")).toBe("review");
    expect(sliceOf("GET /api/sft/ingest/quarantine")).toBe("ingestQuarantine");
    expect(sliceOf("GET /api/v2/eval/sessions")).toBe("eval");
  });

  it("loads each capability serving exactly the routes its paths give it", async () => {
    for (const [name, routes] of routesOfSlices()) {
      const handlers = await loadSlice(name, context, routes);
      expect([...handlers.keys()].sort(), name).toEqual([...routes].sort());
    }
    expect(new Set(routesOfSlices().keys())).toEqual(new Set(Object.keys(API_SLICES)));
  });

  it("refuses a capability whose routes are not those its paths give it", async () => {
    const routes = routesOfSlices().get("admin") ?? [];
    await expect(
      loadSlice("admin", context, [...routes, "POST /api/admin/elsewhere" as DeclaredRoute]),
    ).rejects.toThrow("POST /api/admin/elsewhere not served");
    await expect(loadSlice("admin" as SliceName, context, [])).rejects.toThrow(
      "POST /api/admin/recount served but under another capability's paths",
    );
  });

  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it("answers through a capability loaded on demand as the router answered before", async () => {
    for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
    const app = createApiRouter(context.clients, config);
    const health = await app.resolve(httpEvent("GET", "/api/health"), {} as never);
    expect(health.statusCode).toBe(200);
    // Scope checks run before the capability is loaded; a bad query is refused by its handler.
    const unauthenticated = await app.resolve(httpEvent("GET", "/api/sft/queue"), {} as never);
    expect(unauthenticated.statusCode).toBe(401);
    const refused = await app.resolve(
      httpEvent("GET", "/api/sft/queue", { token: env.REVIEWER_TOKEN, query: { per_page: "many" } }),
      {} as never,
    );
    expect(refused.statusCode).toBe(422);
    const unknown = await app.resolve(
      httpEvent("GET", "/api/sft/nowhere", { token: env.REVIEWER_TOKEN }),
      {} as never,
    );
    expect(unknown.statusCode).toBe(404);
  });
});

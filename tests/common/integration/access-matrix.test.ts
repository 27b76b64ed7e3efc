import { randomUUID } from "node:crypto";
import { Router } from "@aws-lambda-powertools/event-handler/http";
import { beforeAll, describe, expect, it, vi } from "vitest";
import {
  ALL_ROLES,
  type DeclaredRoute,
  ROUTE_ACCESS,
  type Role,
  routesReachable,
  scopeName,
  scopesOfRoles,
} from "../../../lib/common/http/access.ts";
import { guardedRoutes, UndeclaredRouteError } from "../../../lib/common/http/routes.ts";
import { provisionTestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi } from "../../support/http-events.ts";

/**
 * Every route × every role, through the real API handler as `npm start` serves it: a role's dev
 * token reaches exactly the routes of its scopes, and every other route answers 403 naming the
 * scope it needs. Routes come from ROUTE_ACCESS, so a new route is in the matrix the moment it is
 * declared, and cannot be served without being declared.
 */

const ROLE_TOKENS = Object.fromEntries(ALL_ROLES.map((role) => [role, `${role}-${randomUUID()}`])) as Record<
  Role,
  string
>;
const OPERATOR_TOKEN = `operator-${randomUUID()}`;
const context = lambdaContext("api");
let api: ApiHandler;

/** A concrete path for a route pattern: ids that exist nowhere. */
const concrete = (pattern: string) => pattern.replace(/:[a-z_]+/g, "no-such-id");

const routes = Object.entries(ROUTE_ACCESS) as [DeclaredRoute, string][];
const scoped = routes.filter(([, access]) => access !== "open");

beforeAll(async () => {
  const aws = await provisionTestAws("access-matrix");
  vi.resetModules();
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", OPERATOR_TOKEN);
  vi.stubEnv("LOCAL_ROLE_TOKENS", JSON.stringify(ROLE_TOKENS));
  vi.stubEnv("INGEST_TOKENS", JSON.stringify({ kiwi: `kiwi-${randomUUID()}` }));
  api = (await import("../../../functions/api.ts")).handler;
});

async function call(route: DeclaredRoute, token: string | undefined) {
  const [method, pattern] = route.split(" ") as [string, string];
  return callApi(api, context, method, concrete(pattern), {
    ...(token ? { token } : {}),
    ...(method === "POST" ? { body: {} } : {}),
  });
}

describe.each(ALL_ROLES)("the %s role's token", (role) => {
  const scopes = scopesOfRoles([role]);

  it.each(scoped)("%s (needs %s)", async (route, access) => {
    const reply = await call(route, ROLE_TOKENS[role]);
    if (scopes.has(access as never)) {
      // Reached the route: whatever it answers (200, 404, 422…), it is not refused for access.
      expect([401, 403], `${route}: ${JSON.stringify(reply.body)}`).not.toContain(reply.status);
    } else {
      expect(reply).toEqual({
        status: 403,
        body: {
          detail: `This route needs the scope ${scopeName(access as never)}, which local-${role} does not hold`,
        },
      });
    }
  });
});

describe("every route", () => {
  it.each(scoped)("%s answers 401 without a token and 401 for an unknown one", async (route) => {
    expect((await call(route, undefined)).status).toBe(401);
    expect((await call(route, `unknown-${randomUUID()}`)).status).toBe(401);
  });

  it.each(scoped)("%s is reached by the local operator's token", async (route) => {
    const reply = await call(route, OPERATOR_TOKEN);
    // The operator holds every scope a person can hold; ingest is a product's.
    expect([401, 403]).not.toContain(reply.status);
  });

  it("the open health check answers everyone", async () => {
    for (const token of [undefined, ...Object.values(ROLE_TOKENS)]) {
      expect((await call("GET /api/health", token)).status).toBe(200);
    }
  });

  it("each role reaches what its scopes name: reviewers review, exporters export, admins administer", () => {
    const reach = (role: Role) => new Set(routesReachable(scopesOfRoles([role])));
    expect(reach("reviewer").has("POST /api/sft/submit")).toBe(true);
    expect(reach("reviewer").has("POST /api/exports")).toBe(false);
    expect(reach("reviewer").has("POST /api/sft/config")).toBe(false);
    expect(reach("reviewer").has("POST /api/provenance/backfill")).toBe(false);
    expect(reach("reviewer").has("POST /api/eval/sessions")).toBe(false);
    expect(reach("exporter").has("GET /api/sft/export")).toBe(true);
    expect(reach("exporter").has("POST /api/sft/submit")).toBe(false);
    expect(reach("eval-writer").has("POST /api/eval/feedback")).toBe(true);
    expect(reach("eval-writer").has("GET /api/eval/sessions")).toBe(false);
    expect(reach("admin").has("POST /api/admin/recount")).toBe(true);
    expect(reach("exporter").has("POST /api/evalsets/:name")).toBe(true);
    expect(reach("exporter").has("DELETE /api/evalsets/:name")).toBe(false);
    expect(reach("admin").has("DELETE /api/evalsets/:name")).toBe(true);
  });
});

describe("registration", () => {
  it("refuses a route the access table does not declare", () => {
    const routes = guardedRoutes(new Router(), () => {
      throw new Error("not called");
    });
    expect(() => routes.get("/api/sft/secret", async () => ({}))).toThrow(UndeclaredRouteError);
    expect(() => routes.post("/api/health", async () => ({}))).toThrow(
      "POST /api/health has no declared scope: add it to ROUTE_ACCESS",
    );
  });
});

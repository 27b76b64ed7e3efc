import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { localTokenAuthenticator } from "../../../lib/common/http/auth.ts";
import { registerErrorResponses } from "../../../lib/common/http/errors.ts";
import { registerExportRoutes } from "../../../lib/exports/edge/export-routes.ts";
import type { ExportApiDeps } from "../../../lib/exports/usecases/exports.ts";
import { lambdaContext } from "../../support/events.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";
import { type HttpRequest, httpEvent } from "../../support/http-events.ts";

const TOKEN = "export-route-token";

function routes(deps: ExportApiDeps) {
  const app = new Router();
  registerErrorResponses(app);
  registerExportRoutes(app, deps, localTokenAuthenticator(TOKEN));
  return async (method: string, path: string, request: HttpRequest = {}) => {
    const result = (await app.resolve(
      httpEvent(method, path, { token: TOKEN, ...request }),
      lambdaContext(),
    )) as APIGatewayProxyStructuredResultV2;
    return {
      status: result.statusCode,
      headers: result.headers ?? {},
      body: result.body ? JSON.parse(result.body) : undefined,
    };
  };
}

describe("export routes", () => {
  it("POST /api/exports answers 202 with the job and where to follow it", async () => {
    const { deps, queue } = memoryExportDeps([]);
    const reply = await routes(deps)("POST", "/api/exports", { body: { format: "trl-kto" } });
    expect(reply).toMatchObject({
      status: 202,
      headers: { location: "/api/exports/export-001" },
      body: { id: "export-001", status: "queued", format: "trl-kto", requested_by: "local-reviewer" },
    });
    expect(queue.sent).toEqual([{ export_id: "export-001" }]);
  });

  it.each([
    [{ format: "jsonl" }, ["body", "format"]],
    [
      { format: "rag", filters: { exclude_categories: ["not-a-category"] } },
      ["body", "filters", "exclude_categories", 0],
    ],
    [
      { format: "rag", filters: { from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z" } },
      ["body", "filters", "to"],
    ],
    [{ format: "rag", filters: { limit: 0 } }, ["body", "filters", "limit"]],
    [{ format: "rag", options: { file_name: "../../etc/passwd" } }, ["body", "options", "file_name"]],
    [{ format: "rag", filter: {} }, ["body"]],
  ])("POST /api/exports answers 422 to %j", async (body, loc) => {
    const reply = await routes(memoryExportDeps([]).deps)("POST", "/api/exports", { body });
    expect(reply.status).toBe(422);
    expect(reply.body.detail[0].loc).toEqual(loc);
  });

  it("answers 503 where no exports queue is configured, 401 without a token", async () => {
    const call = routes(memoryExportDeps([], { queue: undefined }).deps);
    expect((await call("POST", "/api/exports", { body: { format: "rag" } })).status).toBe(503);
    expect((await call("GET", "/api/exports", { token: "wrong" })).status).toBe(401);
  });

  it("GET /api/sft/export answers 303 See Other to the signed URL of a fresh SFT export", async () => {
    const { deps, jobs } = memoryExportDeps([reviewed("avocet")]);
    const reply = await routes(deps)("GET", "/api/sft/export");
    expect(reply.status).toBe(303);
    expect(reply.headers["cache-control"]).toBe("no-store");
    const location = new URL(String(reply.headers.location));
    const [job] = [...jobs.jobs.values()];
    expect(location.pathname).toBe(`/exports/${job?.id}/dataset.jsonl`);
    expect(location.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(location.searchParams.get("response-content-disposition")).toMatch(
      /^attachment; filename="sft_export_\d{8}-\d{6}\.jsonl"$/,
    );
  });

  it("GET /api/sft/export answers 413 above the synchronous bound", async () => {
    const { deps } = memoryExportDeps([reviewed("one"), reviewed("two")], { syncMaxRecords: 1 });
    const reply = await routes(deps)("GET", "/api/sft/export");
    expect(reply.status).toBe(413);
    expect(reply.body.detail).toMatch(/POST \/api\/exports/);
  });

  it("GET /api/exports/{id} checks expires_in, and lists with a bounded limit", async () => {
    const call = routes(memoryExportDeps([]).deps);
    await call("POST", "/api/exports", { body: { format: "rag" } });
    expect((await call("GET", "/api/exports/export-001", { query: { expires_in: "soon" } })).status).toBe(
      422,
    );
    expect((await call("GET", "/api/exports/export-001", { query: { expires_in: "4000" } })).status).toBe(
      422,
    );
    expect((await call("GET", "/api/exports/export-001")).body).toMatchObject({
      status: "queued",
      download: null,
    });
    expect((await call("GET", "/api/exports", { query: { limit: "101" } })).status).toBe(422);
    expect((await call("GET", "/api/exports")).body.exports).toHaveLength(1);
  });
});

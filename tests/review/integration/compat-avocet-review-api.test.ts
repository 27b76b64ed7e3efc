import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { COUNTED_RUN_MAX_BYTES } from "../../../lib/import/usecases/run-folders.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import { candidateLines, uploadRun } from "../../support/review-fixtures.ts";

/**
 * Avocet's review clients (its review UI and scripts), replayed against Flywheel: the
 * `/api/sft/*` requests its own API served, each answer checked field by field in Avocet's
 * shape. Flywheel may add fields beside them, never rename or drop one.
 */

const TOKEN = "compat-avocet-token";
const RUN = "2026-05-01-090000";
const NOT_IMPORTED = "2026-05-02-090000";
const TOO_BIG = "2026-05-03-090000";

let aws: TestAws;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const api = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(handler, lambdaContext("api"), method, path, { token: TOKEN, ...request });

beforeAll(async () => {
  aws = await provisionTestAws("compat-avocet");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler } = await import("../../../functions/api.ts"));
  await uploadRun(aws, RUN, candidateLines(RUN, 5));
  await uploadRun(aws, NOT_IMPORTED, `${candidateLines(NOT_IMPORTED, 7)}\n\n`);
  // One line longer than a cheap count may read.
  const huge = JSON.stringify({ id: `${TOO_BIG}-0`, padding: "x".repeat(COUNTED_RUN_MAX_BYTES) });
  await uploadRun(aws, TOO_BIG, huge);
});

describe("Avocet's review clients, unchanged", () => {
  it("GET /api/sft/runs: a list of {run_id, timestamp, candidate_count, already_imported}, counted before import", async () => {
    const reply = await api("GET", "/api/sft/runs");

    expect(reply.status).toBe(200);
    expect(Array.isArray(reply.body)).toBe(true);
    for (const run of reply.body) {
      for (const field of ["run_id", "timestamp", "candidate_count", "already_imported"]) {
        expect(run).toHaveProperty(field);
      }
    }
    const byId = new Map(reply.body.map((run: { run_id: string }) => [run.run_id, run]));
    expect(byId.get(NOT_IMPORTED)).toMatchObject({
      run_id: NOT_IMPORTED,
      timestamp: "2026-05-02T09:00:00.000Z",
      candidate_count: 7,
      already_imported: false,
    });
    expect(byId.get(RUN)).toMatchObject({ candidate_count: 5, already_imported: false });
    // Too large to count cheaply: unknown until imported.
    expect(byId.get(TOO_BIG)).toMatchObject({ candidate_count: null, already_imported: false });
  });

  it("POST /api/sft/import {run_id}: {imported, skipped}; 404 for a run that does not exist", async () => {
    expect(await api("POST", "/api/sft/import", { body: { run_id: RUN } })).toEqual({
      status: 200,
      body: { imported: 5, skipped: 0 },
    });
    expect((await api("POST", "/api/sft/import", { body: { run_id: "2026-01-01-000000" } })).status).toBe(
      404,
    );
    const runs = await api("GET", "/api/sft/runs");
    expect(runs.body.find((run: { run_id: string }) => run.run_id === RUN)).toMatchObject({
      candidate_count: 5,
      already_imported: true,
    });
  });

  it("GET /api/sft/queue?page=&per_page=: {items, total, page, per_page}", async () => {
    const reply = await api("GET", "/api/sft/queue", { query: { page: "1", per_page: "2" } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ total: 5, page: 1, per_page: 2 });
    expect(reply.body.items).toHaveLength(2);
    expect(reply.body.items[0]).toMatchObject({ id: `${RUN}-00000`, status: "needs_review" });
  });

  it("GET /api/sft/queue without a query: Avocet's defaults, page 1 of 20", async () => {
    const reply = await api("GET", "/api/sft/queue");
    expect(reply.body).toMatchObject({ page: 1, per_page: 20, total: 5 });
    expect(reply.body.items).toHaveLength(5);
  });

  it("POST /api/sft/submit and /api/sft/undo answer {ok: true}; 404, 409 and 422 as Avocet did", async () => {
    const id = `${RUN}-00000`;
    const submit = (body: unknown) => api("POST", "/api/sft/submit", { body });

    expect(await submit({ id, action: "correct", corrected_response: "  " })).toMatchObject({ status: 422 });
    expect(await submit({ id, action: "correct", corrected_response: "27.5" })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect((await submit({ id, action: "discard" })).status).toBe(409);
    expect((await submit({ id: "no-such-id", action: "discard" })).status).toBe(404);
    expect(await api("POST", "/api/sft/undo", { body: { id } })).toEqual({ status: 200, body: { ok: true } });
    expect((await api("POST", "/api/sft/undo", { body: { id } })).status).toBe(409);
    expect(await submit({ id: `${RUN}-00001`, action: "flag" })).toEqual({ status: 200, body: { ok: true } });
  });

  it("GET /api/sft/stats: {total, by_status, by_model, by_task_type, export_ready}", async () => {
    const reply = await api("GET", "/api/sft/stats");
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      total: 5,
      by_status: { needs_review: 4, model_rejected: 1 },
      by_model: expect.any(Object),
      by_task_type: expect.any(Object),
      export_ready: 0,
    });
  });

  it("GET /api/sft/config reads bench_results_dir; POST answers {ok: true}", async () => {
    expect((await api("GET", "/api/sft/config")).body).toMatchObject({ bench_results_dir: "runs/" });
    const reply = await api("POST", "/api/sft/config", { body: { bench_results_dir: "runs/" } });
    expect(reply.status).toBe(200);
    expect(reply.body.ok).toBe(true);
  });
});

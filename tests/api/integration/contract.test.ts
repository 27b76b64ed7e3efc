import { Ajv2020 } from "ajv/dist/2020.js";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ROUTE_ACCESS } from "../../../lib/common/http/access.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { candidateLines, uploadRun } from "../../support/review-fixtures.ts";

/**
 * `GET /api/openapi.json` is the API's contract: it lists every route the API serves, and what
 * the real handler answers validates against it, success and error alike.
 */

const TOKEN = "reviewer-token-for-the-contract";
const RUN = "2026-06-01-080000-contract";
const context = lambdaContext("api");
let aws: TestAws;
let api: ApiHandler;
let document: {
  paths: Record<
    string,
    Record<string, { responses: Record<string, { content?: Record<string, { schema: object }> }> }>
  >;
  components: { schemas: Record<string, object> };
};
const ajv = new Ajv2020({ strict: false, allErrors: true });

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });

/** The document's schema for this answer: the status's own, else 4XX / 5XX. */
function schemaFor(method: string, pattern: string, status: number): object | null {
  const operation = document.paths[pattern.replace(/:([a-z_]+)/g, "{$1}")]?.[method.toLowerCase()];
  const response = operation?.responses[String(status)] ?? operation?.responses[`${String(status)[0]}XX`];
  const schema = response?.content?.["application/json"]?.schema;
  if (!schema) return null;
  return { ...schema, $defs: { ...(schema as { $defs?: object }).$defs }, components: document.components };
}

/** Calls a route and checks its answer against the served contract. */
async function conforming(method: string, pattern: string, path: string, request: HttpRequest = {}) {
  const reply = await call(method, path, request);
  const schema = schemaFor(method, pattern, reply.status);
  expect(
    schema,
    `${method} ${pattern} answered ${reply.status}, which the contract does not list`,
  ).not.toBeNull();
  const validate = ajv.compile(
    JSON.parse(JSON.stringify(schema).replaceAll("#/components/schemas/", "#/components/schemas/")),
  );
  const valid = validate(reply.body);
  expect(
    valid,
    `${method} ${pattern} → ${reply.status}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(reply.body).slice(0, 400)}`,
  ).toBe(true);
  return reply;
}

beforeAll(async () => {
  aws = await provisionTestAws("contract");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("EXPORTS_QUEUE_URL", aws.resources.queues.exports.url);
  vi.stubEnv("JUDGE_QUEUE_URL", aws.resources.queues.judge.url);
  api = (await import("../../../functions/api.ts")).handler;
  document = (await call("GET", "/api/openapi.json")).body;
  await uploadRun(aws, RUN, candidateLines(RUN, 5));
});

describe("GET /api/openapi.json", () => {
  it("is OpenAPI 3.1 and lists exactly the routes the API serves, each with its scope", async () => {
    expect(document).toMatchObject({ openapi: "3.1.0", info: { title: "Flywheel API" } });
    const listed = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map(
        (method) => `${method.toUpperCase()} ${path.replace(/\{([a-z_]+)\}/g, ":$1")}`,
      ),
    );
    expect(listed.sort()).toEqual(Object.keys(ROUTE_ACCESS).sort());
    const submit = document.paths["/api/sft/submit"]?.post as unknown as {
      security: unknown;
      requestBody: unknown;
    };
    expect(submit.security).toEqual([{ cognito: ["flywheel/review"] }]);
    expect(submit.requestBody).toBeDefined();
  });

  it("is open: no token needed", async () => {
    const reply = await callApi(api, context, "GET", "/api/openapi.json");
    expect(reply.status).toBe(200);
  });
});

describe("answers validate against the contract", () => {
  it("review: runs, import, queue, decisions, undo, stats, config, candidate", async () => {
    await conforming("GET", "/api/health", "/api/health");
    await conforming("GET", "/api/sft/runs", "/api/sft/runs");
    await conforming("POST", "/api/sft/import", "/api/sft/import", { body: { run_id: RUN } });
    const queue = await conforming("GET", "/api/sft/queue", "/api/sft/queue", { query: { per_page: "3" } });
    const [first, second] = queue.body.items as { id: string }[];
    await conforming("POST", "/api/sft/submit", "/api/sft/submit", {
      body: { id: first?.id, action: "correct", corrected_response: "fixed" },
    });
    await conforming("POST", "/api/sft/submit", "/api/sft/submit", {
      body: { id: first?.id, action: "discard" },
    });
    await conforming("POST", "/api/sft/submit", "/api/sft/submit", {
      body: { id: second?.id, action: "bogus" },
    });
    await conforming("POST", "/api/sft/undo", "/api/sft/undo", { body: { id: first?.id } });
    await conforming("GET", "/api/sft/stats", "/api/sft/stats");
    await conforming("GET", "/api/sft/config", "/api/sft/config");
    await conforming("POST", "/api/sft/config", "/api/sft/config", { body: { bench_results_dir: "runs/" } });
    await conforming("GET", "/api/sft/candidates/:id", `/api/sft/candidates/${first?.id}`);
    await conforming("GET", "/api/sft/candidates/:id", "/api/sft/candidates/no-such-id");
    const next = await conforming("POST", "/api/sft/next", "/api/sft/next", { body: { run_id: RUN } });
    expect(next.body.candidate).not.toBeNull();
    await conforming("POST", "/api/sft/release", "/api/sft/release", {
      body: { id: next.body.candidate.id },
    });
    await conforming("POST", "/api/sft/release", "/api/sft/release", {
      body: { id: next.body.candidate.id },
    });
    await conforming("POST", "/api/sft/next", "/api/sft/next", { body: { lease_seconds: 5 } });
    const none = await conforming("POST", "/api/sft/next", "/api/sft/next", {
      body: { run_id: "no-such-run" },
    });
    expect(none.body).toEqual({ candidate: null, lease: null });
    await conforming("POST", "/api/sft/bulk", "/api/sft/bulk", {
      body: { action: "flag", run_id: RUN, dry_run: true },
    });
    const bulk = await conforming("POST", "/api/sft/bulk", "/api/sft/bulk", {
      body: { action: "flag", run_id: RUN },
    });
    await conforming("POST", "/api/sft/bulk/:id/run", `/api/sft/bulk/${bulk.body.id}/run`, {
      body: { limit: 2 },
    });
    await conforming("GET", "/api/sft/bulk/:id", `/api/sft/bulk/${bulk.body.id}`);
    await conforming("POST", "/api/sft/bulk/:id/undo", `/api/sft/bulk/${bulk.body.id}/undo`, { body: {} });
    await conforming("POST", "/api/sft/bulk", "/api/sft/bulk", { body: { action: "flag" } });
  });

  it("quarantine: a run's lines and the ingest path's messages", async () => {
    const bad = "quarantine-contract";
    await uploadRun(aws, bad, `${candidateLines(bad, 2)}\nnot json\n[1]`);
    await conforming("POST", "/api/sft/import", "/api/sft/import", { body: { run_id: bad } });
    const page = await conforming(
      "GET",
      "/api/sft/runs/:run_id/quarantine",
      `/api/sft/runs/${bad}/quarantine`,
      { query: { limit: "1" } },
    );
    expect(page.body.items).toHaveLength(1);
    expect(page.body.next_cursor).not.toBeNull();
    await conforming("GET", "/api/sft/runs/:run_id/quarantine", `/api/sft/runs/${RUN}/quarantine`);
    await conforming("GET", "/api/sft/runs/:run_id/quarantine", "/api/sft/runs/no-such-run/quarantine");
    await conforming("GET", "/api/sft/runs/:run_id/quarantine", `/api/sft/runs/${bad}/quarantine`, {
      query: { reason: "nonsense" },
    });
    await conforming("GET", "/api/sft/ingest/quarantine", "/api/sft/ingest/quarantine");
    await conforming("GET", "/api/sft/ingest/quarantine", "/api/sft/ingest/quarantine", {
      query: { day: "not-a-day" },
    });
  });

  it("provenance, admin and exports", async () => {
    await conforming("GET", "/api/provenance/report", "/api/provenance/report");
    await conforming("GET", "/api/provenance/validate", "/api/provenance/validate");
    await conforming("POST", "/api/provenance/backfill", "/api/provenance/backfill", {
      body: { filter: { status: "needs_review" }, source: "contract", model: "m" },
    });
    await conforming("POST", "/api/admin/recount", "/api/admin/recount", { body: {} });
    const created = await conforming("POST", "/api/exports", "/api/exports", {
      body: { format: "openai-sft" },
    });
    await conforming("GET", "/api/exports", "/api/exports");
    await conforming("GET", "/api/exports/:id", `/api/exports/${created.body.id}`);
    await conforming("POST", "/api/exports", "/api/exports", { body: { format: "no-such-format" } });
  });

  it("eval sets: register (JSONL or items), list, show, remove", async () => {
    const item = {
      id: "q1",
      question: "Which of these eight planets of the solar system is the largest one?",
      answer: "Jupiter",
    };
    await conforming("POST", "/api/evalsets/:name", "/api/evalsets/contract-jsonl", {
      body: `${JSON.stringify(item)}\n`,
      headers: { "content-type": "application/x-ndjson" },
    });
    await conforming("POST", "/api/evalsets/:name", "/api/evalsets/contract-items", {
      body: { items: [item] },
    });
    const listed = await conforming("GET", "/api/evalsets", "/api/evalsets");
    expect(listed.body.evalsets.map((set: { name: string }) => set.name)).toEqual(
      expect.arrayContaining(["contract-items", "contract-jsonl"]),
    );
    await conforming("GET", "/api/evalsets/:name", "/api/evalsets/contract-items");
    await conforming("DELETE", "/api/evalsets/:name", "/api/evalsets/contract-items");
    expect((await conforming("GET", "/api/evalsets/:name", "/api/evalsets/contract-items")).status).toBe(404);
    expect(
      (await conforming("POST", "/api/evalsets/:name", "/api/evalsets/bad", { body: { items: [{}] } }))
        .status,
    ).toBe(422);
    await conforming("DELETE", "/api/evalsets/:name", "/api/evalsets/contract-jsonl");
  });

  it("eval: sessions, feedback, candidates from answers, runs and stats", async () => {
    const session = {
      id: "contract-session",
      profile_id: "p1",
      created_at: "2026-06-01T08:00:00Z",
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello", model: "m1" },
      ],
    };
    await conforming("POST", "/api/eval/sessions", "/api/eval/sessions", { body: session });
    await conforming("GET", "/api/eval/sessions", "/api/eval/sessions");
    await conforming("GET", "/api/eval/sessions/:id", `/api/eval/sessions/${session.id}`);
    await conforming("POST", "/api/eval/feedback", "/api/eval/feedback", {
      body: { session_id: session.id, message_index: 1, rating: 1 },
    });
    await conforming("GET", "/api/eval/feedback/:session_id", `/api/eval/feedback/${session.id}`);
    await conforming(
      "POST",
      "/api/eval/sessions/:id/candidates",
      `/api/eval/sessions/${session.id}/candidates`,
      {
        body: { message_index: 1 },
      },
    );
    await conforming("GET", "/api/v2/eval/sessions", "/api/v2/eval/sessions?status=pending");
    const run = await conforming("POST", "/api/eval/run", "/api/eval/run", {
      body: { scope: "session", session_id: session.id },
    });
    expect(run.status).toBe(202);
    await conforming("GET", "/api/eval/run/:id", `/api/eval/run/${run.body.id}`);
    await conforming("GET", "/api/eval/runs", "/api/eval/runs");
    await conforming("GET", "/api/eval/stats", "/api/eval/stats");
    await conforming("GET", "/api/eval/stats", "/api/eval/stats?by_complexity_bucket=true");
    await conforming("GET", "/api/eval/run/:id", "/api/eval/run/no-such-run");
  });
});

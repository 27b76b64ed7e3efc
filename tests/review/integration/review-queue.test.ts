import { readFileSync } from "node:fs";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { samplePath } from "../../../samples/index.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import { candidateLines, MODELS, SOURCE, uploadRun } from "../../support/review-fixtures.ts";

const TOKEN = "queue-test-token";
/** Two runs whose answers interleave in time: the queue must merge them. */
const EARLY = "2026-01-01-000000";
const LATE = "2026-01-02-000000";
const DAMAGED = "2026-04-09-080000-damaged";
const NOT_IMPORTED = "2026-03-01-120000";
/** Uploaded again with more lines by the import tests; its answers come after every other run's. */
const GROWN = "2026-01-03-000000";
const START = Date.UTC(2026, 0, 1);
/** Candidates waiting for review once the import tests ran: 30 + 20 + 31 valid damaged lines + 8. */
const QUEUED = 89;

let aws: TestAws;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const context = lambdaContext("api");
const api = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(handler, context, method, path, { token: TOKEN, ...request });
const queue = (query: Record<string, string> = {}) => api("GET", "/api/sft/queue", { query });
const importRun = (runId: string) => api("POST", "/api/sft/import", { body: { run_id: runId } });

/** Every id of the queue under `query`, following `next_cursor` from the start. */
async function walkWithCursor(query: Record<string, string>) {
  const ids: string[] = [];
  let cursor: string | null = null;
  do {
    const reply = await queue({ ...query, ...(cursor ? { cursor } : {}) });
    expect(reply.status).toBe(200);
    ids.push(...reply.body.items.map((item: { id: string }) => item.id));
    cursor = reply.body.next_cursor;
  } while (cursor);
  return ids;
}

beforeAll(async () => {
  aws = await provisionTestAws("queue");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler } = await import("../../../functions/api.ts"));
  await uploadRun(aws, EARLY, candidateLines(EARLY, 30, START));
  await uploadRun(aws, LATE, candidateLines(LATE, 20, START + 500));
  await uploadRun(aws, DAMAGED, readFileSync(samplePath("runs", DAMAGED, "sft_candidates.jsonl")));
  await uploadRun(aws, NOT_IMPORTED, candidateLines(NOT_IMPORTED, 3));
  for (const runId of [EARLY, LATE, DAMAGED]) expect((await importRun(runId)).status).toBe(200);
});

describe("POST /api/sft/import", () => {
  it("is idempotent: importing the same bytes again imports nothing and skips every candidate", async () => {
    expect(await importRun(EARLY)).toEqual({ status: 200, body: { imported: 0, skipped: 30 } });
    expect(await importRun(EARLY)).toEqual({ status: 200, body: { imported: 0, skipped: 30 } });
  });

  it("imports only the new candidates of a run uploaded again with more lines", async () => {
    await uploadRun(aws, GROWN, candidateLines(GROWN, 5, START + 10_000_000));
    expect((await importRun(GROWN)).body).toEqual({ imported: 5, skipped: 0 });
    await uploadRun(aws, GROWN, candidateLines(GROWN, 8, START + 10_000_000));

    expect((await importRun(GROWN)).body).toEqual({ imported: 3, skipped: 5 });
  });

  it("answers 404 for a run that was never uploaded and 422 for a run id that is not a folder name", async () => {
    expect(await importRun("2020-01-01-000000")).toEqual({
      status: 404,
      body: { detail: "Run 2020-01-01-000000 not found" },
    });
    expect((await importRun("../quarantine")).status).toBe(422);
    expect((await api("POST", "/api/sft/import", { body: {} })).status).toBe(422);
  });
});

describe("GET /api/sft/runs", () => {
  it("lists every run folder newest first with its import state and counts", async () => {
    const reply = await api("GET", "/api/sft/runs");

    expect(reply.status).toBe(200);
    const ids = reply.body.map((run: { run_id: string }) => run.run_id);
    expect(ids.indexOf(DAMAGED)).toBeLessThan(ids.indexOf(NOT_IMPORTED));
    expect(ids.indexOf(NOT_IMPORTED)).toBeLessThan(ids.indexOf(GROWN));
    expect(ids.indexOf(GROWN)).toBeLessThan(ids.indexOf(LATE));
    expect(ids.indexOf(LATE)).toBeLessThan(ids.indexOf(EARLY));
    const byId = new Map(reply.body.map((run: { run_id: string }) => [run.run_id, run]));
    expect(byId.get(LATE)).toEqual({
      run_id: LATE,
      timestamp: "2026-01-02T00:00:00.000Z",
      candidate_count: 20,
      already_imported: true,
      import_state: "completed",
      imported: 20,
      skipped: 0,
      quarantined: 0,
    });
    expect(byId.get(DAMAGED)).toMatchObject({ candidate_count: 31, already_imported: true, quarantined: 16 });
    // Not imported yet: counted from the object's lines, as Avocet did.
    expect(byId.get(NOT_IMPORTED)).toMatchObject({
      candidate_count: 3,
      already_imported: false,
      import_state: null,
    });
  });
});

describe("GET /api/sft/queue", () => {
  it("answers Avocet's shape: needs_review items oldest first, merged across runs, with the total", async () => {
    const reply = await queue({ page: "1", per_page: "6" });

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      page: 1,
      per_page: 6,
      total: QUEUED,
      next_cursor: expect.any(String),
    });
    expect(reply.body.items.map((item: { id: string }) => item.id)).toEqual([
      `${EARLY}-00000`,
      `${LATE}-00000`,
      `${EARLY}-00001`,
      `${LATE}-00001`,
      `${EARLY}-00002`,
      `${LATE}-00002`,
    ]);
    expect(reply.body.items[0]).toMatchObject({
      id: `${EARLY}-00000`,
      status: "needs_review",
      prompt_messages: [{ role: "user", content: "question 0" }],
      model_response: "wrong answer 0",
      corrected_response: null,
      failure_category: null,
      quality_score: 0.25,
      failure_reason: "numeric_match: off",
      task_type: "arithmetic",
      model_name: MODELS[0],
      timestamp: new Date(START).toISOString(),
    });
    expect(reply.body.items[0].pk).toBeUndefined();
  });

  it("pages by page number and by cursor to the same sequence, without repeats", async () => {
    const byPage: string[] = [];
    for (let page = 1; ; page++) {
      const reply = await queue({ page: String(page), per_page: "25" });
      byPage.push(...reply.body.items.map((item: { id: string }) => item.id));
      if (reply.body.items.length < 25) break;
    }

    const byCursor = await walkWithCursor({ per_page: "25" });

    expect(byPage).toHaveLength(QUEUED);
    expect(byCursor).toEqual(byPage);
    expect(new Set(byCursor).size).toBe(QUEUED);
  });

  it("filters by model, task type, run and source, keeping pages full", async () => {
    const model = await queue({ model: MODELS[1], per_page: "7" });
    expect(model.body.items).toHaveLength(7);
    expect(model.body.items.every((item: { model_name: string }) => item.model_name === MODELS[1])).toBe(
      true,
    );
    expect(model.body.total).toBe(10 + 7 + 3);

    const run = await walkWithCursor({ run_id: LATE, per_page: "6" });
    expect(run).toEqual(Array.from({ length: 20 }, (_, i) => `${LATE}-${String(i).padStart(5, "0")}`));
    expect((await queue({ run_id: LATE })).body.total).toBeNull();

    const combined = await walkWithCursor({ run_id: EARLY, task_type: "coding", per_page: "4" });
    expect(combined).toEqual(
      Array.from({ length: 10 }, (_, i) => `${EARLY}-${String(i * 3 + 1).padStart(5, "0")}`),
    );
    expect((await queue({ task_type: "coding" })).body.total).toBe(10 + 7 + 3);
    expect((await queue({ source: SOURCE })).body.total).toBe(30 + 20 + 8);
    expect((await queue({ model: "no-such-model" })).body).toMatchObject({
      items: [],
      total: 0,
      next_cursor: null,
    });
  });

  it("returns the full prompt of a candidate whose body was moved to S3", async () => {
    const ids = await walkWithCursor({ run_id: DAMAGED, per_page: "50" });
    expect(ids).toHaveLength(31);
    const reply = await queue({ run_id: DAMAGED, per_page: "50" });
    const huge = reply.body.items.find((item: { id: string }) => item.id === `${DAMAGED}-huge`);

    expect(huge.prompt_messages[0].content.length).toBeGreaterThan(400_000);
    expect(huge.body_ref).toBeUndefined();
    const detail = await api("GET", `/api/sft/candidates/${DAMAGED}-huge`);
    expect(detail.body.candidate.prompt_messages).toEqual(huge.prompt_messages);
  });

  it("leaves decided candidates out and takes undone ones back, in their place", async () => {
    const first = `${EARLY}-00000`;
    await api("POST", "/api/sft/submit", { body: { id: first, action: "discard" } });
    expect((await queue({ per_page: "1" })).body.items[0].id).toBe(`${LATE}-00000`);
    expect((await queue()).body.total).toBe(QUEUED - 1);

    await api("POST", "/api/sft/undo", { body: { id: first } });
    expect((await queue({ per_page: "1" })).body.items[0].id).toBe(first);
  });

  it.each([
    [{ page: "0" }, "page"],
    [{ page: "-1" }, "page"],
    [{ page: "two" }, "page"],
    [{ per_page: "0" }, "per_page"],
    [{ per_page: "201" }, "per_page"],
    [{ cursor: "not-a-cursor" }, "cursor"],
  ])("answers 422 to %o", async (query, field) => {
    const reply = await queue(query);
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toEqual([expect.objectContaining({ loc: ["query", field] })]);
  });

  it("accepts per_page at both bounds", async () => {
    expect((await queue({ per_page: "1" })).body.items).toHaveLength(1);
    expect((await queue({ per_page: "200" })).body.items).toHaveLength(QUEUED);
  });
});

describe("GET /api/sft/stats", () => {
  it("reads totals by status, model and task type and the export-ready count from the counters", async () => {
    const candidate = `${LATE}-00010`;
    await api("POST", "/api/sft/submit", {
      body: { id: candidate, action: "correct", corrected_response: "ok" },
    });

    const reply = await api("GET", "/api/sft/stats");

    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      total: QUEUED,
      by_status: { needs_review: QUEUED - 1, approved: 1, discarded: 0, model_rejected: 0 },
      export_ready: 1,
    });
    expect(reply.body.by_model[MODELS[0]]).toBe(10 + 7 + 3);
    expect(reply.body.by_task_type.coding).toBe(10 + 7 + 3);
    await api("POST", "/api/sft/undo", { body: { id: candidate } });
    expect((await api("GET", "/api/sft/stats")).body.export_ready).toBe(0);
  });
});

describe("GET|POST /api/sft/config", () => {
  it("reads the runs prefix and moves it to a folder inside the runs area", async () => {
    expect(await api("GET", "/api/sft/config")).toEqual({
      status: 200,
      // can_change: the operator's token holds the scope the change needs.
      body: { bench_results_dir: "runs/", can_change: true },
    });
    await uploadRun(aws, "nested-run", candidateLines("nested-run", 2), "runs/nightly/");

    const moved = await api("POST", "/api/sft/config", {
      body: { bench_results_dir: `s3://${aws.resources.bucket}/runs/nightly` },
    });

    expect(moved).toEqual({ status: 200, body: { ok: true, bench_results_dir: "runs/nightly/" } });
    expect((await api("GET", "/api/sft/config")).body).toEqual({
      bench_results_dir: "runs/nightly/",
      can_change: true,
    });
    const runs = await api("GET", "/api/sft/runs");
    expect(runs.body.map((run: { run_id: string }) => run.run_id)).toEqual(["nested-run"]);
    expect((await importRun("nested-run")).body).toEqual({ imported: 2, skipped: 0 });

    expect((await api("POST", "/api/sft/config", { body: { bench_results_dir: "runs" } })).body).toEqual({
      ok: true,
      bench_results_dir: "runs/",
    });
  });

  it.each([
    "/etc/flywheel",
    "../runs",
    "runs/../quarantine",
    "quarantine/",
    "s3://someone-elses-bucket/runs/",
    "https://example.com/runs/",
    "runs//x",
    "C:\\runs",
    "",
  ])("answers 422 to bench_results_dir %j and keeps the setting", async (value) => {
    const reply = await api("POST", "/api/sft/config", { body: { bench_results_dir: value } });
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toEqual([expect.objectContaining({ loc: ["body", "bench_results_dir"] })]);
    expect((await api("GET", "/api/sft/config")).body).toMatchObject({ bench_results_dir: "runs/" });
  });
});

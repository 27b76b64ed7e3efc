import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import {
  candidateLines,
  recount,
  reviewStateCountersStored,
  uploadRun,
} from "../../support/review-fixtures.ts";
import { storedCandidate, storedCounters } from "../../support/steps.ts";

const TOKEN = "reviewer-token-for-tests";
const RUN = "2026-02-01-090000";

let aws: TestAws;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const context = lambdaContext("api");

const api = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(handler, context, method, path, { token: TOKEN, ...request });
const submit = (body: unknown) => api("POST", "/api/sft/submit", { body });
const undo = (id: string) => api("POST", "/api/sft/undo", { body: { id } });
const id = (n: number) => `${RUN}-${String(n).padStart(5, "0")}`;

const stored = (candidateId: string) => storedCandidate(aws, candidateId);
const counters = () => storedCounters(aws);

beforeAll(async () => {
  aws = await provisionTestAws("review");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler } = await import("../../../functions/api.ts"));
  await uploadRun(aws, RUN, candidateLines(RUN, 40));
  const imported = await api("POST", "/api/sft/import", { body: { run_id: RUN } });
  expect(imported).toEqual({ status: 200, body: { imported: 40, skipped: 0 } });
});

describe("authentication", () => {
  it("keeps GET /api/health open", async () => {
    expect(await callApi(handler, context, "GET", "/api/health")).toEqual({
      status: 200,
      body: { ok: true },
    });
  });

  it.each([
    ["GET", "/api/sft/queue"],
    ["GET", "/api/sft/runs"],
    ["GET", "/api/sft/stats"],
    ["GET", "/api/sft/config"],
    ["POST", "/api/sft/config"],
    ["POST", "/api/sft/import"],
    ["POST", "/api/sft/submit"],
    ["POST", "/api/sft/undo"],
    ["GET", `/api/sft/candidates/${RUN}-00000`],
  ])("answers 401 to %s %s without a token", async (method, path) => {
    const reply = await callApi(handler, context, method, path, { body: method === "POST" ? {} : undefined });
    expect(reply.status).toBe(401);
    expect(reply.body.detail).toEqual(expect.any(String));
  });

  it("answers 401 to a wrong token and changes nothing", async () => {
    const before = await stored(id(0));
    const wrong = await callApi(handler, context, "POST", "/api/sft/submit", {
      token: `${TOKEN}x`,
      body: { id: id(0), action: "discard" },
    });
    const otherScheme = await callApi(handler, context, "POST", "/api/sft/submit", {
      headers: { authorization: `Basic ${TOKEN}` },
      body: { id: id(0), action: "discard" },
    });
    expect(wrong).toEqual({ status: 401, body: { detail: "Invalid bearer token" } });
    expect(otherScheme.status).toBe(401);
    expect(await stored(id(0))).toEqual(before);
  });
});

describe("POST /api/sft/submit", () => {
  it("approves a correction atomically: candidate, history event and counters", async () => {
    const before = await counters();

    const reply = await submit({
      id: id(1),
      action: "correct",
      corrected_response: "Answer: 27.5",
      failure_category: "wrong_answer",
    });

    expect(reply).toEqual({ status: 200, body: { ok: true } });
    const candidate = await stored(id(1));
    expect(candidate).toMatchObject({
      status: "approved",
      version: 2,
      corrected_response: "Answer: 27.5",
      failure_category: "wrong_answer",
      reviewer: "local-reviewer",
      updated_by: "local-reviewer",
      gsi1pk: expect.stringMatching(/^STATUS#approved#\d$/),
      provenance: {
        channel: "s3-upload",
        source_run_id: RUN,
        line: 2,
        approved: true,
        approved_by: "local-reviewer",
        approved_at: candidate?.decided_at,
      },
    });
    const after = await counters();
    expect(after["status#needs_review"]).toBe((before["status#needs_review"] ?? 0) - 1);
    expect(after["status#approved"]).toBe((before["status#approved"] ?? 0) + 1);
    expect(after.export_ready).toBe((before.export_ready ?? 0) + 1);
    expect(after.total).toBe(before.total);
  });

  it("stores the failure category for discard and flag, and null when absent", async () => {
    expect((await submit({ id: id(2), action: "discard", failure_category: "hallucination" })).status).toBe(
      200,
    );
    expect((await submit({ id: id(3), action: "flag" })).status).toBe(200);

    expect(await stored(id(2))).toMatchObject({
      status: "discarded",
      failure_category: "hallucination",
      corrected_response: null,
      provenance: {
        approved: false,
        excluded: true,
        exclusion_reason: "discarded:hallucination",
        excluded_by: "local-reviewer",
      },
    });
    expect(await stored(id(3))).toMatchObject({
      status: "model_rejected",
      failure_category: null,
      provenance: { excluded: true, exclusion_reason: "model_rejected" },
    });
  });

  it.each([
    ["a blank correction", { action: "correct", corrected_response: "  \n " }, "corrected_response"],
    ["no correction", { action: "correct" }, "corrected_response"],
    ["an unknown category", { action: "discard", failure_category: "rude" }, "failure_category"],
    ["an unknown action", { action: "approve" }, "action"],
  ])("answers 422 to %s and changes nothing", async (_, body, field) => {
    const before = await stored(id(4));

    const reply = await submit({ id: id(4), ...body });

    expect(reply.status).toBe(422);
    expect(reply.body.detail).toEqual([expect.objectContaining({ loc: ["body", field] })]);
    expect(await stored(id(4))).toEqual(before);
  });

  it("answers 422 to a body that is not JSON or has no id", async () => {
    const notJson = await api("POST", "/api/sft/submit", { body: "{not json" });
    const noId = await submit({ action: "discard" });

    expect(notJson).toEqual({ status: 422, body: { detail: [expect.objectContaining({ loc: ["body"] })] } });
    expect(noId.status).toBe(422);
    expect(noId.body.detail).toEqual([expect.objectContaining({ loc: ["body", "id"], type: "missing" })]);
  });

  it("answers 404 to an unknown id", async () => {
    const reply = await submit({ id: "no-such-candidate", action: "discard" });
    expect(reply).toEqual({ status: 404, body: { detail: "Candidate no-such-candidate not found" } });
  });

  it("answers 409 naming the current status when the candidate was already decided", async () => {
    await submit({ id: id(5), action: "discard" });
    const before = await counters();

    const reply = await submit({ id: id(5), action: "correct", corrected_response: "better" });

    expect(reply.status).toBe(409);
    expect(reply.body.detail).toContain("discarded");
    expect(await stored(id(5))).toMatchObject({ status: "discarded", version: 2 });
    expect(await counters()).toEqual(before);
  });
});

describe("POST /api/sft/undo", () => {
  it("returns the candidate to the queue without correction or category, and counts it back", async () => {
    await submit({
      id: id(6),
      action: "correct",
      corrected_response: "fixed",
      failure_category: "format_error",
    });
    const before = await counters();

    const reply = await undo(id(6));

    expect(reply).toEqual({ status: 200, body: { ok: true } });
    const candidate = await stored(id(6));
    expect(candidate).toMatchObject({
      status: "needs_review",
      version: 3,
      corrected_response: null,
      failure_category: null,
      reviewer: null,
      decided_at: null,
      updated_by: "local-reviewer",
      gsi1pk: expect.stringMatching(/^STATUS#needs_review#\d$/),
      provenance: { source_run_id: RUN, line: 7 },
    });
    expect(candidate?.provenance.approved).toBeUndefined();
    expect(candidate?.provenance.approved_by).toBeUndefined();
    const after = await counters();
    expect(after["status#approved"]).toBe((before["status#approved"] ?? 0) - 1);
    expect(after["status#needs_review"]).toBe((before["status#needs_review"] ?? 0) + 1);
    expect(after.export_ready).toBe((before.export_ready ?? 0) - 1);
  });

  it("keeps the undone correction readable in the history, and offers it back as the draft", async () => {
    await submit({ id: id(9), action: "correct", corrected_response: "the reviewer's careful fix" });
    await undo(id(9));

    const reply = await api("GET", `/api/sft/candidates/${id(9)}`);

    expect(reply.body.candidate).toMatchObject({
      corrected_response: null,
      draft_correction: "the reviewer's careful fix",
    });
    expect(reply.body.history.map((e: { action: string }) => e.action)).toEqual(["correct", "undo"]);
    expect(reply.body.history[0]).toMatchObject({ corrected_response: "the reviewer's careful fix" });
    expect(reply.body.history[1]).toMatchObject({ replaced_correction: "the reviewer's careful fix" });
  });

  it("answers 409 when the candidate is already needs_review, 404 for an unknown id", async () => {
    const conflict = await undo(id(7));
    const missing = await undo("no-such-candidate");

    expect(conflict.status).toBe(409);
    expect(conflict.body.detail).toContain("needs_review");
    expect(missing.status).toBe(404);
  });

  it("answers 422 to a body without an id", async () => {
    const reply = await api("POST", "/api/sft/undo", { body: {} });
    expect(reply.status).toBe(422);
  });
});

describe("GET /api/sft/candidates/{id}", () => {
  it("shows the candidate and every decision and undo, oldest first", async () => {
    await submit({ id: id(8), action: "flag", failure_category: "style_violation" });
    await undo(id(8));
    await submit({
      id: id(8),
      action: "correct",
      corrected_response: "right",
      failure_category: "partial_answer",
    });

    const reply = await api("GET", `/api/sft/candidates/${encodeURIComponent(id(8))}`);

    expect(reply.status).toBe(200);
    expect(reply.body.candidate).toMatchObject({
      id: id(8),
      status: "approved",
      corrected_response: "right",
      prompt_messages: [{ role: "user", content: "question 8" }],
    });
    expect(reply.body.candidate.pk).toBeUndefined();
    expect(reply.body.candidate.gsi1pk).toBeUndefined();
    expect(reply.body.history).toEqual([
      expect.objectContaining({
        action: "flag",
        from: "needs_review",
        to: "model_rejected",
        failure_category: "style_violation",
        reviewer: "local-reviewer",
        version: 2,
      }),
      expect.objectContaining({
        action: "undo",
        from: "model_rejected",
        to: "needs_review",
        failure_category: null,
      }),
      expect.objectContaining({ action: "correct", from: "needs_review", to: "approved", version: 4 }),
    ]);
    for (const event of reply.body.history) expect(Date.parse(event.at)).not.toBeNaN();
  });

  it("answers 404 to an unknown id and to an unknown route", async () => {
    expect((await api("GET", "/api/sft/candidates/nope")).status).toBe(404);
    // Longer than any stored id (a key DynamoDB would refuse): still a 404, never a 500.
    expect(await api("GET", `/api/sft/candidates/${"x".repeat(3_000)}`)).toEqual({
      status: 404,
      body: { detail: "Candidate not found" },
    });
    const deep = await api("GET", "/api/sft/queue", { query: { page: "100000" } });
    expect(deep.status).toBe(422);
    expect(deep.body.detail[0].loc).toEqual(["query", "page"]);
    const route = await api("GET", "/api/sft/nothing-here");
    expect(route.status).toBe(404);
    expect(route.body).toEqual({ detail: expect.any(String) });
  });
});

describe("counters", () => {
  it("equal a recount after the decisions above", async () => {
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  });
});

describe("behind the JWT authorizer (as in AWS)", () => {
  it("records the reviewer's immutable sub, with the display name beside it in the history", async () => {
    vi.resetModules();
    vi.stubEnv("REVIEWER_TOKEN", "");
    const aws = (await import("../../../functions/api.ts")).handler;
    vi.stubEnv("REVIEWER_TOKEN", TOKEN);
    const claims = { sub: "2f6c-sub-of-ana", email: "ana@example.com", "cognito:groups": "[reviewer]" };
    const call = (method: string, path: string, request: HttpRequest = {}) =>
      callApi(aws, context, method, path, { claims, ...request });

    const decided = await call("POST", "/api/sft/submit", {
      body: { id: id(30), action: "correct", corrected_response: "fixed by ana" },
    });
    expect(decided.status).toBe(200);

    expect(await stored(id(30))).toMatchObject({
      reviewer: "2f6c-sub-of-ana",
      reviewer_name: "ana@example.com",
      provenance: { approved_by: "2f6c-sub-of-ana" },
    });
    const detail = await call("GET", `/api/sft/candidates/${id(30)}`);
    expect(detail.body.history).toEqual([
      expect.objectContaining({ reviewer: "2f6c-sub-of-ana", reviewer_name: "ana@example.com" }),
    ]);
    // The reviewer role holds no export scope: the gateway would refuse it, and so does the function.
    expect((await call("POST", "/api/exports", { body: { format: "openai-sft" } })).status).toBe(403);
  });
});

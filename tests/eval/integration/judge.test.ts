import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { QUEUES } from "../../../lib/common/resources.ts";
import { CURRENT_VERSIONS } from "../../../lib/eval/domain/rubric.ts";
import { deliverBatch, provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import {
  EXPERT_SCORES,
  type FakeJudgeServer,
  startFakeJudgeServer,
} from "../../support/fake-judge-server.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";

const TOKEN = "judge-test-token";
const JUDGE_KEY = "sk-test-judge-key";
const TIMEOUT_MS = 400;

let aws: TestAws;
let server: FakeJudgeServer;
let api: ApiHandler;
let judge: SqsBatchHandler;

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });

async function newSession(overrides: Record<string, unknown> = {}) {
  const session = {
    id: `s-${randomUUID()}`,
    profile_id: "coding-agent",
    name: "Fix flaky test",
    created_at: "2026-06-05T15:00:00Z",
    last_active: "2026-06-05T15:40:00Z",
    messages: [
      { role: "user", content: "The test test_import_idempotent fails one run in ten. Find out why." },
      { role: "assistant", content: "It fails when two imports share the module-level cache; fixed." },
    ],
    ...overrides,
  };
  expect((await call("POST", "/api/eval/sessions", { body: session })).status).toBe(201);
  return session;
}

/** Receives the judge queue's messages and hands them to the real judge handler until the run is done. */
async function drain(runId: string) {
  for (let round = 0; round < 20; round++) {
    await deliverBatch(aws, aws.resources.queues.judge, judge, "judge");
    const run = await call("GET", `/api/eval/run/${runId}`);
    if (run.body.status === "completed") return run.body;
  }
  throw new Error(`run ${runId} did not complete`);
}

async function runOne(sessionId: string, model: string) {
  const started = await call("POST", "/api/eval/run", {
    body: { scope: "session", session_id: sessionId, model, backend: "openai" },
  });
  expect(started.status).toBe(202);
  return drain(started.body.id);
}

const requestsSince = (count: number) => server.requests.slice(count);

beforeAll(async () => {
  [aws, server] = await Promise.all([
    provisionTestAws("judge"),
    startFakeJudgeServer({ apiKey: JUDGE_KEY, slowMs: 3_000 }),
  ]);
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("JUDGE_QUEUE_URL", aws.resources.queues.judge.url);
  vi.stubEnv("JUDGE_OPENAI_BASE_URL", server.baseUrl);
  vi.stubEnv("JUDGE_OPENAI_API_KEY", JUDGE_KEY);
  vi.stubEnv("JUDGE_TIMEOUT_MS", String(TIMEOUT_MS));
  ({ handler: api } = await import("../../../functions/api.ts"));
  ({ handler: judge } = await import("../../../functions/judge.ts"));
});

afterAll(async () => {
  await server?.close();
});

describe("the judge against an OpenAI-compatible server", () => {
  it("scores a session with every expert and records the per-axis means as its latest evaluation", async () => {
    const session = await newSession();
    const before = server.requests.length;

    const run = await runOne(session.id, "good");

    expect(run).toMatchObject({
      status: "completed",
      total: 1,
      counts: { pending: 0, running: 0, done: 1, failed: 0 },
      sessions: [{ session_id: session.id, status: "done", error: null }],
      completed_at: expect.any(String),
    });
    const requests = requestsSince(before);
    expect(requests).toHaveLength(3);
    expect(requests.every((r) => r.model === "good" && r.authorization === `Bearer ${JUDGE_KEY}`)).toBe(true);
    expect(requests[0]?.messages[1]?.content).toContain("[1] assistant:");
    const detail = await call("GET", `/api/eval/sessions/${session.id}`);
    expect(detail.body).toMatchObject({
      status: "evaluated",
      last_failure: null,
      latest_evaluation: {
        run_id: run.id,
        model: "good",
        backend: "openai",
        ...CURRENT_VERSIONS,
        scores: {
          task_complexity: 40,
          goal_completion: 80,
          tool_usage_quality: 70,
          efficiency: 60,
          communication: 90,
          subagent_orchestration: null,
          self_extension: null,
        },
      },
    });
    expect(detail.body.evaluations[0].experts).toEqual(
      Object.entries(EXPERT_SCORES).map(([expert, scores]) =>
        expect.objectContaining({ expert, scores, comment: `${expert} read the conversation.` }),
      ),
    );
  });

  it("retries a malformed answer once and accepts the corrected one", async () => {
    const session = await newSession();
    const before = server.requests.length;
    const run = await runOne(session.id, "flaky");
    expect(run.counts).toMatchObject({ done: 1, failed: 0 });
    expect(requestsSince(before)).toHaveLength(6);
  });

  it("records garbage answered twice as the session's failure, and leaves it pending", async () => {
    const session = await newSession();
    const before = server.requests.length;

    const run = await runOne(session.id, "garbage");

    expect(run).toMatchObject({
      status: "completed",
      counts: { done: 0, failed: 1 },
      sessions: [{ status: "failed", error: expect.stringContaining("malformed JSON twice") }],
    });
    expect(requestsSince(before)).toHaveLength(6);
    const detail = await call("GET", `/api/eval/sessions/${session.id}`);
    expect(detail.body).toMatchObject({
      status: "pending",
      latest_evaluation: null,
      evaluations: [],
      last_failure: { run_id: run.id, error: expect.stringContaining("malformed JSON twice") },
    });
  });

  it("records a judge that does not answer within the timeout as a failure", async () => {
    const session = await newSession();
    const started = Date.now();
    const run = await runOne(session.id, "slow");
    expect(run.sessions[0]).toMatchObject({
      status: "failed",
      error: `the judge did not answer within ${TIMEOUT_MS} ms`,
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it("tries a judge that sheds load (HTTP 500) again later, and records the failure only on the last delivery", async () => {
    const session = await newSession();
    const started = await call("POST", "/api/eval/run", {
      body: { scope: "session", session_id: session.id, model: "broken", backend: "openai" },
    });
    const body = JSON.stringify({ run_id: started.body.id, session_id: session.id });
    const delivery = (count: number) =>
      sqsRecord(body, {
        attributes: { ...sqsRecord(body).attributes, ApproximateReceiveCount: String(count) },
      });
    const before = server.requests.length;

    // The batch's only record failed: the batch processor fails the whole invocation, for a retry.
    await expect(judge(sqsEvent(delivery(1)), lambdaContext("judge"))).rejects.toThrow();

    // Three tries of each expert's request within the delivery, then back to the queue.
    expect(server.requests.length - before).toBeGreaterThanOrEqual(3);
    const meanwhile = await call("GET", `/api/eval/run/${started.body.id}`);
    expect(meanwhile.body.sessions[0].status).not.toBe("failed");

    await expect(
      judge(sqsEvent(delivery(QUEUES.judge.maxReceiveCount)), lambdaContext("judge")),
    ).rejects.toThrow();
    const run = await call("GET", `/api/eval/run/${started.body.id}`);
    expect(run.body.sessions[0]).toMatchObject({ status: "failed" });
    expect(run.body.sessions[0].error).toMatch(/the judge answered HTTP 500 3 times/);
  });

  it("keeps judging the other sessions of a run when one fails", async () => {
    const since = "2026-12-01T00:00:00.000Z";
    const sessions = [
      await newSession({ last_active: "2026-12-02T10:00:00Z" }),
      await newSession({
        last_active: "2026-12-03T10:00:00Z",
        messages: [{ role: "user", content: "[judge:garbage] hello" }],
      }),
      await newSession({ last_active: "2026-12-04T10:00:00Z" }),
    ];

    const started = await call("POST", "/api/eval/run", {
      body: { scope: "unevaluated", since, model: "good", backend: "openai" },
    });
    expect(started.body).toMatchObject({ status: "running", total: 3, counts: { pending: 3 } });
    const run = await drain(started.body.id);

    expect(run.counts).toMatchObject({ done: 2, failed: 1, pending: 0 });
    const statusOf = (id: string) =>
      run.sessions.find((s: { session_id: string }) => s.session_id === id)?.status;
    expect(sessions.map((s) => statusOf(s.id))).toEqual(["done", "failed", "done"]);
  });

  it("changes nothing when a message is delivered again after its session finished", async () => {
    const session = await newSession();
    const run = await runOne(session.id, "good");
    const before = server.requests.length;

    const redelivered = sqsRecord(JSON.stringify({ run_id: run.id, session_id: session.id }));
    const result = await judge(sqsEvent(redelivered), lambdaContext("judge"));

    expect(result.batchItemFailures).toEqual([]);
    expect(server.requests.length).toBe(before);
    const again = await call("GET", `/api/eval/run/${run.id}`);
    expect(again.body.counts).toEqual(run.counts);
    const detail = await call("GET", `/api/eval/sessions/${session.id}`);
    expect(detail.body.evaluations).toHaveLength(1);
  });

  it("reports a message that is not a judge message as a batch item failure, alone", async () => {
    const session = await newSession();
    const started = await call("POST", "/api/eval/run", {
      body: { scope: "session", session_id: session.id, model: "good" },
    });
    const bad = sqsRecord("not json");
    const good = sqsRecord(JSON.stringify({ run_id: started.body.id, session_id: session.id }));

    const result = await judge(sqsEvent(bad, good), lambdaContext("judge"));

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: bad.messageId }]);
    expect((await call("GET", `/api/eval/run/${started.body.id}`)).body.counts.done).toBe(1);
    await drain(started.body.id);
  });
});

import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { QUEUES } from "../../../lib/common/resources.ts";
import { AXES, CURRENT_VERSIONS, type JudgeScores } from "../../../lib/eval/domain/rubric.ts";
import { type Poller, startPoller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import {
  type ChatRequest,
  expertOf,
  type FakeJudgeServer,
  startFakeJudgeServer,
} from "../../support/fake-judge-server.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";

/**
 * The session eval API's clients, replayed against Flywheel: a dashboard that lists
 * `GET /api/eval/sessions` as a bare list, starts runs with `POST /api/eval/run {}` on its
 * Ollama judge, and polls the run in the old shape. Every field it reads is checked by name.
 */

const TOKEN = "compat-eval-token";

/**
 * Per-expert scores whose means are not whole: 33, 34, 34 → 33.67 (shown as 34); 50, 50, 51 →
 * 50.33 (shown as 50). The optional axes stay null.
 */
function scoresFor(request: ChatRequest): JudgeScores {
  const expert = expertOf(request);
  const high = expert === "task_analyst" ? 33 : 34;
  const low = expert === "communication_reviewer" ? 51 : 50;
  return {
    task_complexity: high,
    goal_completion: high,
    tool_usage_quality: low,
    efficiency: low,
    communication: high,
    subagent_orchestration: null,
    self_extension: null,
  };
}
const ROUNDED = {
  task_complexity: 34,
  goal_completion: 34,
  tool_usage_quality: 50,
  efficiency: 50,
  communication: 34,
  subagent_orchestration: null,
  self_extension: null,
};

let aws: TestAws;
let ollama: FakeJudgeServer;
let poller: Poller;
let api: ApiHandler;

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });

const session = (id: string, overrides: Record<string, unknown> = {}) => ({
  id,
  profile_id: "support-bot",
  name: "Refund question",
  created_at: "2026-06-01T09:00:00Z",
  last_active: "2026-06-01T09:06:00Z",
  messages: [
    { role: "user", content: "I was charged twice for order 8812. Can I get a refund?" },
    { role: "assistant", content: "I can't help with billing." },
    { role: "user", content: "Who can then?" },
    { role: "assistant", content: "Please contact support." },
  ],
  ...overrides,
});

/** The old run-status object, every field named, plus whatever Flywheel adds beside. */
const OLD_RUN_FIELDS = [
  "run_id",
  "state",
  "started_at",
  "finished_at",
  "judge_model",
  "judge_version",
  "rubric_version",
  "sessions",
];
const OLD_ROW_FIELDS = [
  "session_id",
  "msg_count",
  "likes",
  "dislikes",
  "eval_status",
  "latest_avg",
  "latest_eval_date",
  "latest_judge_version",
  "latest_rubric_version",
];

async function pollUntilFinished(runId: string) {
  let run = (await call("GET", `/api/eval/run/${runId}`)).body;
  for (let i = 0; i < 80 && run.state === "running"; i++) {
    await sleep(250);
    run = (await call("GET", `/api/eval/run/${runId}`)).body;
  }
  return run;
}

beforeAll(async () => {
  [aws, ollama] = await Promise.all([provisionTestAws("compat-eval"), startFakeJudgeServer({ scoresFor })]);
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("JUDGE_QUEUE_URL", aws.resources.queues.judge.url);
  // A deployment standing in for the session eval API: its default backend is Ollama, and no
  // other OpenAI-compatible judge is configured, so a run that went elsewhere would fail.
  vi.stubEnv("JUDGE_DEFAULT_BACKEND", "ollama");
  vi.stubEnv("JUDGE_OLLAMA_BASE_URL", ollama.baseUrl);
  vi.stubEnv("JUDGE_OPENAI_BASE_URL", "");
  vi.stubEnv("JUDGE_TIMEOUT_MS", "5000");
  ({ handler: api } = await import("../../../functions/api.ts"));
  const { handler: judge } = await import("../../../functions/judge.ts");
  poller = startPoller({
    sqs: aws.clients.sqs,
    queueUrl: aws.resources.queues.judge.url,
    queueArn: aws.resources.queues.judge.arn,
    region: "us-east-1",
    handler: judge,
    functionName: "judge",
    timeoutSeconds: QUEUES.judge.handlerTimeoutSeconds,
    batchSize: QUEUES.judge.batchSize,
    waitTimeSeconds: 1,
  });
});

afterAll(async () => {
  await poller?.stop();
  await ollama?.close();
});

describe("the session eval API's clients, unchanged", () => {
  let runId: string;

  it("GET /api/eval/sessions answers a bare list of the old rows", async () => {
    expect((await call("POST", "/api/eval/sessions", { body: session("old-1") })).status).toBe(201);
    expect((await call("POST", "/api/eval/sessions", { body: session("old-2") })).status).toBe(201);
    for (const [index, rating] of [
      [1, -1],
      [3, 1],
    ] as const) {
      const reply = await call("POST", "/api/eval/feedback", {
        body: { session_id: "old-1", message_index: index, rating },
      });
      expect(reply.status).toBe(201);
    }

    const listed = await call("GET", "/api/eval/sessions");

    expect(listed.status).toBe(200);
    expect(Array.isArray(listed.body)).toBe(true);
    const row = listed.body.find((r: { session_id: string }) => r.session_id === "old-1");
    for (const field of OLD_ROW_FIELDS) expect(row).toHaveProperty(field);
    expect(row).toMatchObject({
      session_id: "old-1",
      msg_count: 4,
      likes: 1,
      dislikes: 1,
      eval_status: "pending",
      latest_avg: null,
      latest_eval_date: null,
      latest_judge_version: null,
      latest_rubric_version: null,
    });
  });

  it("POST /api/eval/profiles registers a profile for the judge (201, then 200 when replaced)", async () => {
    const body = { id: "support-bot", name: "Support", description: "Settles billing questions." };
    expect(await call("POST", "/api/eval/profiles", { body })).toMatchObject({ status: 201, body });
    const replaced = await call("POST", "/api/eval/profiles", {
      body: { ...body, description: "Settles billing questions end to end." },
    });
    expect(replaced.status).toBe(200);
    expect((await call("GET", "/api/eval/profiles")).body.profiles).toEqual([
      expect.objectContaining({ id: "support-bot", description: "Settles billing questions end to end." }),
    ]);
    expect((await call("POST", "/api/eval/profiles", { body: { id: "x" } })).status).toBe(422);
  });

  it("POST /api/eval/run {} starts a run of the unevaluated sessions on the default model and backend", async () => {
    const started = await call("POST", "/api/eval/run", { body: {} });

    expect(started.status).toBe(202);
    for (const field of OLD_RUN_FIELDS) expect(started.body).toHaveProperty(field);
    expect(started.body).toMatchObject({
      run_id: expect.any(String),
      state: "running",
      started_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      finished_at: null,
      judge_model: "llama3.1",
      ...CURRENT_VERSIONS,
      scope: "unevaluated",
      backend: "ollama",
    });
    expect(started.body.sessions.map((s: { session_id: string }) => s.session_id).sort()).toEqual([
      "old-1",
      "old-2",
    ]);
    for (const entry of started.body.sessions) {
      expect(entry).toMatchObject({ state: "pending", avg: null, error: null });
    }
    runId = started.body.run_id;
  });

  it("GET /api/eval/run/{run_id} reports the old states, and each session's rounded avg once ok", async () => {
    const run = await pollUntilFinished(runId);

    expect(run).toMatchObject({
      run_id: runId,
      state: "done",
      finished_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      judge_model: "llama3.1",
      ...CURRENT_VERSIONS,
    });
    for (const entry of run.sessions) {
      expect(entry).toMatchObject({ state: "ok", avg: ROUNDED, error: null });
    }
    // Every call went to the Ollama endpoint, with the default model.
    expect(ollama.requests.length).toBe(2 * 3);
    expect(new Set(ollama.requests.map((r) => r.model))).toEqual(new Set(["llama3.1"]));
    // As the old judge did, it read each message's feedback and the session's profile.
    const aboutOld1 = ollama.requests
      .map((r) => r.messages.find((m) => m.role === "user")?.content ?? "")
      .filter((text) => text.includes("1 like, 0 dislikes"));
    expect(aboutOld1).toHaveLength(3);
    for (const text of aboutOld1) {
      expect(text).toContain("Settles billing questions end to end.");
      expect(text).toContain(
        "[1] assistant:\nI can't help with billing.\n(user feedback on this message: 0 likes, 1 dislike)",
      );
    }
  });

  it("lists the evaluated sessions with their latest evaluation in the old fields, rounded", async () => {
    const listed = await call("GET", "/api/eval/sessions");
    const row = listed.body.find((r: { session_id: string }) => r.session_id === "old-2");

    expect(row).toMatchObject({
      eval_status: "evaluated",
      latest_avg: ROUNDED,
      latest_eval_date: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      latest_judge_version: CURRENT_VERSIONS.judge_version,
      latest_rubric_version: CURRENT_VERSIONS.rubric_version,
    });
    for (const axis of AXES) {
      const value = row.latest_avg[axis];
      expect(value === null || Number.isInteger(value)).toBe(true);
    }
  });

  it("reports a run whose every session failed as failed, each session with its error", async () => {
    await call("POST", "/api/eval/sessions", {
      body: session("old-3", { messages: [{ role: "user", content: "[judge:garbage] hello" }] }),
    });
    const started = await call("POST", "/api/eval/run", { body: { scope: "session", session_id: "old-3" } });
    expect(started.status).toBe(202);

    const run = await pollUntilFinished(started.body.run_id);

    expect(run.state).toBe("failed");
    expect(run.sessions).toEqual([
      expect.objectContaining({ session_id: "old-3", state: "failed", avg: null, error: expect.any(String) }),
    ]);
  });

  it("GET /api/eval/stats covers the last 30 days unless asked otherwise", async () => {
    const stats = await call("GET", "/api/eval/stats");
    expect(stats.status).toBe(200);
    expect(stats.body.days).toBe(30);
  });

  it("keeps Flywheel's paged overview at /api/v2/eval/sessions", async () => {
    const page = await call("GET", "/api/v2/eval/sessions", { query: { limit: "2" } });
    expect(page.body).toMatchObject({ limit: 2, offset: 0, has_more: true, ...CURRENT_VERSIONS });
    expect(page.body.sessions[0]).toHaveProperty("id");
    expect(page.body.sessions[0]).toHaveProperty("message_count");
  });
});

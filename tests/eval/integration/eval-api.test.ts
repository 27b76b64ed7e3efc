import { randomUUID } from "node:crypto";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { EvalSessionIndex } from "../../../lib/eval/adapters/eval-session-index.ts";
import { JudgeRunTable } from "../../../lib/eval/adapters/judge-run-table.ts";
import {
  type AxisScores,
  CURRENT_VERSIONS,
  type JudgeScores,
  type JudgeVersions,
} from "../../../lib/eval/domain/rubric.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";

const TOKEN = "eval-token-for-tests";
/** A chat product's token: it records sessions and its users' feedback, and reads nothing. */
const PRODUCT_TOKEN = "eval-writer-token-for-tests";

let aws: TestAws;
let runs: JudgeRunTable;
let handler: ApiHandler;
const context = lambdaContext("api");

const api = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(handler, context, method, path, { token: TOKEN, ...request });

/** A session of its own profile (so overview assertions see only what the test wrote), long ago. */
function session(overrides: Record<string, unknown> = {}) {
  return {
    id: `s-${randomUUID()}`,
    profile_id: "support-bot",
    name: "Refund question",
    created_at: "2026-06-01T09:00:00Z",
    last_active: "2026-06-01T09:06:00Z",
    pinned: false,
    messages: [
      { role: "user", content: "I was charged twice for order 8812. Can I get a refund?" },
      { role: "assistant", content: "I can't help with billing." },
      { role: "user", content: "Who can then?" },
      { role: "assistant", content: "Please contact support." },
    ],
    ...overrides,
  };
}

const scores = (task: number, goal: number): AxisScores => ({
  task_complexity: task,
  goal_completion: goal,
  tool_usage_quality: 50,
  efficiency: 50,
  communication: 50,
  subagent_orchestration: null,
  self_extension: null,
});

/** Records an evaluation the way the judge does: through a run of one session. */
async function evaluate(
  sessionId: string,
  axisScores: AxisScores,
  versions: JudgeVersions = CURRENT_VERSIONS,
) {
  const runId = `run-${randomUUID()}`;
  await runs.create(
    {
      id: runId,
      scope: "session",
      session_id: sessionId,
      since: null,
      limit: 1,
      model: "m",
      backend: "openai",
      candidates_from_dislikes: false,
      ...versions,
      total: 1,
      done: 0,
      failed: 0,
      created_at: new Date().toISOString(),
      created_by: "test",
      completed_at: null,
    },
    [sessionId],
  );
  await runs.recordEvaluation(
    {
      session_id: sessionId,
      run_id: runId,
      evaluated_at: new Date().toISOString(),
      ...versions,
      model: "m",
      backend: "openai",
      scores: axisScores,
      experts: [{ expert: "task_analyst", scores: axisScores as JudgeScores, comment: "ok" }],
    },
    { candidatesCreated: null },
  );
  return runId;
}

beforeAll(async () => {
  aws = await provisionTestAws("eval-api");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("LOCAL_ROLE_TOKENS", JSON.stringify({ "eval-writer": PRODUCT_TOKEN }));
  vi.stubEnv("JUDGE_QUEUE_URL", aws.resources.queues.judge.url);
  ({ handler } = await import("../../../functions/api.ts"));
  runs = new JudgeRunTable(
    aws.clients.dynamodb,
    aws.resources.tableName,
    new EvalSessionIndex(aws.clients.dynamodb, aws.resources.tableName),
  );
});

describe("authentication", () => {
  it.each([
    ["POST", "/api/eval/sessions"],
    ["GET", "/api/eval/sessions"],
    ["GET", "/api/v2/eval/sessions"],
    ["GET", "/api/eval/sessions/x"],
    ["POST", "/api/eval/sessions/x/candidates"],
    ["POST", "/api/eval/feedback"],
    ["GET", "/api/eval/feedback/x"],
    ["POST", "/api/eval/run"],
    ["GET", "/api/eval/run/x"],
    ["GET", "/api/eval/runs"],
    ["GET", "/api/eval/stats"],
  ])("answers 401 to %s %s without the bearer token", async (method, path) => {
    const reply = await callApi(handler, context, method, path, { body: method === "POST" ? {} : undefined });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ detail: expect.any(String) });
  });
});

describe("POST /api/eval/sessions", () => {
  it("creates (201), then replaces (200) a session, keeping its feedback counts", async () => {
    const input = session();
    expect(await api("POST", "/api/eval/sessions", { body: input })).toEqual({
      status: 201,
      body: { created: true, message_count: 4, messages_stored: "table" },
    });
    expect(
      (
        await api("POST", "/api/eval/feedback", {
          body: { session_id: input.id, message_index: 1, rating: -1 },
        })
      ).status,
    ).toBe(201);

    const replaced = await api("POST", "/api/eval/sessions", {
      body: { ...input, name: "Renamed", messages: [...input.messages, { role: "user", content: "?" }] },
    });

    expect(replaced).toEqual({
      status: 200,
      body: { created: false, message_count: 5, messages_stored: "table" },
    });
    const detail = await api("GET", `/api/eval/sessions/${input.id}`);
    expect(detail.body).toMatchObject({ name: "Renamed", message_count: 5, dislikes: 1, likes: 0 });
    expect(detail.body.messages).toHaveLength(5);
  });

  it("keeps a message list too big for an item in S3 and reads it back whole", async () => {
    const big = "x".repeat(120_000);
    const input = session({
      messages: [
        { role: "user", content: big },
        { role: "assistant", content: big },
        { role: "user", content: big },
      ],
    });
    expect(await api("POST", "/api/eval/sessions", { body: input })).toEqual({
      status: 201,
      body: { created: true, message_count: 3, messages_stored: "s3" },
    });
    const detail = await api("GET", `/api/eval/sessions/${input.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.messages.map((m: { content: string }) => m.content.length)).toEqual([
      120_000, 120_000, 120_000,
    ]);
  });

  it.each([
    ["no messages", { messages: undefined }, ["body", "messages"]],
    ["a time without offset", { created_at: "2026-06-01 09:00" }, ["body", "created_at"]],
    ["an empty id", { id: "" }, ["body", "id"]],
    [
      "an answer whose model name is 60,000 characters, which would be counted",
      {
        messages: [
          { role: "user", content: "hi" },
          { role: "assistant", content: "hello", model: "m".repeat(60_000) },
        ],
      },
      ["body", "messages", 1, "model"],
    ],
  ])("answers 422 to %s", async (_name, overrides, loc) => {
    const reply = await api("POST", "/api/eval/sessions", { body: session(overrides) });
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toEqual(expect.arrayContaining([expect.objectContaining({ loc })]));
  });

  it("answers 422 to a body that is not JSON", async () => {
    expect((await api("POST", "/api/eval/sessions", { body: "{not json" })).status).toBe(422);
  });
});

describe("feedback", () => {
  it("keeps one rating per message and rater: 201 first, 200 when the rater changes it", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });

    const first = await api("POST", "/api/eval/feedback", {
      body: { session_id: input.id, message_index: 3, rating: 1, comment: "fine" },
    });
    const changed = await api("POST", "/api/eval/feedback", {
      body: { session_id: input.id, message_index: 3, rating: -1, comment: "not really" },
    });

    expect(first).toMatchObject({
      status: 201,
      body: { rating: 1, rater: "local-reviewer", message_index: 3 },
    });
    expect(changed).toMatchObject({ status: 200, body: { rating: -1, comment: "not really" } });
    expect(changed.body.created_at).toBe(first.body.created_at);
    const listed = await api("GET", `/api/eval/feedback/${input.id}`);
    expect(listed).toEqual({
      status: 200,
      body: { session_id: input.id, feedback: [expect.objectContaining({ message_index: 3, rating: -1 })] },
    });
    const detail = await api("GET", `/api/eval/sessions/${input.id}`);
    expect(detail.body).toMatchObject({ likes: 0, dislikes: 1 });
  });

  it("records a product's end users as the raters, each apart, with the product that sent them", async () => {
    const input = session();
    const asProduct = { token: PRODUCT_TOKEN };
    expect((await api("POST", "/api/eval/sessions", { ...asProduct, body: input })).status).toBe(201);
    const rate = (rater: string | undefined, rating: number) =>
      api("POST", "/api/eval/feedback", {
        ...asProduct,
        body: { session_id: input.id, message_index: 1, rating, ...(rater ? { rater } : {}) },
      });

    const ana = await rate("user-ana", 1);
    const bo = await rate("user-bo", -1);
    const product = await rate(undefined, 1);
    // The reviewer's own rating of the same message, under a rater of the same name, is apart too.
    const reviewer = await api("POST", "/api/eval/feedback", {
      body: { session_id: input.id, message_index: 1, rating: -1, rater: "user-ana" },
    });

    expect([ana.status, bo.status, product.status, reviewer.status]).toEqual([201, 201, 201, 201]);
    expect(ana.body).toMatchObject({ rater: "user-ana", sent_by: "local-eval-writer" });
    expect(bo.body).toMatchObject({ rater: "user-bo", sent_by: "local-eval-writer" });
    expect(product.body.rater).toBe("local-eval-writer");
    expect(product.body).not.toHaveProperty("sent_by");
    const listed = await api("GET", `/api/eval/feedback/${input.id}`);
    expect(listed.body.feedback).toHaveLength(4);
    expect(await api("GET", `/api/eval/sessions/${input.id}`)).toMatchObject({
      body: { likes: 2, dislikes: 2 },
    });
    // The product may write, not read.
    expect((await api("GET", `/api/eval/feedback/${input.id}`, asProduct)).status).toBe(403);
  });

  it("answers 404 for an unknown session, on write and on read", async () => {
    const reply = await api("POST", "/api/eval/feedback", {
      body: { session_id: "no-such-session", message_index: 0, rating: 1 },
    });
    expect(reply).toEqual({ status: 404, body: { detail: "Session no-such-session not found" } });
    expect((await api("GET", "/api/eval/feedback/no-such-session")).status).toBe(404);
    expect((await api("GET", `/api/eval/sessions/${"s".repeat(3_000)}`)).status).toBe(404);
    expect((await api("GET", `/api/eval/feedback/${"s".repeat(3_000)}`)).status).toBe(404);
  });

  it("answers 422 for an index past the last message, a negative index and a rating other than ±1", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });
    const post = (body: Record<string, unknown>) =>
      api("POST", "/api/eval/feedback", { body: { session_id: input.id, ...body } });

    const outOfRange = await post({ message_index: 4, rating: 1 });
    expect(outOfRange.status).toBe(422);
    expect(outOfRange.body.detail).toEqual([expect.objectContaining({ loc: ["body", "message_index"] })]);
    expect((await post({ message_index: -1, rating: 1 })).status).toBe(422);
    expect((await post({ message_index: 0, rating: 0 })).status).toBe(422);
    expect((await api("GET", `/api/eval/feedback/${input.id}`)).body.feedback).toEqual([]);
  });
});

describe("GET /api/v2/eval/sessions (Flywheel's paged overview)", () => {
  it("lists pinned first, then most recent activity, with counts and derived status, paged", async () => {
    const profile = `p-${randomUUID()}`;
    const at = (day: number) => `2026-06-${String(day).padStart(2, "0")}T12:00:00Z`;
    const inputs = [
      session({ profile_id: profile, last_active: at(3) }),
      session({ profile_id: profile, last_active: at(9) }),
      session({ profile_id: profile, last_active: at(1), pinned: true }),
      session({ profile_id: profile, last_active: at(5) }),
    ];
    for (const input of inputs) await api("POST", "/api/eval/sessions", { body: input });
    await api("POST", "/api/eval/feedback", {
      body: { session_id: inputs[1]?.id, message_index: 1, rating: 1 },
    });
    await api("POST", "/api/eval/feedback", {
      body: { session_id: inputs[1]?.id, message_index: 3, rating: -1 },
    });
    await evaluate(inputs[3]?.id as string, scores(40, 80));
    await evaluate(inputs[0]?.id as string, scores(40, 80), {
      ...CURRENT_VERSIONS,
      rubric_version: "rubric-0",
    });

    const page = await api("GET", "/api/v2/eval/sessions", { query: { profile, limit: "3" } });

    expect(page.status).toBe(200);
    expect(page.body).toMatchObject({ limit: 3, offset: 0, has_more: true, ...CURRENT_VERSIONS });
    expect(page.body.sessions.map((s: { id: string }) => s.id)).toEqual(
      [inputs[2], inputs[1], inputs[3]].map((s) => s?.id),
    );
    expect(page.body.sessions[1]).toMatchObject({
      likes: 1,
      dislikes: 1,
      message_count: 4,
      status: "pending",
    });
    expect(page.body.sessions[2]).toMatchObject({
      status: "evaluated",
      latest_evaluation: { ...CURRENT_VERSIONS, scores: { goal_completion: 80 } },
    });
    const rest = await api("GET", "/api/v2/eval/sessions", { query: { profile, limit: "3", offset: "3" } });
    expect(rest.body).toMatchObject({ has_more: false, sessions: [{ id: inputs[0]?.id, status: "stale" }] });

    const byStatus = async (status: string) =>
      (await api("GET", "/api/v2/eval/sessions", { query: { profile, status } })).body.sessions.map(
        (s: { id: string }) => s.id,
      );
    expect(await byStatus("evaluated")).toEqual([inputs[3]?.id]);
    expect(await byStatus("stale")).toEqual([inputs[0]?.id]);
    expect(await byStatus("pending")).toEqual([inputs[2]?.id, inputs[1]?.id]);
  });

  it("filters by profile", async () => {
    const profile = `p-${randomUUID()}`;
    const mine = session({ profile_id: profile });
    await api("POST", "/api/eval/sessions", { body: mine });
    await api("POST", "/api/eval/sessions", { body: session() });
    const page = await api("GET", "/api/v2/eval/sessions", { query: { profile } });
    expect(page.body.sessions.map((s: { id: string }) => s.id)).toEqual([mine.id]);
  });

  it.each([[{ limit: "0" }], [{ limit: "501" }], [{ offset: "-1" }], [{ status: "done" }]])(
    "answers 422 to %o",
    async (query) => {
      expect((await api("GET", "/api/v2/eval/sessions", { query })).status).toBe(422);
    },
  );
});

describe("GET /api/eval/sessions/{id}", () => {
  it("shows the messages, the feedback and every evaluation, newest first", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });
    await api("POST", "/api/eval/feedback", { body: { session_id: input.id, message_index: 1, rating: -1 } });
    const older = await evaluate(input.id, scores(20, 30), { ...CURRENT_VERSIONS, judge_version: "judge-0" });
    const newer = await evaluate(input.id, scores(40, 80));

    const detail = await api("GET", `/api/eval/sessions/${input.id}`);

    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({
      id: input.id,
      status: "evaluated",
      messages: input.messages,
      feedback: [{ message_index: 1, rating: -1 }],
      latest_evaluation: { run_id: newer },
    });
    expect(detail.body.evaluations.map((e: { run_id: string }) => e.run_id)).toEqual([newer, older]);
    expect(detail.body.evaluations[0].experts).toEqual([
      expect.objectContaining({ expert: "task_analyst", comment: "ok" }),
    ]);
  });

  it("answers 404 for an unknown session", async () => {
    expect(await api("GET", "/api/eval/sessions/nope")).toEqual({
      status: 404,
      body: { detail: "Session nope not found" },
    });
  });
});

describe("POST /api/eval/sessions/{id}/candidates", () => {
  it("creates a needs_review candidate once (201), then returns it (200), into the review queue", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });
    await api("POST", "/api/eval/feedback", {
      body: { session_id: input.id, message_index: 1, rating: -1, comment: "refused a task it can do" },
    });

    const created = await api("POST", `/api/eval/sessions/${input.id}/candidates`, {
      body: { message_index: 1 },
    });
    const again = await api("POST", `/api/eval/sessions/${input.id}/candidates`, {
      body: { message_index: 1 },
    });

    expect(created).toEqual({
      status: 201,
      body: { id: expect.stringMatching(/^eval-/), status: "needs_review", created: true },
    });
    expect(again).toEqual({ status: 200, body: { ...created.body, created: false } });
    const candidate = await api("GET", `/api/sft/candidates/${created.body.id}`);
    expect(candidate.body.candidate).toMatchObject({
      status: "needs_review",
      prompt_messages: [input.messages[0]],
      model_response: "I can't help with billing.",
      failure_reason: "disliked: refused a task it can do",
      provenance: { source: "eval", channel: "eval", source_session_id: input.id, message_index: 1 },
    });
    const queue = await api("GET", "/api/sft/queue", { query: { source: "eval", per_page: "200" } });
    expect(queue.body.items.map((c: { id: string }) => c.id)).toContain(created.body.id);
  });

  it("answers 404 for an unknown session and 422 for an index out of range or a user message", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });
    const post = (id: string, body: unknown) => api("POST", `/api/eval/sessions/${id}/candidates`, { body });

    expect((await post("nope", { message_index: 1 })).status).toBe(404);
    expect((await post(input.id, { message_index: 4 })).status).toBe(422);
    expect((await post(input.id, { message_index: 0 })).status).toBe(422);
    expect((await post(input.id, {})).status).toBe(422);
  });
});

describe("judge runs", () => {
  it("starts a run at once (202): running, each session pending, one message per session on the judge queue", async () => {
    const input = session();
    await api("POST", "/api/eval/sessions", { body: input });

    const started = await api("POST", "/api/eval/run", {
      body: { scope: "session", session_id: input.id, model: "m", backend: "openai" },
    });

    expect(started).toMatchObject({
      status: 202,
      body: {
        id: expect.any(String),
        status: "running",
        scope: "session",
        total: 1,
        counts: { pending: 1, running: 0, done: 0, failed: 0 },
        sessions: [{ session_id: input.id, status: "pending" }],
        ...CURRENT_VERSIONS,
      },
    });
    const received = await aws.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: aws.resources.queues.judge.url,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const bodies = (received.Messages ?? []).map((m) => JSON.parse(m.Body ?? "{}"));
    expect(bodies).toContainEqual({ run_id: started.body.id, session_id: input.id });

    const read = await api("GET", `/api/eval/run/${started.body.id}`);
    expect(read).toMatchObject({ status: 200, body: { id: started.body.id, status: "running" } });
    const listed = await api("GET", "/api/eval/runs", { query: { limit: "5" } });
    expect(listed.status).toBe(200);
    expect(listed.body.runs[0]).toMatchObject({ id: started.body.id, counts: { pending: 1 } });
  });

  it("answers 422 to scope=session without session_id, naming the field", async () => {
    const reply = await api("POST", "/api/eval/run", { body: { scope: "session", model: "m" } });
    expect(reply.status).toBe(422);
    expect(reply.body.detail).toEqual([expect.objectContaining({ loc: ["body", "session_id"] })]);
  });

  it.each([
    [{ scope: "everything", model: "m" }],
    [{ scope: "all", model: "m", backend: "gemini" }],
    [{ scope: "all", model: "" }],
    [{ scope: "all", model: "m", limit: 0 }],
  ])("answers 422 to %o", async (body) => {
    expect((await api("POST", "/api/eval/run", { body })).status).toBe(422);
  });

  it("answers 404 for scope=session with an unknown session, and for an unknown run", async () => {
    const reply = await api("POST", "/api/eval/run", {
      body: { scope: "session", session_id: "nope", model: "m" },
    });
    expect(reply.status).toBe(404);
    expect((await api("GET", "/api/eval/run/nope")).status).toBe(404);
    expect((await api("GET", "/api/eval/runs", { query: { limit: "0" } })).status).toBe(422);
  });
});

describe("GET /api/eval/stats", () => {
  it("averages the latest current-version evaluations per week, by complexity bucket when asked", async () => {
    // Two weeks that are over: the week before this one (A) and the one before that (B).
    const now = new Date();
    const mondayThisWeek = Date.UTC(
      now.getUTCFullYear(),
      now.getUTCMonth(),
      now.getUTCDate() - ((now.getUTCDay() + 6) % 7),
    );
    const day = 86_400_000;
    const weekA = mondayThisWeek - 7 * day;
    const weekB = mondayThisWeek - 14 * day;
    const iso = (ms: number) => new Date(ms).toISOString();
    const evaluated = [
      { last_active: iso(weekA + day + 36_000_000), scores: scores(20, 90) },
      { last_active: iso(weekA + 2 * day + 36_000_000), scores: scores(60, 50) },
      { last_active: iso(weekB + 3 * day + 36_000_000), scores: scores(80, 70) },
    ];
    for (const { last_active, scores: axisScores } of evaluated) {
      const input = session({ last_active });
      await api("POST", "/api/eval/sessions", { body: input });
      await evaluate(input.id, axisScores);
    }
    // Not counted: a session evaluated only under an older rubric.
    const old = session({ last_active: iso(weekA + day) });
    await api("POST", "/api/eval/sessions", { body: old });
    await evaluate(old.id, scores(99, 0), { ...CURRENT_VERSIONS, rubric_version: "rubric-0" });

    const plain = await api("GET", "/api/eval/stats", { query: { days: "30" } });
    const split = await api("GET", "/api/eval/stats", {
      query: { days: "30", by_complexity_bucket: "true" },
    });

    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ days: 30, by_complexity_bucket: false, ...CURRENT_VERSIONS });
    expect(plain.body.weeks).toEqual([
      expect.objectContaining({
        week_start: iso(weekB).slice(0, 10),
        sessions: 1,
        means: expect.objectContaining({ task_complexity: 80, goal_completion: 70, self_extension: null }),
        samples: expect.objectContaining({ task_complexity: 1, self_extension: 0 }),
      }),
      expect.objectContaining({
        week_start: iso(weekA).slice(0, 10),
        sessions: 2,
        means: expect.objectContaining({ task_complexity: 40, goal_completion: 70, communication: 50 }),
        samples: expect.objectContaining({ goal_completion: 2 }),
      }),
    ]);
    const [weekBStats, weekAStats] = split.body.weeks;
    expect(weekAStats.buckets["0-25"]).toMatchObject({ sessions: 1, means: { goal_completion: 90 } });
    expect(weekAStats.buckets["51-75"]).toMatchObject({ sessions: 1, means: { goal_completion: 50 } });
    expect(weekAStats.buckets["26-50"]).toMatchObject({ sessions: 0, means: { goal_completion: null } });
    expect(weekBStats.buckets["76+"]).toMatchObject({ sessions: 1, means: { goal_completion: 70 } });
  });

  it.each([[{ days: "0" }], [{ days: "366" }], [{ by_complexity_bucket: "maybe" }]])(
    "answers 422 to %o",
    async (query) => {
      expect((await api("GET", "/api/eval/stats", { query })).status).toBe(422);
    },
  );
});

describe("S3 layout", () => {
  it("keeps big message lists under blobs/sessions/", async () => {
    const big = "y".repeat(400_000);
    const input = session({ messages: [{ role: "user", content: big }] });
    await api("POST", "/api/eval/sessions", { body: input });
    const detail = await api("GET", `/api/eval/sessions/${input.id}`);
    expect(detail.body.messages[0].content).toHaveLength(400_000);
    const item = await aws.clients.dynamodb.send(
      new GetCommand({ TableName: aws.resources.tableName, Key: keys.evalSessionMessages(input.id) }),
    );
    expect(item.Item?.messages).toBeUndefined();
    const key = item.Item?.messages_ref.key as string;
    expect(key).toMatch(/^blobs\/sessions\/[0-9a-f]{64}\/[0-9a-f]{64}\.json$/);
    const object = await aws.clients.s3.send(
      new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }),
    );
    expect(JSON.parse((await object.Body?.transformToString()) ?? "[]")).toEqual(input.messages);
  });
});

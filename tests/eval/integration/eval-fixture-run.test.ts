import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { QUEUES } from "../../../lib/common/resources.ts";
import { evalCandidateId } from "../../../lib/eval/domain/eval-candidate.ts";
import { CURRENT_VERSIONS, type JudgeScores } from "../../../lib/eval/domain/rubric.ts";
import { sessionsOverview } from "../../../lib/eval/usecases/eval-sessions.ts";
import { evalApiDeps } from "../../../lib/eval/wiring.ts";
import { type Poller, startPoller } from "../../../local/poller.ts";
import { samplePath } from "../../../samples/index.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import {
  type ChatRequest,
  expertOf,
  type FakeJudgeServer,
  startFakeJudgeServer,
} from "../../support/fake-judge-server.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";

interface FixtureSession {
  id: string;
  messages: { role: string; content: string }[];
  feedback: { message_index: number; rating: 1 | -1; comment?: string }[];
  [field: string]: unknown;
}
const fixtures = JSON.parse(
  readFileSync(samplePath("sessions", "sessions.json"), "utf8"),
) as FixtureSession[];

const TOKEN = "fixture-run-token";

/**
 * The judge's scores per session, by a phrase of its conversation: each expert is 10 below, at
 * or 10 above the base, so every per-axis mean is the base.
 */
const BASE: Record<string, Omit<JudgeScores, "subagent_orchestration" | "self_extension">> = {
  "charged twice": {
    task_complexity: 20,
    goal_completion: 10,
    tool_usage_quality: 30,
    efficiency: 40,
    communication: 30,
  },
  "reset my password": {
    task_complexity: 15,
    goal_completion: 90,
    tool_usage_quality: 80,
    efficiency: 90,
    communication: 85,
  },
  test_import_idempotent: {
    task_complexity: 70,
    goal_completion: 80,
    tool_usage_quality: 80,
    efficiency: 70,
    communication: 75,
  },
};
const OFFSET: Record<string, number> = { task_analyst: -10, process_reviewer: 0, communication_reviewer: 10 };

function scoresFor(request: ChatRequest): JudgeScores {
  const conversation = request.messages.find((m) => m.role === "user")?.content ?? "";
  const phrase = Object.keys(BASE).find((p) => conversation.includes(p)) as string;
  const offset = OFFSET[expertOf(request)] ?? 0;
  const shifted = Object.fromEntries(
    Object.entries(BASE[phrase] ?? {}).map(([axis, value]) => [axis, value + offset]),
  );
  return { ...(shifted as JudgeScores), subagent_orchestration: null, self_extension: null };
}

let aws: TestAws;
let server: FakeJudgeServer;
let poller: Poller;
let api: ApiHandler;

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });

beforeAll(async () => {
  [aws, server] = await Promise.all([provisionTestAws("eval-e2e"), startFakeJudgeServer({ scoresFor })]);
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("JUDGE_QUEUE_URL", aws.resources.queues.judge.url);
  vi.stubEnv("JUDGE_OPENAI_BASE_URL", server.baseUrl);
  vi.stubEnv("JUDGE_TIMEOUT_MS", "5000");
  ({ handler: api } = await import("../../../functions/api.ts"));
  const { handler: judge } = await import("../../../functions/judge.ts");
  // The local runtime's poller drives the real judge handler, as `npm start` does.
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
  await server?.close();
  vi.useRealTimers();
});

describe("a judge run over the fixture sessions", () => {
  let runId: string;

  it("loads the sessions and their feedback", async () => {
    for (const { feedback, ...session } of fixtures) {
      expect((await call("POST", "/api/eval/sessions", { body: session })).status).toBe(201);
      for (const rating of feedback) {
        const reply = await call("POST", "/api/eval/feedback", {
          body: { session_id: session.id, ...rating },
        });
        expect(reply.status).toBe(201);
      }
    }
    const overview = await call("GET", "/api/v2/eval/sessions");
    expect(overview.body.sessions.map((s: { status: string }) => s.status)).toEqual([
      "pending",
      "pending",
      "pending",
    ]);
  });

  it("judges every unevaluated session through the judge queue, reporting progress until done", async () => {
    const started = await call("POST", "/api/eval/run", {
      body: { scope: "unevaluated", model: "good", backend: "openai", candidates_from_dislikes: true },
    });
    expect(started).toMatchObject({
      status: 202,
      body: { status: "running", total: 3, counts: { pending: 3 } },
    });
    runId = started.body.id;

    let run = started.body;
    for (let i = 0; i < 60 && run.status !== "completed"; i++) {
      await sleep(250);
      run = (await call("GET", `/api/eval/run/${runId}`)).body;
    }

    expect(run).toMatchObject({
      status: "completed",
      counts: { pending: 0, running: 0, done: 3, failed: 0 },
    });
    expect(run.sessions.find((s: { session_id: string }) => s.session_id === "sess-001")).toMatchObject({
      candidates_created: 2,
    });
    const runs = await call("GET", "/api/eval/runs");
    expect(runs.body.runs[0]).toMatchObject({ id: runId, status: "completed" });
  });

  it("shows likes, dislikes and `evaluated` in the overview, pinned first then most recent", async () => {
    const overview = await call("GET", "/api/v2/eval/sessions");
    expect(
      overview.body.sessions.map((s: Record<string, unknown>) => [
        s.id,
        s.pinned,
        s.likes,
        s.dislikes,
        s.status,
      ]),
    ).toEqual([
      ["sess-002", true, 1, 0, "evaluated"],
      ["sess-003", false, 0, 0, "evaluated"],
      ["sess-001", false, 0, 2, "evaluated"],
    ]);
    expect(overview.body.sessions[2].latest_evaluation).toMatchObject({
      run_id: runId,
      ...CURRENT_VERSIONS,
      scores: { ...BASE["charged twice"], subagent_orchestration: null, self_extension: null },
    });
    const supportBot = await call("GET", "/api/v2/eval/sessions", { query: { profile: "support-bot" } });
    expect(supportBot.body.sessions.map((s: { id: string }) => s.id)).toEqual(["sess-002", "sess-001"]);
  });

  it("returns weekly means equal to a hand computation", async () => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-10-20T00:00:00Z") });
    const stats = await call("GET", "/api/eval/stats", {
      query: { days: "60", by_complexity_bucket: "true" },
    });
    vi.useRealTimers();

    expect(stats.status).toBe(200);
    const [first, second] = stats.body.weeks;
    // Week of Monday 2026-09-28: sess-001 (Oct 1) and sess-002 (Oct 2).
    expect(first).toMatchObject({
      week_start: "2026-09-28",
      sessions: 2,
      means: {
        task_complexity: (20 + 15) / 2,
        goal_completion: (10 + 90) / 2,
        tool_usage_quality: (30 + 80) / 2,
        efficiency: (40 + 90) / 2,
        communication: (30 + 85) / 2,
        subagent_orchestration: null,
        self_extension: null,
      },
      samples: { goal_completion: 2, self_extension: 0 },
    });
    expect(first.buckets["0-25"]).toMatchObject({ sessions: 2, means: { goal_completion: 50 } });
    expect(first.buckets["51-75"].sessions).toBe(0);
    // Week of Monday 2026-10-05: sess-003 alone.
    expect(second).toMatchObject({
      week_start: "2026-10-05",
      sessions: 1,
      means: { task_complexity: 70, goal_completion: 80, communication: 75 },
    });
    expect(second.buckets["51-75"]).toMatchObject({ sessions: 1, means: { efficiency: 70 } });
    expect(stats.body.weeks).toHaveLength(2);
  });

  it("made each disliked answer a candidate in the review queue, once", async () => {
    const expected = [evalCandidateId("sess-001", 1), evalCandidateId("sess-001", 3)];
    const queue = await call("GET", "/api/sft/queue", { query: { source: "eval", per_page: "50" } });
    expect(queue.body.items.map((c: { id: string }) => c.id).sort()).toEqual([...expected].sort());
    const again = await call("POST", "/api/eval/sessions/sess-001/candidates", {
      body: { message_index: 1 },
    });
    expect(again).toMatchObject({ status: 200, body: { id: expected[0], created: false } });
  });

  it("reads every session as stale after a rubric version bump, and selects them for the next run", async () => {
    const deps = evalApiDeps(aws.clients, {
      AWS_REGION: "us-east-1",
      TABLE_NAME: aws.resources.tableName,
      BUCKET_NAME: aws.resources.bucket,
      JUDGE_QUEUE_URL: undefined,
    });
    const bumped = { ...CURRENT_VERSIONS, rubric_version: `${CURRENT_VERSIONS.rubric_version}-next` };
    const overview = (status?: "stale" | "evaluated") =>
      sessionsOverview({ ...deps.sessions, versions: bumped }, { limit: 50, offset: 0, status });

    expect((await overview()).sessions.map((s) => s.status)).toEqual(["stale", "stale", "stale"]);
    expect((await overview("stale")).sessions).toHaveLength(3);
    expect((await overview("evaluated")).sessions).toHaveLength(0);
    const select = (versions: typeof CURRENT_VERSIONS) =>
      deps.runs.runs.selectSessions({ scope: "unevaluated", limit: 10 }, versions);
    expect(await select(bumped)).toEqual(["sess-002", "sess-003", "sess-001"]);
    expect(await select(CURRENT_VERSIONS)).toEqual([]);
  });
});

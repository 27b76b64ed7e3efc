import { describe, expect, it, vi } from "vitest";
import { keyFromSecret } from "../../../lib/eval/adapters/judge-api-key.ts";
import type {
  Evaluation,
  Feedback,
  SessionMessage,
  SessionSummary,
} from "../../../lib/eval/domain/eval-session.ts";
import type { JudgeRun, RunSessionProgress } from "../../../lib/eval/domain/judge-run.ts";
import {
  type ChatTurn,
  CURRENT_VERSIONS,
  EXPERTS,
  expertPrompt,
  type JudgeScores,
  parseVerdict,
  RUBRIC_VERSION,
} from "../../../lib/eval/domain/rubric.ts";
import { createJudgeRecordHandler } from "../../../lib/eval/edge/judge-records.ts";
import type { CandidateInserter, EvalSessionStore, JudgeRunStore } from "../../../lib/eval/ports.ts";
import { JudgeBackendError, type JudgeModel, JudgeOutputError } from "../../../lib/eval/ports.ts";
import { askExpert, judgeConversation, judgeSession } from "../../../lib/eval/usecases/judge-session.ts";
import { sqsRecord } from "../../support/events.ts";

const scores: JudgeScores = {
  task_complexity: 40,
  goal_completion: 80,
  tool_usage_quality: 70,
  efficiency: 60,
  communication: 90,
  subagent_orchestration: null,
  self_extension: null,
};
const good = JSON.stringify({ scores, comment: "Solved it." });
const messages: SessionMessage[] = [
  { role: "user", content: "How do I reset my password?" },
  { role: "assistant", content: "Settings > Security > Reset password." },
];

/** A model that answers from a script, one reply per call, and records what it was asked. */
function scripted(...replies: (string | Error)[]): JudgeModel & { calls: ChatTurn[][] } {
  const calls: ChatTurn[][] = [];
  return {
    calls,
    complete: async (_model, turns) => {
      calls.push([...turns]);
      const reply = replies[Math.min(calls.length - 1, replies.length - 1)];
      if (reply instanceof Error) throw reply;
      return reply as string;
    },
  };
}

describe("judge output validation", () => {
  it("accepts the JSON object bare, in a code fence or inside prose", () => {
    expect(parseVerdict(good)).toMatchObject({ ok: true, verdict: { scores, comment: "Solved it." } });
    expect(parseVerdict(`\`\`\`json\n${good}\n\`\`\``).ok).toBe(true);
    expect(parseVerdict(`Here is my verdict: ${good} Hope that helps.`).ok).toBe(true);
  });

  it("reads a missing optional axis as not applicable", () => {
    const { subagent_orchestration: _a, self_extension: _b, ...required } = scores;
    const parsed = parseVerdict(JSON.stringify({ scores: required, comment: "ok" }));
    expect(parsed).toMatchObject({ ok: true, verdict: { scores: { subagent_orchestration: null } } });
  });

  it("names what is wrong: no JSON, a missing axis, a score out of range, no comment", () => {
    expect(parseVerdict("A solid B+")).toEqual({ ok: false, problem: "it contains no JSON object" });
    const { goal_completion: _g, ...missing } = scores;
    expect(parseVerdict(JSON.stringify({ scores: missing, comment: "x" }))).toMatchObject({
      ok: false,
      problem: expect.stringContaining("scores.goal_completion"),
    });
    expect(
      parseVerdict(JSON.stringify({ scores: { ...scores, efficiency: 140 }, comment: "x" })),
    ).toMatchObject({
      ok: false,
      problem: expect.stringContaining("scores.efficiency"),
    });
    expect(parseVerdict(JSON.stringify({ scores }))).toMatchObject({
      ok: false,
      problem: expect.stringContaining("comment"),
    });
  });
});

describe("asking an expert", () => {
  const expert = EXPERTS[0] as (typeof EXPERTS)[number];

  it("asks once when the first answer is valid", async () => {
    const model = scripted(good);
    await expect(askExpert(model, "m", expert, messages)).resolves.toMatchObject({
      expert: expert.name,
      scores,
    });
    expect(model.calls).toHaveLength(1);
    expect(model.calls[0]?.[0]?.role).toBe("system");
    expect(model.calls[0]?.[1]?.content).toContain("[1] assistant:");
  });

  it("retries once after a malformed answer, showing it the answer and the problem", async () => {
    const model = scripted("no json here", good);
    await expect(askExpert(model, "m", expert, messages)).resolves.toMatchObject({ scores });
    expect(model.calls).toHaveLength(2);
    const retry = model.calls[1] ?? [];
    expect(retry.at(-2)).toEqual({ role: "assistant", content: "no json here" });
    expect(retry.at(-1)?.content).toContain("it contains no JSON object");
  });

  it("fails after a second malformed answer, without a third call", async () => {
    const model = scripted("no json here", '{"scores": {}}');
    await expect(askExpert(model, "m", expert, messages)).rejects.toBeInstanceOf(JudgeOutputError);
    expect(model.calls).toHaveLength(2);
  });

  it("does not retry a backend error", async () => {
    const model = scripted(new JudgeBackendError("timed out"));
    await expect(askExpert(model, "m", expert, messages)).rejects.toBeInstanceOf(JudgeBackendError);
    expect(model.calls).toHaveLength(1);
  });

  it("averages the experts per axis and keeps each expert's comment", async () => {
    const model: JudgeModel = {
      complete: async (_m, turns) => {
        const offset = EXPERTS.findIndex((e) => turns[0]?.content.startsWith(e.focus)) * 10;
        const own = { ...scores, goal_completion: 70 + offset, self_extension: offset === 0 ? 30 : null };
        return JSON.stringify({ scores: own, comment: `expert ${offset}` });
      },
    };
    const result = await judgeConversation(model, "m", messages);
    expect(result.experts).toHaveLength(EXPERTS.length);
    expect(result.scores.goal_completion).toBe(80); // 70, 80, 90
    expect(result.scores.self_extension).toBe(30); // only one expert found it applicable
    expect(result.scores.subagent_orchestration).toBeNull();
  });
});

const run: JudgeRun = {
  id: "run-1",
  scope: "all",
  session_id: null,
  since: null,
  limit: 500,
  model: "m",
  backend: "openai",
  candidates_from_dislikes: true,
  ...CURRENT_VERSIONS,
  total: 1,
  done: 0,
  failed: 0,
  created_at: "2026-10-10T00:00:00.000Z",
  created_by: "tester",
  completed_at: null,
};

const summary: SessionSummary = {
  id: "s1",
  profile_id: "support-bot",
  name: "Reset",
  created_at: "2026-10-01T00:00:00.000Z",
  last_active: "2026-10-01T00:05:00.000Z",
  pinned: false,
  message_count: 2,
  likes: 0,
  dislikes: 1,
  latest_evaluation: null,
  last_failure: null,
  version: 1,
};

function fakes(options: { status?: RunSessionProgress["status"]; feedback?: Feedback[] } = {}) {
  const runs = {
    progress: vi.fn(async () => ({
      run,
      progress: { session_id: "s1", status: options.status ?? "pending" },
    })),
    markRunning: vi.fn(async () => options.status !== "done" && options.status !== "failed"),
    recordEvaluation: vi.fn(async (_evaluation: Evaluation) => "recorded" as const),
    recordFailure: vi.fn(async () => "recorded" as const),
    completeIfFinished: vi.fn(async () => undefined),
  };
  const sessions = {
    summary: vi.fn(async () => summary),
    messages: vi.fn(async () => messages),
    feedback: vi.fn(async () => options.feedback ?? []),
  };
  const candidates = {
    insertNew: vi.fn(async (_candidates: readonly unknown[]) => ({
      inserted: ["c"],
      alreadyStored: [],
      tooLarge: [],
    })),
  };
  return {
    runs,
    sessions,
    candidates,
    deps: (judge: JudgeModel | undefined) => ({
      runs: runs as unknown as JudgeRunStore,
      sessions: sessions as unknown as EvalSessionStore,
      candidates: candidates as CandidateInserter,
      judges: { openai: judge },
      now: () => new Date("2026-10-10T12:00:00.000Z"),
    }),
  };
}

describe("judging one session of a run", () => {
  const message = { run_id: "run-1", session_id: "s1" };

  it("records the evaluation under the judge's versions and completes the run when it was the last", async () => {
    const f = fakes();
    const outcome = await judgeSession(f.deps(scripted(good)), message);
    expect(outcome.status).toBe("evaluated");
    expect(f.runs.recordEvaluation).toHaveBeenCalledWith(
      expect.objectContaining({ session_id: "s1", run_id: "run-1", ...CURRENT_VERSIONS, scores }),
      { candidatesCreated: 0 },
    );
    expect(f.runs.completeIfFinished).toHaveBeenCalledWith("run-1", "2026-10-10T12:00:00.000Z");
  });

  it("records a judge that keeps answering garbage as the session's failure, without throwing", async () => {
    const f = fakes();
    const outcome = await judgeSession(f.deps(scripted("garbage")), message);
    expect(outcome).toMatchObject({
      status: "failed",
      error: expect.stringContaining("malformed JSON twice"),
    });
    expect(f.runs.recordFailure).toHaveBeenCalledWith("run-1", "s1", expect.any(String), expect.any(String));
    expect(f.runs.recordEvaluation).not.toHaveBeenCalled();
  });

  it("records a backend without a judge configured as a failure", async () => {
    const f = fakes();
    await expect(judgeSession(f.deps(undefined), message)).resolves.toMatchObject({
      status: "failed",
      error: "no judge is configured for backend 'openai'",
    });
  });

  it("throws a store failure so that the message is retried", async () => {
    const f = fakes();
    f.runs.recordEvaluation.mockRejectedValueOnce(new Error("throttled"));
    await expect(judgeSession(f.deps(scripted(good)), message)).rejects.toThrow("throttled");
    expect(f.runs.recordFailure).not.toHaveBeenCalled();
  });

  it("skips a session already finished in the run (a redelivery)", async () => {
    const f = fakes({ status: "done" });
    const model = scripted(good);
    await expect(judgeSession(f.deps(model), message)).resolves.toEqual({
      status: "skipped",
      reason: "already finished",
    });
    expect(model.calls).toHaveLength(0);
  });

  it("turns disliked assistant answers into candidates when the run asks for it", async () => {
    const feedback: Feedback[] = [
      {
        session_id: "s1",
        message_index: 1,
        rating: -1,
        comment: "vague",
        rater: "a",
        created_at: "",
        updated_at: "",
      },
      {
        session_id: "s1",
        message_index: 0,
        rating: -1,
        comment: null,
        rater: "a",
        created_at: "",
        updated_at: "",
      },
    ];
    const f = fakes({ feedback });
    await judgeSession(f.deps(scripted(good)), message);
    const inserted = f.candidates.insertNew.mock.calls[0]?.[0] as unknown as { provenance: unknown }[];
    expect(inserted).toHaveLength(1); // the user message is not an answer
    expect(inserted[0]).toMatchObject({
      status: "needs_review",
      failure_reason: "disliked: vague",
      prompt_messages: [messages[0]],
      model_response: messages[1]?.content,
      provenance: { source: "eval", channel: "eval", source_session_id: "s1", message_index: 1 },
    });
    expect(f.runs.recordEvaluation).toHaveBeenCalledWith(expect.anything(), { candidatesCreated: 1 });
  });
});

describe("judge queue records", () => {
  it("records the failure on the last delivery before the message goes to the dead-letter queue", async () => {
    const f = fakes();
    f.runs.recordEvaluation.mockRejectedValue(new Error("table unavailable"));
    const handle = createJudgeRecordHandler(f.deps(scripted(good)), { maxReceiveCount: 3 });
    const body = JSON.stringify({ run_id: "run-1", session_id: "s1" });

    await expect(handle(sqsRecord(body))).rejects.toThrow("table unavailable");
    expect(f.runs.recordFailure).not.toHaveBeenCalled();

    const last = sqsRecord(body);
    last.attributes.ApproximateReceiveCount = "3";
    await expect(handle(last)).rejects.toThrow("table unavailable");
    expect(f.runs.recordFailure).toHaveBeenCalledWith(
      "run-1",
      "s1",
      "gave up after 3 deliveries: table unavailable",
      expect.any(String),
    );
  });

  it("refuses a body that is not a judge message", async () => {
    const handle = createJudgeRecordHandler(fakes().deps(scripted(good)), { maxReceiveCount: 3 });
    await expect(handle(sqsRecord('{"run_id": 1}'))).rejects.toThrow();
  });
});

describe("the judge API key secret", () => {
  it("is the key itself, or JSON with an api_key field", () => {
    expect(keyFromSecret("sk-abc\n")).toBe("sk-abc");
    expect(keyFromSecret('{"api_key": "sk-json"}')).toBe("sk-json");
    expect(keyFromSecret("{not json")).toBe("{not json");
    expect(() => keyFromSecret('{"key": "sk"}')).toThrow("api_key");
  });
});

describe("the judge's prompt (rubric-2): the users' feedback and the product's profile", () => {
  const messages = [
    { role: "user", content: "Refund order 8812?" },
    { role: "assistant", content: "I can't help with billing." },
  ];

  it("shows each rated message's likes, dislikes and comments under it, and the profile above", () => {
    const [system, user] = expertPrompt(EXPERTS[0] as (typeof EXPERTS)[0], messages, {
      feedback: [
        { message_index: 1, rating: -1, comment: "useless" },
        { message_index: 1, rating: -1, comment: null },
        { message_index: 1, rating: 1 },
      ],
      profile: { id: "support-bot", name: "Support", description: "Resolves billing issues end to end." },
    });
    expect(RUBRIC_VERSION).toBe("rubric-2");
    expect(system?.content).toContain(`(${RUBRIC_VERSION})`);
    expect(system?.content).toContain("not as a verdict");
    expect(user?.content).toMatch(/^Product profile "Support":\nResolves billing issues end to end\.\n\n/);
    expect(user?.content).toContain(
      '[1] assistant:\nI can\'t help with billing.\n(user feedback on this message: 1 like, 2 dislikes; disliked: "useless")',
    );
    expect(user?.content).not.toContain("[0] user:\nRefund order 8812?\n(");
  });

  it("reads the transcript alone when there is neither feedback nor a profile", () => {
    const [, user] = expertPrompt(EXPERTS[0] as (typeof EXPERTS)[0], messages);
    expect(user?.content).toBe(
      "Conversation to evaluate:\n\n[0] user:\nRefund order 8812?\n\n[1] assistant:\nI can't help with billing.",
    );
  });
});

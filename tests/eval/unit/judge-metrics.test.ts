import { describe, expect, it, vi } from "vitest";
import { RecordingMetrics } from "../../../lib/common/metrics.ts";
import type { JudgeRun } from "../../../lib/eval/domain/judge-run.ts";
import { EXPERTS } from "../../../lib/eval/domain/rubric.ts";
import { createJudgeRecordHandler } from "../../../lib/eval/edge/judge-records.ts";
import { EVAL_METRICS } from "../../../lib/eval/metrics.ts";
import type { EvalSessionStore, JudgeModel, JudgeRunStore } from "../../../lib/eval/ports.ts";
import { JudgeBackendError, JudgeBusyError } from "../../../lib/eval/ports.ts";
import { judgeSession, measuredJudge } from "../../../lib/eval/usecases/judge-session.ts";
import { sqsRecord } from "../../support/events.ts";
import { capturedLogLines } from "../../support/logs.ts";

const verdict = JSON.stringify({
  scores: {
    task_complexity: 40,
    goal_completion: 80,
    tool_usage_quality: 70,
    efficiency: 60,
    communication: 90,
    subagent_orchestration: null,
    self_extension: null,
  },
  comment: "Solved it.",
});

const answering = (reply: string | Error): JudgeModel => ({
  complete: async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    if (reply instanceof Error) throw reply;
    return reply;
  },
});

/** A run of one session on the `openai` backend, in stores that record what they are told. */
function world(judge: JudgeModel | undefined, metrics: RecordingMetrics) {
  const run = {
    id: "run-1",
    backend: "openai",
    model: "m",
    candidates_from_dislikes: false,
  } as unknown as JudgeRun;
  const runs = {
    progress: vi.fn(async () => ({ run, progress: { session_id: "s1", status: "pending" } })),
    markRunning: vi.fn(async () => true),
    recordEvaluation: vi.fn(async () => "recorded" as const),
    recordFailure: vi.fn(async () => "recorded" as const),
    completeIfFinished: vi.fn(async () => undefined),
  };
  const sessions = {
    summary: vi.fn(async () => ({ id: "s1", profile_id: "bot" })),
    messages: vi.fn(async () => [
      { role: "user", content: "How do I reset my password?" },
      { role: "assistant", content: "Settings > Security." },
    ]),
    feedback: vi.fn(async () => []),
  };
  return {
    runs: runs as unknown as JudgeRunStore,
    sessions: sessions as unknown as EvalSessionStore,
    candidates: { insertNew: vi.fn() } as never,
    judges: judge ? { openai: judge } : {},
    metrics,
  };
}

describe("the judge metrics", () => {
  it("count every call by backend and time it; a failed call is counted by why", async () => {
    const metrics = new RecordingMetrics();
    await measuredJudge(answering(verdict), "openai", metrics).complete("m", []);
    await expect(
      measuredJudge(answering(new JudgeBusyError("429")), "bedrock", metrics).complete("m", []),
    ).rejects.toThrow("429");
    await expect(
      measuredJudge(answering(new JudgeBackendError("refused")), "ollama", metrics).complete("m", []),
    ).rejects.toThrow("refused");
    expect(metrics.total(EVAL_METRICS.calls)).toBe(3);
    expect(metrics.total(EVAL_METRICS.calls, "bedrock")).toBe(1);
    expect(metrics.total(EVAL_METRICS.callFailures, "busy")).toBe(1);
    expect(metrics.total(EVAL_METRICS.callFailures, "backend_error")).toBe(1);
    const latencies = metrics.points.filter((point) => point.name === "JudgeLatency");
    expect(latencies).toHaveLength(3);
    for (const point of latencies) expect(point.value).toBeGreaterThanOrEqual(4);
  });

  it("count a session judged (one call per expert) and a session failed by why", async () => {
    const judged = new RecordingMetrics();
    await expect(
      judgeSession(world(answering(verdict), judged), { run_id: "run-1", session_id: "s1" }),
    ).resolves.toMatchObject({
      status: "evaluated",
    });
    expect(judged.total(EVAL_METRICS.sessionsJudged)).toBe(1);
    expect(judged.total(EVAL_METRICS.calls, "openai")).toBe(EXPERTS.length);

    const failed = new RecordingMetrics();
    await judgeSession(world(answering(new JudgeBackendError("down")), failed), {
      run_id: "run-1",
      session_id: "s1",
    });
    await judgeSession(world(undefined, failed), { run_id: "run-1", session_id: "s1" });
    expect(failed.total(EVAL_METRICS.sessionsFailed, "backend_error")).toBe(1);
    expect(failed.total(EVAL_METRICS.sessionsFailed, "not_configured")).toBe(1);
    expect(failed.total(EVAL_METRICS.sessionsJudged)).toBe(0);
  });

  it("log each session's outcome with its message id and its judge run", async () => {
    const handle = createJudgeRecordHandler(world(answering(verdict), new RecordingMetrics()), {
      maxReceiveCount: 3,
    });
    const body = JSON.stringify({ run_id: "run-1", session_id: "s1" });
    const lines = await capturedLogLines(() => handle(sqsRecord(body, { messageId: "msg-judge-1" })));
    const judged = lines.find((line) => line.includes("session judged"));
    expect(judged).toContain("correlation_id=msg-judge-1");
    expect(judged).toContain("judge_run_id=run-1");
    expect(judged).toContain("session_id=s1");
  });
});

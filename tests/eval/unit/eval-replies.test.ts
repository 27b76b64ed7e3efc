import { describe, expect, it } from "vitest";
import {
  EvalStatsReply,
  JudgeRunReply,
  LegacySessionRowReply,
  OverviewRowReply,
  SessionDetailReply,
} from "../../../lib/eval/domain/eval-replies.ts";
import {
  type Evaluation,
  evaluationSummary,
  legacySessionRow,
  overviewRow,
} from "../../../lib/eval/domain/eval-session.ts";
import { weeklyStats } from "../../../lib/eval/domain/eval-stats.ts";
import { type JudgeRun, judgeRunView } from "../../../lib/eval/domain/judge-run.ts";
import { CURRENT_VERSIONS, type JudgeScores } from "../../../lib/eval/domain/rubric.ts";

/** The reply schemas the contract and the web UI use describe what the domain builds. */

const scores: JudgeScores = {
  task_complexity: 40,
  goal_completion: 80.5,
  tool_usage_quality: 70,
  efficiency: 60,
  communication: 90,
  subagent_orchestration: null,
  self_extension: null,
};

const evaluation: Evaluation = {
  ...CURRENT_VERSIONS,
  session_id: "s1",
  run_id: "r1",
  evaluated_at: "2026-10-06T10:00:00.000Z",
  model: "m",
  backend: "openai",
  scores,
  experts: [{ expert: "task_analyst", scores, comment: "fine" }],
};

const summary = {
  id: "s1",
  profile_id: "p",
  name: "n",
  created_at: "2026-10-01T09:00:00.000Z",
  last_active: "2026-10-01T09:06:00.000Z",
  pinned: true,
  message_count: 2,
  likes: 1,
  dislikes: 0,
  latest_evaluation: evaluationSummary(evaluation),
  last_failure: { run_id: "r0", at: "2026-10-05T00:00:00.000Z", error: "timeout" },
  version: 3,
};

const run: JudgeRun = {
  ...CURRENT_VERSIONS,
  id: "r1",
  scope: "unevaluated",
  session_id: null,
  since: null,
  limit: 500,
  model: "m",
  backend: "openai",
  candidates_from_dislikes: false,
  total: 2,
  done: 1,
  failed: 0,
  created_at: "2026-10-06T10:00:00.000Z",
  created_by: "me",
  completed_at: null,
};

describe("eval reply schemas", () => {
  it("accept the rows, details, runs and stats the domain builds", () => {
    const row = overviewRow(summary);
    expect(OverviewRowReply.parse(row).status).toBe("evaluated");
    const legacy = legacySessionRow(row);
    expect(LegacySessionRowReply.parse(legacy).latest_avg?.goal_completion).toBe(81);
    const detail = SessionDetailReply.parse({
      ...legacy,
      messages: [
        { role: "user", content: "hi" },
        { role: "assistant", content: "hello", model: "m1" },
      ],
      feedback: [
        {
          session_id: "s1",
          message_index: 1,
          rating: -1,
          comment: null,
          rater: "u",
          created_at: "x",
          updated_at: "x",
        },
      ],
      evaluations: [evaluation],
    });
    expect(detail.messages[1]).toMatchObject({ model: "m1" });

    const view = judgeRunView(run, [
      { session_id: "s1", status: "done", scores, finished_at: "2026-10-06T10:01:00.000Z" },
      { session_id: "s2", status: "running", started_at: "2026-10-06T10:00:30.000Z" },
    ]);
    const parsed = JudgeRunReply.parse(view);
    expect(parsed.sessions?.map((s) => s.state)).toEqual(["ok", "running"]);
    expect(JudgeRunReply.parse(judgeRunView(run)).sessions).toBeUndefined();

    const stats = weeklyStats([{ last_active: "2026-10-01T09:06:00.000Z", scores }], {
      days: 30,
      since: "2026-09-22T00:00:00.000Z",
      byComplexityBucket: true,
      versions: CURRENT_VERSIONS,
    });
    expect(EvalStatsReply.parse(stats).weeks[0]?.buckets?.["26-50"]?.sessions).toBe(1);
  });

  it("refuse a row whose status or scores are not the API's", () => {
    const row = overviewRow(summary);
    expect(OverviewRowReply.safeParse({ ...row, status: "done" }).success).toBe(false);
    expect(
      OverviewRowReply.safeParse({
        ...row,
        latest_evaluation: { ...row.latest_evaluation, scores: { goal_completion: 1 } },
      }).success,
    ).toBe(false);
  });
});

import { vi } from "vitest";
import type { ReviewApi } from "../../web/src/api.ts";
import type {
  AxisScoresReply,
  EvalStatsReply,
  EvaluationReply,
  JudgeRunReply,
  OverviewRowReply,
  SessionDetailReply,
} from "../../web/src/eval-api.ts";

export const scores = (goal: number, extra: Partial<AxisScoresReply> = {}): AxisScoresReply => ({
  task_complexity: 40,
  goal_completion: goal,
  tool_usage_quality: 70,
  efficiency: 60,
  communication: 90,
  subagent_orchestration: null,
  self_extension: null,
  ...extra,
});

const versions = { judge_version: "judge-1", rubric_version: "rubric-2" };

export function row(id: string, overrides: Partial<OverviewRowReply> = {}): OverviewRowReply {
  return {
    id,
    profile_id: "support-bot",
    name: `Session ${id}`,
    created_at: "2026-10-01T09:00:00.000Z",
    last_active: "2026-10-01T09:06:00.000Z",
    pinned: false,
    message_count: 4,
    likes: 0,
    dislikes: 2,
    status: "pending",
    latest_evaluation: null,
    last_failure: null,
    ...overrides,
  };
}

export const evaluation: EvaluationReply = {
  ...versions,
  session_id: "sess-001",
  run_id: "run-1",
  evaluated_at: "2026-10-06T10:00:00.000Z",
  model: "good",
  backend: "openai",
  scores: scores(80),
  experts: [
    { expert: "task_analyst", scores: scores(70), comment: "The task was simple and refused." },
    {
      expert: "communication_reviewer",
      scores: scores(90, { self_extension: 50 }),
      comment: "Polite but unhelpful.",
    },
  ],
};

export function detail(overrides: Partial<SessionDetailReply> = {}): SessionDetailReply {
  const base = row("sess-001", { name: "Refund question", dislikes: 2 });
  return {
    ...base,
    session_id: base.id,
    msg_count: base.message_count,
    eval_status: base.status,
    latest_avg: null,
    latest_eval_date: null,
    latest_judge_version: null,
    latest_rubric_version: null,
    messages: [
      { role: "user", content: "I was charged twice. Can I get a refund?" },
      { role: "assistant", content: "I can't help with billing.", model: "chat-7b" },
      { role: "user", content: "Who can then?" },
      { role: "assistant", content: "Please contact support." },
    ],
    feedback: [
      {
        session_id: "sess-001",
        message_index: 1,
        rating: -1,
        comment: "refused a task it can do",
        rater: "user-17",
        sent_by: "chat-product",
        created_at: "2026-10-01T09:07:00.000Z",
        updated_at: "2026-10-01T09:07:00.000Z",
      },
      {
        session_id: "sess-001",
        message_index: 3,
        rating: -1,
        comment: null,
        rater: "local-reviewer",
        created_at: "2026-10-01T09:08:00.000Z",
        updated_at: "2026-10-01T09:08:00.000Z",
      },
    ],
    evaluations: [evaluation],
    ...overrides,
  };
}

export function run(overrides: Partial<JudgeRunReply> = {}): JudgeRunReply {
  return {
    run_id: "run-1",
    state: "running",
    started_at: "2026-10-06T10:00:00.000Z",
    finished_at: null,
    judge_model: "good",
    ...versions,
    id: "run-1",
    scope: "unevaluated",
    session_id: null,
    since: null,
    limit: 500,
    model: "good",
    backend: "openai",
    candidates_from_dislikes: false,
    total: 2,
    done: 0,
    failed: 0,
    created_at: "2026-10-06T10:00:00.000Z",
    created_by: "local-reviewer",
    completed_at: null,
    status: "running",
    counts: { pending: 2, running: 0, done: 0, failed: 0 },
    ...overrides,
  };
}

const means = (goal: number, sessions: number) => ({
  sessions,
  means: scores(goal),
  samples: {
    task_complexity: sessions,
    goal_completion: sessions,
    tool_usage_quality: sessions,
    efficiency: sessions,
    communication: sessions,
    subagent_orchestration: 0,
    self_extension: 0,
  },
});

const emptyMeans = {
  sessions: 0,
  means: {
    task_complexity: null,
    goal_completion: null,
    tool_usage_quality: null,
    efficiency: null,
    communication: null,
    subagent_orchestration: null,
    self_extension: null,
  },
  samples: {
    task_complexity: 0,
    goal_completion: 0,
    tool_usage_quality: 0,
    efficiency: 0,
    communication: 0,
    subagent_orchestration: 0,
    self_extension: 0,
  },
};

/** Two weeks: both have sessions overall; the 26–50 bucket only has the second. */
export const stats: EvalStatsReply = {
  ...versions,
  days: 90,
  since: "2026-09-07T00:00:00.000Z",
  by_complexity_bucket: true,
  weeks: [
    {
      week_start: "2026-09-28",
      ...means(60, 2),
      buckets: { "0-25": means(60, 2), "26-50": emptyMeans, "51-75": emptyMeans, "76+": emptyMeans },
    },
    {
      week_start: "2026-10-05",
      ...means(80, 1),
      buckets: { "0-25": emptyMeans, "26-50": means(80, 1), "51-75": emptyMeans, "76+": emptyMeans },
    },
  ],
};

/** A review API whose eval part is a set of spies with these answers. */
export function fakeEvalApi(answers: Partial<Record<keyof ReviewApi["eval"], unknown>> = {}) {
  const answer = (name: keyof ReviewApi["eval"], fallback: unknown) =>
    vi.fn(async (..._args: unknown[]) => {
      const value = name in answers ? answers[name] : fallback;
      if (value instanceof Error) throw value;
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown)(..._args) : value;
    });
  const evalApi = {
    sessions: answer("sessions", { sessions: [], limit: 25, offset: 0, has_more: false, ...versions }),
    session: answer("session", detail()),
    makeCandidate: answer("makeCandidate", { id: "eval-abc", status: "needs_review", created: true }),
    profiles: answer("profiles", { profiles: [] }),
    startRun: answer("startRun", run()),
    run: answer("run", run()),
    runs: answer("runs", { runs: [] }),
    stats: answer("stats", stats),
  };
  return { api: { eval: evalApi } as unknown as ReviewApi, eval: evalApi };
}

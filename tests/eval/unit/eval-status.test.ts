import { describe, expect, it } from "vitest";
import { evalSessionSortKey, evalVersionsKey } from "../../../lib/common/adapters/table-keys.ts";
import { mergeDescending } from "../../../lib/eval/adapters/eval-session-index.ts";
import {
  evaluationStatus,
  feedbackCountDelta,
  overviewRow,
  SessionInput,
  type SessionSummary,
} from "../../../lib/eval/domain/eval-session.ts";
import { JudgeRunRequest } from "../../../lib/eval/domain/judge-run.ts";
import { CURRENT_VERSIONS, JUDGE_VERSION, RUBRIC_VERSION } from "../../../lib/eval/domain/rubric.ts";

const scores = {
  task_complexity: 40,
  goal_completion: 80,
  tool_usage_quality: 70,
  efficiency: 60,
  communication: 90,
  subagent_orchestration: null,
  self_extension: null,
};

const summary = (latest: { judge_version: string; rubric_version: string } | null): SessionSummary => ({
  id: "s1",
  profile_id: "support-bot",
  name: "Refund",
  created_at: "2026-10-01T09:00:00.000Z",
  last_active: "2026-10-01T09:06:00.000Z",
  pinned: false,
  message_count: 4,
  likes: 1,
  dislikes: 2,
  latest_evaluation: latest && {
    ...latest,
    run_id: "r1",
    evaluated_at: "2026-10-02T00:00:00.000Z",
    model: "m",
    backend: "openai",
    scores,
  },
  last_failure: null,
  version: 3,
});

describe("evaluation status", () => {
  it("is pending before any evaluation", () => {
    expect(evaluationStatus(null)).toBe("pending");
    expect(evaluationStatus(undefined)).toBe("pending");
  });

  it("is evaluated when the latest evaluation used the current judge and rubric", () => {
    expect(evaluationStatus({ judge_version: JUDGE_VERSION, rubric_version: RUBRIC_VERSION })).toBe(
      "evaluated",
    );
  });

  it("turns stale when the rubric version is bumped, and when the judge version is", () => {
    const latest = { ...CURRENT_VERSIONS };
    expect(evaluationStatus(latest, { ...CURRENT_VERSIONS, rubric_version: `${RUBRIC_VERSION}.1` })).toBe(
      "stale",
    );
    expect(evaluationStatus(latest, { ...CURRENT_VERSIONS, judge_version: `${JUDGE_VERSION}.1` })).toBe(
      "stale",
    );
    expect(evaluationStatus(latest, CURRENT_VERSIONS)).toBe("evaluated");
  });

  it("shows the status in the overview row and leaves the storage version out", () => {
    const row = overviewRow(summary(CURRENT_VERSIONS));
    expect(row).toMatchObject({ id: "s1", status: "evaluated", likes: 1, dislikes: 2, message_count: 4 });
    expect(row).not.toHaveProperty("version");
    expect(
      overviewRow(summary(CURRENT_VERSIONS), { ...CURRENT_VERSIONS, rubric_version: "next" }).status,
    ).toBe("stale");
    expect(overviewRow(summary(null)).status).toBe("pending");
  });

  it("puts sessions in partitions by the versions they were evaluated with", () => {
    expect(evalVersionsKey(null)).toBe("pending");
    expect(evalVersionsKey(CURRENT_VERSIONS)).not.toBe(
      evalVersionsKey({ ...CURRENT_VERSIONS, rubric_version: "x" }),
    );
  });
});

describe("overview order", () => {
  it("sorts pinned first, then the most recent activity, when keys are read in descending order", () => {
    const sessions = [
      { id: "a", pinned: false, last_active: "2026-10-05T00:00:00.000Z" },
      { id: "b", pinned: true, last_active: "2026-09-01T00:00:00.000Z" },
      { id: "c", pinned: false, last_active: "2026-10-06T00:00:00.000Z" },
      { id: "d", pinned: true, last_active: "2026-09-02T00:00:00.000Z" },
    ];
    const order = sessions
      .map(evalSessionSortKey)
      .sort()
      .reverse()
      .map((key) => key.split("#").at(-1));
    expect(order).toEqual(["d", "b", "c", "a"]);
  });

  it("merges descending streams with offset and limit, reading only as far as needed", async () => {
    let reads = 0;
    async function* stream(values: string[]) {
      for (const value of values) {
        reads++;
        yield value;
      }
    }
    const merged = await mergeDescending(
      [stream(["9", "6", "3"]), stream(["8", "5", "2"]), stream(["7", "4", "1"])],
      (value) => value,
      2,
      3,
    );
    expect(merged).toEqual({ items: ["7", "6", "5"], hasMore: true });
    expect(reads).toBeLessThan(9);
    expect(await mergeDescending([stream(["2"]), stream(["1"])], (v) => v, 0, 5)).toEqual({
      items: ["2", "1"],
      hasMore: false,
    });
  });
});

describe("feedback counts", () => {
  it("moves likes and dislikes by what changed", () => {
    expect(feedbackCountDelta(null, 1)).toEqual({ likes: 1, dislikes: 0 });
    expect(feedbackCountDelta(null, -1)).toEqual({ likes: 0, dislikes: 1 });
    expect(feedbackCountDelta(1, -1)).toEqual({ likes: -1, dislikes: 1 });
    expect(feedbackCountDelta(-1, -1)).toEqual({ likes: 0, dislikes: 0 });
  });
});

describe("request schemas", () => {
  it("refuses scope=session without session_id, naming the field", () => {
    const parsed = JudgeRunRequest.safeParse({ scope: "session", model: "m" });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues).toEqual([expect.objectContaining({ path: ["session_id"] })]);
    expect(JudgeRunRequest.parse({ scope: "session", session_id: "s", model: "m" })).toMatchObject({
      limit: 500,
      candidates_from_dislikes: false,
    });
  });

  it("takes {} as the session eval API did: scope unevaluated, model and backend left to the deployment", () => {
    expect(JudgeRunRequest.parse({})).toEqual({
      scope: "unevaluated",
      limit: 500,
      candidates_from_dislikes: false,
    });
    expect(JudgeRunRequest.parse({ backend: "ollama" })).toMatchObject({ backend: "ollama" });
    expect(JudgeRunRequest.safeParse({ backend: "gemini" }).success).toBe(false);
    expect(JudgeRunRequest.safeParse({ model: " " }).success).toBe(false);
  });

  it("normalises session times to UTC and defaults last_active to created_at", () => {
    const session = SessionInput.parse({
      id: "s",
      profile_id: "p",
      created_at: "2026-10-01T11:00:00+02:00",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(session).toMatchObject({
      created_at: "2026-10-01T09:00:00.000Z",
      last_active: "2026-10-01T09:00:00.000Z",
      pinned: false,
      name: "",
    });
  });

  it.each([
    ['"constructor": {"name": "Map"}', "messages.0"],
    ['"meta": {"": 1}', "messages.0.meta"],
    ['"n": 1e16', "messages.0.n"],
    [`"deep": ${"[".repeat(40)}${"]".repeat(40)}`, "messages.0.deep"],
  ])("refuses a message holding %s, which the store cannot hold, naming where", (field, where) => {
    const parsed = SessionInput.safeParse(
      JSON.parse(
        `{"id": "s", "profile_id": "p", "created_at": "2026-10-01T09:00:00Z", "messages": [{"role": "user", "content": "hi", ${field}}]}`,
      ),
    );
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path.join("."))[0]).toMatch(new RegExp(`^${where}`));
  });
});

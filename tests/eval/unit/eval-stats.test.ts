import { describe, expect, it } from "vitest";
import {
  COMPLEXITY_BUCKETS,
  complexityBucket,
  StatsQuery,
  type StatsSample,
  weeklyStats,
  weekStart,
} from "../../../lib/eval/domain/eval-stats.ts";
import { AXES, type AxisScores, CURRENT_VERSIONS } from "../../../lib/eval/domain/rubric.ts";

const scores = (taskComplexity: number, goal: number, extra: Partial<AxisScores> = {}): AxisScores => ({
  task_complexity: taskComplexity,
  goal_completion: goal,
  tool_usage_quality: 50,
  efficiency: 50,
  communication: 50,
  subagent_orchestration: null,
  self_extension: null,
  ...extra,
});

const options = (byComplexityBucket: boolean) => ({
  days: 30,
  since: "2026-09-22T00:00:00.000Z",
  byComplexityBucket,
  versions: CURRENT_VERSIONS,
});

describe("weeks and buckets", () => {
  it("starts weeks on Monday, UTC", () => {
    expect(weekStart("2026-10-01T09:00:00Z")).toBe("2026-09-28"); // a Thursday
    expect(weekStart("2026-10-04T23:59:59Z")).toBe("2026-09-28"); // Sunday
    expect(weekStart("2026-10-05T00:00:00Z")).toBe("2026-10-05"); // Monday
    expect(weekStart("2026-01-01T00:00:00Z")).toBe("2025-12-29"); // across a year
  });

  it("buckets task complexity at 25, 50 and 75 inclusive", () => {
    expect([0, 25, 25.5, 26, 50, 51, 75, 75.1, 76, 100].map(complexityBucket)).toEqual([
      "0-25",
      "0-25",
      "26-50",
      "26-50",
      "26-50",
      "51-75",
      "51-75",
      "76+",
      "76+",
      "76+",
    ]);
  });

  it("reads days and the bucket flag from the query, an empty flag as false", () => {
    expect(StatsQuery.parse({})).toEqual({ days: 30, by_complexity_bucket: false });
    expect(StatsQuery.parse({ days: "7", by_complexity_bucket: "" })).toEqual({
      days: 7,
      by_complexity_bucket: false,
    });
    expect(StatsQuery.parse({ by_complexity_bucket: "true" }).by_complexity_bucket).toBe(true);
    expect(StatsQuery.safeParse({ days: "0" }).success).toBe(false);
    expect(StatsQuery.safeParse({ days: "366" }).success).toBe(false);
  });
});

describe("weekly stats", () => {
  // Week of 2026-09-28: complexities 10, 30, 60 (goal 90, 60, 30); week of 2026-10-05: 80 and 20.
  const samples: StatsSample[] = [
    { last_active: "2026-09-29T10:00:00.000Z", scores: scores(10, 90) },
    { last_active: "2026-10-01T10:00:00.000Z", scores: scores(30, 60, { subagent_orchestration: 40 }) },
    { last_active: "2026-10-04T10:00:00.000Z", scores: scores(60, 30) },
    { last_active: "2026-10-05T10:00:00.000Z", scores: scores(80, 100, { self_extension: 70 }) },
    { last_active: "2026-10-07T10:00:00.000Z", scores: scores(20, 50) },
  ];

  it("averages each axis per week over the sessions that have it, with sample counts", () => {
    const stats = weeklyStats(samples, options(false));
    expect(stats.weeks.map((w) => w.week_start)).toEqual(["2026-09-28", "2026-10-05"]);
    const [first, second] = stats.weeks;
    expect(first?.sessions).toBe(3);
    expect(first?.means.task_complexity).toBeCloseTo((10 + 30 + 60) / 3, 10);
    expect(first?.means.goal_completion).toBe(60); // (90 + 60 + 30) / 3
    expect(first?.means.subagent_orchestration).toBe(40);
    expect(first?.samples.subagent_orchestration).toBe(1);
    expect(first?.means.self_extension).toBeNull();
    expect(first?.samples.self_extension).toBe(0);
    expect(first?.samples.goal_completion).toBe(3);
    expect(second?.means.task_complexity).toBe(50); // (80 + 20) / 2
    expect(second?.means.goal_completion).toBe(75); // (100 + 50) / 2
    expect(second?.means.self_extension).toBe(70);
    expect(first?.buckets).toBeUndefined();
    expect(stats).toMatchObject({ ...CURRENT_VERSIONS, days: 30, by_complexity_bucket: false });
  });

  it("splits each week by complexity bucket when asked, listing empty buckets", () => {
    const stats = weeklyStats(samples, options(true));
    const [first, second] = stats.weeks;
    expect(Object.keys(first?.buckets ?? {})).toEqual([...COMPLEXITY_BUCKETS]);
    expect(first?.buckets?.["0-25"]).toMatchObject({ sessions: 1, means: { goal_completion: 90 } });
    expect(first?.buckets?.["26-50"]).toMatchObject({ sessions: 1, means: { goal_completion: 60 } });
    expect(first?.buckets?.["51-75"]).toMatchObject({ sessions: 1, means: { goal_completion: 30 } });
    expect(first?.buckets?.["76+"]?.sessions).toBe(0);
    expect(first?.buckets?.["76+"]?.means.goal_completion).toBeNull();
    expect(second?.buckets?.["76+"]).toMatchObject({ sessions: 1, means: { goal_completion: 100 } });
    expect(second?.buckets?.["0-25"]).toMatchObject({ sessions: 1, means: { goal_completion: 50 } });
    for (const axis of AXES) expect(second?.samples[axis]).toBeLessThanOrEqual(2);
  });

  it("has no weeks without samples", () => {
    expect(weeklyStats([], options(true)).weeks).toEqual([]);
  });
});

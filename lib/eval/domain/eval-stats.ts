import * as z from "zod";
import { AXES, type Axis, type AxisScores, type JudgeVersions } from "./rubric.ts";

/**
 * `GET /api/eval/stats?days=&by_complexity_bucket=` (an empty flag reads as false); `days`
 * defaults to 30, as the session eval API's did.
 */
export const StatsQuery = z.object({
  days: z.coerce.number().int().min(1).max(365).default(30),
  by_complexity_bucket: z.preprocess(
    (value) => (value === "" ? undefined : value),
    z.stringbool().default(false),
  ),
});
export type StatsQuery = z.infer<typeof StatsQuery>;

export const COMPLEXITY_BUCKETS = ["0-25", "26-50", "51-75", "76+"] as const;
export type ComplexityBucket = (typeof COMPLEXITY_BUCKETS)[number];

/** The bucket of a task-complexity score (a mean over experts, so possibly fractional). */
export function complexityBucket(taskComplexity: number): ComplexityBucket {
  if (taskComplexity <= 25) return "0-25";
  if (taskComplexity <= 50) return "26-50";
  if (taskComplexity <= 75) return "51-75";
  return "76+";
}

/** The Monday (UTC) that starts the ISO week of `instant`, as `YYYY-MM-DD`. */
export function weekStart(instant: string): string {
  const date = new Date(instant);
  const daysSinceMonday = (date.getUTCDay() + 6) % 7;
  const monday = new Date(
    Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate() - daysSinceMonday),
  );
  return monday.toISOString().slice(0, 10);
}

/** One session's latest evaluation under the current versions, dated by the session's activity. */
export interface StatsSample {
  readonly last_active: string;
  readonly scores: AxisScores;
}

export interface AxisMeans {
  readonly sessions: number;
  /** Mean per axis over the sessions that have a score on it; `null` when none has. */
  readonly means: Record<Axis, number | null>;
  /** How many sessions each mean is over. */
  readonly samples: Record<Axis, number>;
}

export interface WeekStats extends AxisMeans {
  readonly week_start: string;
  readonly buckets?: Record<ComplexityBucket, AxisMeans>;
}

export interface EvalStats extends JudgeVersions {
  readonly days: number;
  readonly since: string;
  readonly by_complexity_bucket: boolean;
  readonly weeks: WeekStats[];
}

function axisMeans(samples: readonly StatsSample[]): AxisMeans {
  const means = {} as Record<Axis, number | null>;
  const counts = {} as Record<Axis, number>;
  for (const axis of AXES) {
    const values = samples.map((s) => s.scores[axis]).filter((v): v is number => typeof v === "number");
    counts[axis] = values.length;
    means[axis] = values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
  }
  return { sessions: samples.length, means, samples: counts };
}

/**
 * Weekly per-axis means, oldest week first; only weeks with at least one session appear. With
 * `byComplexityBucket` each week also splits its sessions by task-complexity bucket (all four
 * buckets listed, empty ones with null means).
 */
export function weeklyStats(
  samples: readonly StatsSample[],
  options: { days: number; since: string; byComplexityBucket: boolean; versions: JudgeVersions },
): EvalStats {
  const byWeek = new Map<string, StatsSample[]>();
  for (const sample of samples) {
    const week = weekStart(sample.last_active);
    byWeek.set(week, [...(byWeek.get(week) ?? []), sample]);
  }
  const weeks = [...byWeek.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([week_start, inWeek]): WeekStats => {
      const week: WeekStats = { week_start, ...axisMeans(inWeek) };
      if (!options.byComplexityBucket) return week;
      const buckets = Object.fromEntries(
        COMPLEXITY_BUCKETS.map((bucket) => [
          bucket,
          axisMeans(
            inWeek.filter(
              (s) =>
                s.scores.task_complexity !== null && complexityBucket(s.scores.task_complexity) === bucket,
            ),
          ),
        ]),
      ) as Record<ComplexityBucket, AxisMeans>;
      return { ...week, buckets };
    });
  return {
    ...options.versions,
    days: options.days,
    since: options.since,
    by_complexity_bucket: options.byComplexityBucket,
    weeks,
  };
}

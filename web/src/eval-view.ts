import type { ComplexityBucket } from "../../lib/eval/domain/eval-stats.ts";
import type { Axis } from "../../lib/eval/domain/rubric.ts";
import type {
  AxisScoresReply,
  EvalApi,
  EvalStatsReply,
  EvalStatus,
  FeedbackReply,
  JudgeRunReply,
  SessionDetailReply,
} from "./eval-api.ts";

export type { Axis, ComplexityBucket };

/**
 * The axes as a reader sees them, in the rubric's order. A `Record` over the API's own axis type,
 * so an axis added to the rubric fails the type check until it is named here.
 */
export const AXIS_LABELS: Readonly<Record<Axis, string>> = {
  task_complexity: "Task complexity",
  goal_completion: "Goal completion",
  tool_usage_quality: "Tool usage",
  efficiency: "Efficiency",
  communication: "Communication",
  subagent_orchestration: "Sub-agent orchestration",
  self_extension: "Self-extension",
};
export const AXES = Object.keys(AXIS_LABELS) as Axis[];

export const BUCKET_LABELS: Readonly<Record<ComplexityBucket, string>> = {
  "0-25": "Complexity 0–25",
  "26-50": "Complexity 26–50",
  "51-75": "Complexity 51–75",
  "76+": "Complexity 76+",
};
export const BUCKETS = Object.keys(BUCKET_LABELS) as ComplexityBucket[];

export const STATUS_LABELS: Readonly<Record<EvalStatus, string>> = {
  evaluated: "Evaluated",
  pending: "Not evaluated",
  stale: "Stale (older judge or rubric)",
};
export const STATUSES = Object.keys(STATUS_LABELS) as EvalStatus[];

export const isStatus = (value: unknown): value is EvalStatus =>
  typeof value === "string" && (STATUSES as string[]).includes(value);
export const isBucket = (value: unknown): value is ComplexityBucket =>
  typeof value === "string" && (BUCKETS as string[]).includes(value);

/** A score as shown: whole numbers as they are, means to one decimal, `—` for none. */
export function formatScore(value: number | null | undefined): string {
  if (typeof value !== "number" || !Number.isFinite(value)) return "—";
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** The axes that carry a score, in order: optional axes a session was not scored on are left out. */
export function scoredAxes(scores: AxisScoresReply | null | undefined): Axis[] {
  if (!scores) return [];
  return AXES.filter((axis) => typeof scores[axis] === "number");
}

/** One message of a session's transcript with the likes, dislikes and comments it got. */
export interface TranscriptEntry {
  readonly index: number;
  readonly role: string;
  readonly content: string;
  readonly model: string | null;
  readonly likes: number;
  readonly dislikes: number;
  readonly ratings: readonly FeedbackReply[];
  /** Only an assistant's answer can become a review candidate. */
  readonly canBecomeCandidate: boolean;
}

export function transcriptOf(detail: Pick<SessionDetailReply, "messages" | "feedback">): TranscriptEntry[] {
  return detail.messages.map((message, index) => {
    const ratings = detail.feedback.filter((f) => f.message_index === index);
    const model = (message as { model?: unknown }).model;
    return {
      index,
      role: message.role,
      content: message.content,
      model: typeof model === "string" && model ? model : null,
      likes: ratings.filter((r) => r.rating === 1).length,
      dislikes: ratings.filter((r) => r.rating === -1).length,
      ratings,
      canBecomeCandidate: message.role === "assistant",
    };
  });
}

/** Who rated: the product's end user, and the client that sent it when that is someone else. */
export function raterOf(feedback: Pick<FeedbackReply, "rater" | "sent_by">): string {
  return feedback.sent_by && feedback.sent_by !== feedback.rater
    ? `${feedback.rater} (via ${feedback.sent_by})`
    : feedback.rater;
}

export interface TrendSeries {
  readonly axis: Axis;
  readonly label: string;
  /** One value per week of `weeks`; `null` where the week has no score on this axis. */
  readonly values: readonly (number | null)[];
  /** How many sessions each value is the mean of. */
  readonly samples: readonly number[];
}

export interface Trend {
  /** Week starts (Mondays, `YYYY-MM-DD`), oldest first. */
  readonly weeks: readonly string[];
  readonly series: readonly TrendSeries[];
  /** Sessions behind each week (in the bucket, when one is chosen). */
  readonly sessions: readonly number[];
}

/**
 * The weekly means per axis, overall or for one complexity bucket. Weeks where the bucket has no
 * session are left out; an axis with no score in any week is left out.
 */
export function trendOf(stats: EvalStatsReply, bucket: ComplexityBucket | null = null): Trend {
  const weeks = stats.weeks
    .map((week) => ({ week_start: week.week_start, means: bucket ? week.buckets?.[bucket] : week }))
    .filter((week) => week.means && week.means.sessions > 0);
  const series = AXES.map((axis) => ({
    axis,
    label: AXIS_LABELS[axis],
    values: weeks.map((week) => week.means?.means[axis] ?? null),
    samples: weeks.map((week) => week.means?.samples[axis] ?? 0),
  })).filter((s) => s.values.some((value) => value !== null));
  return {
    weeks: weeks.map((week) => week.week_start),
    series,
    sessions: weeks.map((week) => week.means?.sessions ?? 0),
  };
}

export const runFinished = (run: Pick<JudgeRunReply, "status">) => run.status === "completed";

/** `3 of 5 judged, 1 failed, 1 waiting`. */
export function runProgressText(run: Pick<JudgeRunReply, "total" | "counts">): string {
  if (run.total === 0) return "No session to judge";
  const parts = [`${run.counts.done} of ${run.total} judged`];
  if (run.counts.failed > 0) parts.push(`${run.counts.failed} failed`);
  if (run.counts.running > 0) parts.push(`${run.counts.running} in progress`);
  if (run.counts.pending > 0) parts.push(`${run.counts.pending} waiting`);
  return parts.join(", ");
}

export interface RunWatch {
  stop(): void;
  /** Settles when the run is completed, the watch is stopped or a read fails. */
  readonly done: Promise<void>;
}

/**
 * Reads a run every `intervalMs` until it is completed, handing each reading to `onUpdate`. A
 * read that fails is reported to `onError` and tried again at the next tick, up to `maxErrors`
 * in a row; then the watch ends.
 */
export function watchRun(
  api: Pick<EvalApi, "run">,
  id: string,
  handlers: {
    onUpdate: (run: JudgeRunReply) => void;
    onError?: (error: unknown) => void;
    intervalMs?: number;
    maxErrors?: number;
  },
): RunWatch {
  const interval = handlers.intervalMs ?? 1_000;
  const maxErrors = handlers.maxErrors ?? 5;
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  let errors = 0;
  const tick = async () => {
    if (controller.signal.aborted) return;
    try {
      const run = await api.run(id, controller.signal);
      if (controller.signal.aborted) return;
      errors = 0;
      handlers.onUpdate(run);
      if (runFinished(run)) return finish();
    } catch (error) {
      if (controller.signal.aborted) return;
      handlers.onError?.(error);
      errors += 1;
      if (errors >= maxErrors) return finish();
    }
    timer = setTimeout(tick, interval);
  };
  void tick();
  return {
    stop() {
      controller.abort();
      clearTimeout(timer);
      finish();
    },
    done,
  };
}

/** `2026-10-05T15:40:00.000Z` → `2026-10-05 15:40 UTC`; dates read the same for everyone. */
export function formatInstant(value: string | null | undefined): string {
  if (!value) return "—";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  return `${date.toISOString().slice(0, 16).replace("T", " ")} UTC`;
}

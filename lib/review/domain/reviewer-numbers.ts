import * as z from "zod";
import { ValidationError } from "../../common/domain/errors.ts";
import type { ReviewEvent } from "./review.ts";

/**
 * Reviewer numbers, from the review log (every decision, vote, adjudication and undo a person made,
 * by day; bulk jobs' decisions are left out):
 *
 * - `decisions`: decisions made (a vote is a decision; so is an adjudication);
 * - `active_hours`: the clock hours (UTC) in which the reviewer decided at least once;
 * - `decisions_per_hour`: `decisions / active_hours`, so a break does not count as slow work;
 * - `median_decision_seconds`: the median time from taking the candidate (the start of the lease
 *   `next` gave the reviewer) to deciding it, over decisions made under the reviewer's own lease;
 * - `undos` and `undo_rate`: undos the reviewer made, per decision;
 * - `suggestion_acceptance`: of the reviewer's corrections that started from a suggestion, the
 *   share accepted as suggested (`accepted / (accepted + edited)`), as the stats' acceptance rate.
 */

export const MAX_WINDOW_DAYS = 31;
export const DEFAULT_WINDOW_DAYS = 7;

const isoTime = z.string().datetime({ offset: true });

/** `GET /api/sft/stats/reviewers?from=&to=`: a time window, the last 7 days by default, at most 31. */
export const ReviewerStatsQuery = z.object({ from: isoTime.optional(), to: isoTime.optional() });
export type ReviewerStatsQuery = z.infer<typeof ReviewerStatsQuery>;

/** The window a query asks for, as ISO times; a 422 when it is backwards or longer than 31 days. */
export function windowOf(query: ReviewerStatsQuery, now: Date): { from: string; to: string } {
  const to = query.to ? new Date(query.to) : now;
  const from = query.from ? new Date(query.from) : new Date(to.getTime() - DEFAULT_WINDOW_DAYS * 86_400_000);
  const issue = (msg: string) => new ValidationError([{ loc: ["query", "from"], msg, type: "value_error" }]);
  if (from.getTime() >= to.getTime()) throw issue("from must be before to");
  if (to.getTime() - from.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    throw issue(`the window must be at most ${MAX_WINDOW_DAYS} days`);
  }
  return { from: from.toISOString(), to: to.toISOString() };
}

/** The UTC days (`YYYY-MM-DD`) a window touches: the log's partitions to read. */
export function daysOf(window: { from: string; to: string }): string[] {
  const days: string[] = [];
  const end = window.to.slice(0, 10);
  for (
    let day = new Date(`${window.from.slice(0, 10)}T00:00:00.000Z`);
    ;
    day = new Date(day.getTime() + 86_400_000)
  ) {
    const text = day.toISOString().slice(0, 10);
    days.push(text);
    if (text >= end) break;
  }
  return days;
}

/** A log entry: a history event as written (with the lease's start when the decider held one). */
export type LogEvent = Pick<
  ReviewEvent,
  "action" | "reviewer" | "reviewer_name" | "at" | "bulk_id" | "correction_origin"
> & { readonly lease_started_at?: string | null };

export interface ReviewerNumbers {
  readonly reviewer: string;
  readonly reviewer_name: string | null;
  readonly decisions: number;
  readonly by_action: Record<string, number>;
  readonly active_hours: number;
  readonly decisions_per_hour: number | null;
  readonly median_decision_seconds: number | null;
  /** Decisions whose time from lease to decision is known. */
  readonly timed_decisions: number;
  readonly undos: number;
  readonly undo_rate: number | null;
  readonly suggestions: {
    readonly accepted: number;
    readonly edited: number;
    readonly written: number;
    readonly acceptance: number | null;
  };
}

export interface ReviewerNumbersReport {
  readonly from: string;
  readonly to: string;
  readonly overall: Omit<ReviewerNumbers, "reviewer" | "reviewer_name">;
  readonly reviewers: readonly ReviewerNumbers[];
}

export function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

const round2 = (value: number) => Math.round(value * 100) / 100;
const round4 = (value: number) => Math.round(value * 10_000) / 10_000;

class Tally {
  decisions = 0;
  readonly byAction: Record<string, number> = {};
  readonly hours = new Set<string>();
  readonly durations: number[] = [];
  undos = 0;
  readonly origins = { accepted: 0, edited: 0, written: 0 };

  add(event: LogEvent): void {
    if (event.action === "undo") {
      this.undos++;
      return;
    }
    this.decisions++;
    this.byAction[event.action] = (this.byAction[event.action] ?? 0) + 1;
    // Per reviewer the hours are that reviewer's; overall they are anyone's.
    this.hours.add(event.at.slice(0, 13));
    if (event.lease_started_at) {
      const ms = Date.parse(event.at) - Date.parse(event.lease_started_at);
      if (Number.isFinite(ms) && ms >= 0) this.durations.push(ms / 1000);
    }
    if (event.correction_origin) this.origins[event.correction_origin]++;
  }

  numbers(): Omit<ReviewerNumbers, "reviewer" | "reviewer_name"> {
    const fromSuggestion = this.origins.accepted + this.origins.edited;
    const med = median(this.durations);
    return {
      decisions: this.decisions,
      by_action: this.byAction,
      active_hours: this.hours.size,
      decisions_per_hour: this.hours.size === 0 ? null : round2(this.decisions / this.hours.size),
      median_decision_seconds: med === null ? null : round2(med),
      timed_decisions: this.durations.length,
      undos: this.undos,
      undo_rate: this.decisions === 0 ? null : round4(this.undos / this.decisions),
      suggestions: {
        ...this.origins,
        acceptance: fromSuggestion === 0 ? null : round4(this.origins.accepted / fromSuggestion),
      },
    };
  }
}

/** Reviewer numbers over the log entries of a window (entries outside it are left out). */
export function reviewerNumbers(
  events: readonly LogEvent[],
  window: { from: string; to: string },
): ReviewerNumbersReport {
  const overall = new Tally();
  const tallies = new Map<string, Tally>();
  const names = new Map<string, string>();
  for (const event of events) {
    if (event.bulk_id || event.at < window.from || event.at >= window.to) continue;
    if (event.reviewer_name) names.set(event.reviewer, event.reviewer_name);
    const tally = tallies.get(event.reviewer) ?? new Tally();
    tallies.set(event.reviewer, tally);
    tally.add(event);
    overall.add(event);
  }
  return {
    ...window,
    overall: overall.numbers(),
    reviewers: [...tallies.entries()]
      .map(([reviewer, tally]) => ({
        reviewer,
        reviewer_name: names.get(reviewer) ?? null,
        ...tally.numbers(),
      }))
      .sort((a, b) => b.decisions - a.decisions || a.reviewer.localeCompare(b.reviewer)),
  };
}

import type { Candidate, CandidateStatus } from "./candidate.ts";

/**
 * Stats are kept as counters named `<dimension>#<value>` that move in the same write as the
 * change they count, so reading them never needs a scan.
 */
export type CounterDelta = Record<string, number>;

export const counterName = {
  total: "total",
  status: (status: CandidateStatus) => `status#${status}`,
  model: (model: string) => `model#${model}`,
  taskType: (taskType: string) => `task_type#${taskType}`,
  source: (source: string) => `source#${source}`,
  exportReady: "export_ready",
  /** The review queue (`needs_review`) by dimension, so a filtered queue knows its size without a scan. */
  queued: {
    model: (model: string) => `needs_review#model#${model}`,
    taskType: (taskType: string) => `needs_review#task_type#${taskType}`,
    source: (source: string) => `needs_review#source#${source}`,
  },
} as const;

export const UNKNOWN = "unknown";

/** True when the candidate can go into an SFT export: approved with a non-blank correction. */
export function isExportReady(candidate: Pick<Candidate, "status" | "corrected_response">): boolean {
  return candidate.status === "approved" && (candidate.corrected_response ?? "").trim() !== "";
}

/** The fields of a candidate that its counters depend on. */
export type CountedCandidate = Pick<Candidate, "status" | "corrected_response" | "task_type" | "provenance">;

/** The counters that depend on the candidate's review state: they move on every transition. */
export function reviewStateCounters(candidate: CountedCandidate): CounterDelta {
  const delta: CounterDelta = { [counterName.status(candidate.status)]: 1 };
  if (isExportReady(candidate)) delta[counterName.exportReady] = 1;
  if (candidate.status === "needs_review") {
    delta[counterName.queued.model(candidate.provenance.model ?? UNKNOWN)] = 1;
    delta[counterName.queued.taskType(candidate.task_type ?? UNKNOWN)] = 1;
    delta[counterName.queued.source(candidate.provenance.source)] = 1;
  }
  return delta;
}

/** What storing `candidate` as a new record adds to the counters. */
export function deltaForNew(candidate: Candidate): CounterDelta {
  const delta: CounterDelta = {};
  const add = (name: string) => {
    delta[name] = (delta[name] ?? 0) + 1;
  };
  add(counterName.total);
  add(counterName.model(candidate.provenance.model ?? UNKNOWN));
  add(counterName.taskType(candidate.task_type ?? UNKNOWN));
  add(counterName.source(candidate.provenance.source));
  return mergeDeltas([delta, reviewStateCounters(candidate)]);
}

/** What changing a candidate from `before` to `after` does to the counters (zero entries left out). */
export function deltaForChange(before: CountedCandidate, after: CountedCandidate): CounterDelta {
  const removed = Object.fromEntries(Object.entries(reviewStateCounters(before)).map(([n, v]) => [n, -v]));
  return Object.fromEntries(
    Object.entries(mergeDeltas([removed, reviewStateCounters(after)])).filter(([, value]) => value !== 0),
  );
}

export function mergeDeltas(deltas: Iterable<CounterDelta>): CounterDelta {
  const merged: CounterDelta = {};
  for (const delta of deltas) {
    for (const [name, value] of Object.entries(delta)) merged[name] = (merged[name] ?? 0) + value;
  }
  return merged;
}

/** `GET /api/sft/stats`: Avocet's fields, read from the counters alone. */
export interface ReviewStats {
  readonly total: number;
  readonly by_status: Record<string, number>;
  readonly by_model: Record<string, number>;
  readonly by_task_type: Record<string, number>;
  readonly by_source: Record<string, number>;
  readonly export_ready: number;
}

export function reviewStats(counters: CounterDelta, statuses: readonly CandidateStatus[]): ReviewStats {
  const dimension = (prefix: string) =>
    Object.fromEntries(
      Object.entries(counters)
        .filter(([name, value]) => name.startsWith(prefix) && value !== 0)
        .map(([name, value]) => [name.slice(prefix.length), value])
        .sort(([a], [b]) => String(a).localeCompare(String(b))),
    );
  return {
    total: counters[counterName.total] ?? 0,
    by_status: Object.fromEntries(
      statuses.map((status) => [status, counters[counterName.status(status)] ?? 0]),
    ),
    by_model: dimension(counterName.model("")),
    by_task_type: dimension(counterName.taskType("")),
    by_source: dimension(counterName.source("")),
    export_ready: counters[counterName.exportReady] ?? 0,
  };
}

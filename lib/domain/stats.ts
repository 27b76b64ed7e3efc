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
} as const;

export const UNKNOWN = "unknown";

/** True when the candidate can go into an SFT export: approved with a non-blank correction. */
export function isExportReady(candidate: Pick<Candidate, "status" | "corrected_response">): boolean {
  return candidate.status === "approved" && (candidate.corrected_response ?? "").trim() !== "";
}

/** What storing `candidate` as a new record adds to the counters. */
export function deltaForNew(candidate: Candidate): CounterDelta {
  const delta: CounterDelta = {};
  const add = (name: string) => {
    delta[name] = (delta[name] ?? 0) + 1;
  };
  add(counterName.total);
  add(counterName.status(candidate.status));
  add(counterName.model(candidate.provenance.model ?? UNKNOWN));
  add(counterName.taskType(candidate.task_type ?? UNKNOWN));
  add(counterName.source(candidate.provenance.source));
  if (isExportReady(candidate)) add(counterName.exportReady);
  return delta;
}

export function mergeDeltas(deltas: Iterable<CounterDelta>): CounterDelta {
  const merged: CounterDelta = {};
  for (const delta of deltas) {
    for (const [name, value] of Object.entries(delta)) merged[name] = (merged[name] ?? 0) + value;
  }
  return merged;
}

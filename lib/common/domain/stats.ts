import type { CandidateStatus } from "./candidate.ts";
import { validateProvenance } from "./provenance.ts";
import { CORRECTION_ORIGINS, type CorrectionOrigin } from "./vocabulary.ts";

/**
 * Stats are kept as counters named `<dimension>#<value>` that move in the same write as the
 * change they count, so reading them never needs a scan.
 */
export type CounterDelta = Record<string, number>;

/** The longest label (model, task type, source) a counter is named after, in characters. */
export const MAX_COUNTED_LABEL_CHARS = 256;
/** The longest counter name: the longest prefix (`needs_review#task_type#`) and the longest label. */
export const MAX_COUNTER_NAME_CHARS = 32 + MAX_COUNTED_LABEL_CHARS;

export const counterName = {
  total: "total",
  status: (status: CandidateStatus) => `status#${status}`,
  model: (model: string) => `model#${model}`,
  taskType: (taskType: string) => `task_type#${taskType}`,
  source: (source: string) => `source#${source}`,
  exportReady: "export_ready",
  /** Double review: `needs_review` candidates with a vote waiting for the next, and those waiting for an admin. */
  awaitingVotes: "awaiting_votes",
  awaitingAdjudication: "awaiting_adjudication",
  /** Approved candidates by where a reviewer's correction came from (`correction_origin` in provenance). */
  correctionOrigin: (origin: CorrectionOrigin) => `correction_origin#${origin}`,
  /** The review queue (`needs_review`) by dimension, so a filtered queue knows its size without a scan. */
  queued: {
    model: (model: string) => `needs_review#model#${model}`,
    taskType: (taskType: string) => `needs_review#task_type#${taskType}`,
    source: (source: string) => `needs_review#source#${source}`,
  },
  /**
   * Traceability: every record counts once as valid (by the source and model its provenance
   * names) or missing, and once more if its provenance says it was approved or excluded.
   */
  provenance: {
    valid: {
      source: (source: string) => `prov_valid#source#${source}`,
      model: (model: string) => `prov_valid#model#${model}`,
    },
    missing: "prov_missing",
    missingBy: {
      source: (source: string) => `prov_missing#source#${source}`,
      model: (model: string) => `prov_missing#model#${model}`,
    },
    approved: "prov_approved",
    excluded: "prov_excluded",
  },
} as const;

export const UNKNOWN = "unknown";

/**
 * True when the export firewall's record rules let the candidate through an SFT export (the
 * `openai-sft` lines `GET /api/sft/export` delivers): approved, a non-blank correction, a prompt
 * that can open the conversation (`prompt_ready`, judged once when the candidate was stored) and
 * traceable provenance. Records stored before `prompt_ready` existed are taken at their word.
 * Only duplicates are beyond a count of single records: an export keeps the first of two records
 * with the same prompt and correction, and this counts both.
 */
export function isExportReady(
  candidate: CountedCandidate,
  traceable: () => boolean = () => isTraceable(candidate),
): boolean {
  return (
    candidate.status === "approved" &&
    (candidate.corrected_response ?? "").trim() !== "" &&
    candidate.prompt_ready !== false &&
    traceable()
  );
}

/** Whether the candidate's provenance is valid for its status (`validateProvenance`). */
function isTraceable(candidate: CountedCandidate): boolean {
  return validateProvenance({ provenance: candidate.provenance, status: candidate.status }).valid;
}

/**
 * The fields of a candidate that its counters depend on. Provenance is read as stored: a record
 * that arrived without it (or lost it) still counts, under `unknown` and as missing provenance.
 */
export interface CountedCandidate {
  readonly status: CandidateStatus;
  readonly corrected_response?: string | null;
  readonly task_type?: string | null;
  readonly provenance?: unknown;
  /** Whether the prompt can open an SFT example (`sftPromptProblem`); absent on older records. */
  readonly prompt_ready?: boolean;
  /** Double review: votes cast in the current round, and whether the votes disagreed (awaiting an admin). */
  readonly votes?: number | null;
  readonly adjudication?: boolean | null;
}

/** A text field of the stored provenance block, `null` when absent, blank or not text. */
export function provenanceText(
  candidate: Pick<CountedCandidate, "provenance">,
  field: string,
): string | null {
  const { provenance } = candidate;
  if (provenance === null || typeof provenance !== "object") return null;
  const value = (provenance as Record<string, unknown>)[field];
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

/** The source and model a candidate counts under. */
export function countedDimensions(candidate: Pick<CountedCandidate, "provenance">) {
  return {
    source: provenanceText(candidate, "source") ?? UNKNOWN,
    model: provenanceText(candidate, "model") ?? UNKNOWN,
  };
}

/** The counters that depend on the candidate's review state: they move on every transition. */
export function reviewStateCounters(
  candidate: CountedCandidate,
  traceable: () => boolean = () => isTraceable(candidate),
): CounterDelta {
  const delta: CounterDelta = { [counterName.status(candidate.status)]: 1 };
  if (isExportReady(candidate, traceable)) delta[counterName.exportReady] = 1;
  const origin = correctionOriginOf(candidate);
  if (origin) delta[counterName.correctionOrigin(origin)] = 1;
  if (candidate.status === "needs_review") {
    const { source, model } = countedDimensions(candidate);
    delta[counterName.queued.model(model)] = 1;
    delta[counterName.queued.taskType(candidate.task_type ?? UNKNOWN)] = 1;
    delta[counterName.queued.source(source)] = 1;
    if (candidate.adjudication) delta[counterName.awaitingAdjudication] = 1;
    else if ((candidate.votes ?? 0) > 0) delta[counterName.awaitingVotes] = 1;
  }
  return delta;
}

/** Where an approved candidate's correction came from, as its provenance records it; `null` when it does not say. */
export function correctionOriginOf(candidate: CountedCandidate): CorrectionOrigin | null {
  if (candidate.status !== "approved") return null;
  const origin = provenanceText(candidate, "correction_origin");
  return (CORRECTION_ORIGINS as readonly string[]).includes(origin ?? "")
    ? (origin as CorrectionOrigin)
    : null;
}

/** The traceability counters of a candidate: valid or missing provenance, approved, excluded. */
export function provenanceCounters(
  candidate: CountedCandidate,
  traceable: boolean = isTraceable(candidate),
): CounterDelta {
  const { source, model } = countedDimensions(candidate);
  const names = counterName.provenance;
  const delta: CounterDelta = traceable
    ? { [names.valid.source(source)]: 1, [names.valid.model(model)]: 1 }
    : { [names.missing]: 1, [names.missingBy.source(source)]: 1, [names.missingBy.model(model)]: 1 };
  const block = (candidate.provenance ?? {}) as Record<string, unknown>;
  if (block.approved === true) delta[names.approved] = 1;
  if (block.excluded === true) delta[names.excluded] = 1;
  return delta;
}

/** Everything one stored candidate adds to the counters. */
export function countersOf(candidate: CountedCandidate): CounterDelta {
  const { source, model } = countedDimensions(candidate);
  // Provenance is validated once, though both the review-state and the provenance counters need it.
  const traceable = isTraceable(candidate);
  return mergeDeltas([
    {
      [counterName.total]: 1,
      [counterName.model(model)]: 1,
      [counterName.taskType(candidate.task_type ?? UNKNOWN)]: 1,
      [counterName.source(source)]: 1,
    },
    reviewStateCounters(candidate, () => traceable),
    provenanceCounters(candidate, traceable),
  ]);
}

/** What storing `candidate` as a new record adds to the counters. */
export function deltaForNew(candidate: CountedCandidate): CounterDelta {
  return countersOf(candidate);
}

/**
 * What changing a candidate from `before` to `after` does to the counters (zero entries left
 * out): a review transition, or provenance filled in by a backfill.
 */
export function deltaForChange(before: CountedCandidate, after: CountedCandidate): CounterDelta {
  const removed = Object.fromEntries(Object.entries(countersOf(before)).map(([n, v]) => [n, -v]));
  return Object.fromEntries(
    Object.entries(mergeDeltas([removed, countersOf(after)])).filter(([, value]) => value !== 0),
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
  /**
   * Of `by_status.needs_review`, candidates under double review with a vote cast and another
   * awaited, and those whose votes disagreed, awaiting an admin's adjudication.
   */
  readonly awaiting_votes: number;
  readonly awaiting_adjudication: number;
  /**
   * Reviewers' corrections of approved candidates by origin, and the acceptance rate: the share
   * of corrections started from a suggestion that were accepted as suggested (`null` before any).
   */
  readonly suggestions: {
    readonly accepted: number;
    readonly edited: number;
    readonly written: number;
    readonly acceptance_rate: number | null;
  };
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
    awaiting_votes: counters[counterName.awaitingVotes] ?? 0,
    awaiting_adjudication: counters[counterName.awaitingAdjudication] ?? 0,
    suggestions: suggestionStats(counters),
  };
}

function suggestionStats(counters: CounterDelta): ReviewStats["suggestions"] {
  const [accepted, edited, written] = CORRECTION_ORIGINS.map(
    (origin) => counters[counterName.correctionOrigin(origin)] ?? 0,
  ) as [number, number, number];
  const fromSuggestion = accepted + edited;
  return {
    accepted,
    edited,
    written,
    acceptance_rate: fromSuggestion === 0 ? null : Math.round((accepted / fromSuggestion) * 10_000) / 10_000,
  };
}

/** Records of one source or model: how many, how many traceable, and the share in percent. */
export interface ProvenanceCoverage {
  readonly total: number;
  readonly valid: number;
  readonly missing: number;
  readonly coverage: number;
}

/** `GET /api/provenance/report`, read from the counters alone. */
export interface ProvenanceReport {
  readonly total: number;
  readonly valid: number;
  readonly approved: number;
  readonly excluded: number;
  readonly missing_provenance: number;
  /** Percent of all records whose provenance is valid, two decimals; 100 for an empty store. */
  readonly coverage: number;
  readonly by_source: Record<string, ProvenanceCoverage>;
  readonly by_model: Record<string, ProvenanceCoverage>;
}

const percent = (part: number, whole: number) =>
  whole === 0 ? 100 : Math.round((part / whole) * 10_000) / 100;

export function provenanceReport(counters: CounterDelta): ProvenanceReport {
  const names = counterName.provenance;
  const byDimension = (validPrefix: string, missingPrefix: string) => {
    const rows = new Map<string, { valid: number; missing: number }>();
    const add = (prefix: string, kind: "valid" | "missing") => {
      for (const [name, value] of Object.entries(counters)) {
        if (!name.startsWith(prefix) || value === 0) continue;
        const key = name.slice(prefix.length);
        const row = rows.get(key) ?? { valid: 0, missing: 0 };
        row[kind] += value;
        rows.set(key, row);
      }
    };
    add(validPrefix, "valid");
    add(missingPrefix, "missing");
    return Object.fromEntries(
      [...rows.entries()]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, { valid, missing }]): [string, ProvenanceCoverage] => [
          key,
          { total: valid + missing, valid, missing, coverage: percent(valid, valid + missing) },
        ]),
    );
  };
  const by_source = byDimension(names.valid.source(""), names.missingBy.source(""));
  const total = counters[counterName.total] ?? 0;
  const valid = Object.values(by_source).reduce((sum, row) => sum + row.valid, 0);
  return {
    total,
    valid,
    approved: counters[names.approved] ?? 0,
    excluded: counters[names.excluded] ?? 0,
    missing_provenance: counters[names.missing] ?? 0,
    coverage: percent(valid, total),
    by_source,
    by_model: byDimension(names.valid.model(""), names.missingBy.model("")),
  };
}

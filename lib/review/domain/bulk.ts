import * as z from "zod";
import { type CandidateStatus, FailureCategory } from "../../common/domain/candidate.ts";
import type { QueueFilters, QueuePosition } from "./queue.ts";
import { DECISION_TARGET } from "./review.ts";

/**
 * Bulk decisions: discard or flag every waiting candidate under a filter (a broken run, a model)
 * as one job, worked in bounded batches. Each candidate is its own conditional transaction, as a
 * reviewer's decision is, so counters stay exact; one decided or held by someone else meanwhile
 * is skipped and counted. The whole bulk is undone as one action, skipping candidates changed
 * since it decided them.
 */

export const BULK_ACTIONS = ["discard", "flag"] as const;
export const DEFAULT_BULK_BATCH = 100;
export const MAX_BULK_BATCH = 200;

const filterValue = z.string().trim().min(1).max(512).optional();

/** `POST /api/sft/bulk`: what to do, to what (at least one filter), and whether only to count. */
export const BulkRequest = z
  .object({
    action: z.enum(BULK_ACTIONS),
    failure_category: FailureCategory.nullish(),
    model: filterValue,
    task_type: filterValue,
    run_id: filterValue,
    source: filterValue,
    dry_run: z.boolean().default(false),
  })
  .refine((r) => r.model ?? r.task_type ?? r.run_id ?? r.source, {
    message: "a bulk needs at least one filter: model, task_type, run_id or source",
    path: ["run_id"],
  });
export type BulkRequest = z.output<typeof BulkRequest>;

/** `POST /api/sft/bulk/{id}/run` and `/undo`: how many candidates this call works on. */
export const BulkBatch = z.object({
  limit: z.number().int().min(1).max(MAX_BULK_BATCH).default(DEFAULT_BULK_BATCH),
});
export type BulkBatch = z.output<typeof BulkBatch>;

export type BulkState = "running" | "done" | "undoing" | "undone";

/** The index a bulk walks: `run` for the run index, `status` for the status index. */
export type BulkWalk = "run" | "status";

/** The walk of a bulk under `filters`: the run index when they name a run, else the status index. */
export const walkOf = (filters: QueueFilters): BulkWalk => (filters.run_id !== undefined ? "run" : "status");

export interface BulkJob {
  readonly id: string;
  readonly action: (typeof BULK_ACTIONS)[number];
  /** The status the bulk moves candidates to. */
  readonly target: CandidateStatus;
  readonly failure_category: FailureCategory | null;
  readonly filters: QueueFilters;
  readonly created_by: string;
  readonly created_by_name: string;
  readonly created_at: string;
  readonly updated_at: string;
  readonly state: BulkState;
  /** Candidates this bulk decided. */
  readonly decided: number;
  /**
   * Of those, the ones the double-review policy asks more than one review of: decided by the
   * admin past the policy, as provenance and history record (absent on jobs run before it was counted).
   */
  readonly decided_over_policy?: number;
  /** Candidates it found decided, held or changed by someone else, and left alone. */
  readonly skipped: number;
  /** Its decisions taken back by its undo, and those the undo left because they changed since. */
  readonly undone: number;
  readonly undo_skipped: number;
  /**
   * Which index its batches walk: `run` (a bulk with a `run_id` filter) reads the run's
   * candidates in line order from the run index; absent, the status index, oldest first (every
   * bulk without `run_id`, and every job recorded before run walks existed).
   */
  readonly walk?: BulkWalk;
  /**
   * Where the next batch starts: in the queue while running (one position per status-index
   * shard; under a run walk one position, in the run index), among its markers while undoing.
   */
  readonly position: QueuePosition | null;
  readonly undo_position: string | null;
  /** Bumped by every batch; a batch saves only if no other batch saved meanwhile. */
  readonly version: number;
}

export function newBulkJob(
  id: string,
  request: BulkRequest,
  creator: { readonly id: string; readonly name: string },
  at: Date,
): BulkJob {
  const filters: Record<string, string> = {};
  for (const name of ["model", "task_type", "run_id", "source"] as const) {
    const value = request[name];
    if (value !== undefined) filters[name] = value;
  }
  const time = at.toISOString();
  return {
    id,
    action: request.action,
    target: DECISION_TARGET[request.action],
    failure_category: request.failure_category ?? null,
    filters,
    walk: walkOf(filters),
    created_by: creator.id,
    created_by_name: creator.name,
    created_at: time,
    updated_at: time,
    state: "running",
    decided: 0,
    decided_over_policy: 0,
    skipped: 0,
    undone: 0,
    undo_skipped: 0,
    position: null,
    undo_position: null,
    version: 1,
  };
}

import { TimeLimitError } from "../../common/domain/errors.ts";
import {
  COUNTED_ATTRIBUTES,
  type CounterDifference,
  CounterTally,
  counterDifferences,
  RECOUNT_NOTE,
  type RecountReport,
  type RecountRequest,
  type RepairOutcome,
} from "../domain/recount.ts";
import type { CandidateScanner, CounterStore } from "../ports.ts";

export interface RecountDeps {
  readonly candidates: CandidateScanner;
  readonly counters: CounterStore;
  /** Milliseconds, for durations and the time budget. */
  readonly now?: () => number;
  /**
   * Stops the scan with a `TimeLimitError` once it has run this long (an API request's limit);
   * no limit when absent.
   */
  readonly timeBudgetMs?: number;
  /** Reads and tries again this many times when a counter's shards change under a repair. */
  readonly repairAttempts?: number;
}

const DEFAULT_REPAIR_ATTEMPTS = 5;

/**
 * Recounts the table: a parallel scan of every candidate summing `countersOf`, compared with the
 * stored counters read before and after it. With `repair`, each difference of a counter that held
 * still during the scan is added to the stored counter by a conditional write.
 */
export async function recountCounters(deps: RecountDeps, request: RecountRequest): Promise<RecountReport> {
  const now = deps.now ?? (() => performance.now());
  const started = now();
  const deadline = deps.timeBudgetMs === undefined ? Number.POSITIVE_INFINITY : started + deps.timeBudgetMs;

  const before = await deps.counters.read();
  const tally = new CounterTally();
  let scanned = 0;
  // Set when one segment stops (out of time, or failed), so the others stop at their next page.
  let stop: "time" | "failed" | null = null;
  const scanSegment = async (segment: number) => {
    try {
      for await (const page of deps.candidates.scanSegment(segment, request.segments, COUNTED_ATTRIBUTES)) {
        for (const candidate of page.candidates) tally.add(candidate);
        scanned += page.scanned;
        if (stop) return;
        if (now() > deadline) {
          stop = "time";
          return;
        }
      }
    } catch (error) {
      stop ??= "failed";
      throw error;
    }
  };
  await Promise.all(Array.from({ length: request.segments }, (_, segment) => scanSegment(segment)));
  if (stop === "time") {
    throw new TimeLimitError(
      `the recount stopped after ${Math.round(now() - started)} ms, ${scanned} items into the table: ` +
        "too large to recount within a request; run `flywheel admin recount --direct` instead",
    );
  }
  const after = await deps.counters.read();

  const differences = counterDifferences(before, after, tally.counters);
  const outcomes: (RepairOutcome | null)[] = [];
  for (const difference of differences) {
    outcomes.push(request.repair ? await repairOne(deps, difference) : null);
  }
  const reported = differences.map((difference, i) => ({ ...difference, repair: outcomes[i] ?? null }));
  return {
    repair: request.repair,
    differences: reported,
    unrepaired: reported.filter((d) => d.repair !== "repaired").length,
    items_scanned: scanned,
    candidates: tally.candidates,
    counters_checked: new Set([...Object.keys(after), ...Object.keys(tally.counters)]).size,
    segments: request.segments,
    duration_ms: Math.round(now() - started),
    note: RECOUNT_NOTE,
  };
}

/**
 * Adds one difference to its stored counter, only while the counter still sums to the value the
 * recount compared: a counter written since (live traffic, or another repair that already added
 * the same difference) is left alone, because its difference is no longer known. A write that
 * fails its condition while the sum is unchanged (writes that cancelled out) reads the shards
 * again and tries again.
 */
async function repairOne(deps: RecountDeps, difference: CounterDifference): Promise<RepairOutcome> {
  if (difference.moved_during_recount) return "moved_during_recount";
  const attempts = deps.repairAttempts ?? DEFAULT_REPAIR_ATTEMPTS;
  for (let attempt = 0; attempt < attempts; attempt++) {
    const shards = await deps.counters.readShards(difference.name);
    const sum = shards.reduce((total: number, value) => total + (value ?? 0), 0);
    if (sum !== difference.stored) return "changed_before_repair";
    const written = await deps.counters.addIfUnchanged(difference.name, difference.difference, shards);
    if (written === "added") return "repaired";
  }
  return "changed_before_repair";
}

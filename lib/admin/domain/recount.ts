import * as z from "zod";
import { type CountedCandidate, type CounterDelta, countersOf } from "../../common/domain/stats.ts";

/**
 * A recount adds up `countersOf` of every stored candidate and compares the sums with the stored
 * counters. What counts is decided by `countersOf` alone; this file only decides how the sums are
 * compared and what a report says.
 */

/**
 * The attributes of a stored candidate its counters are computed from: all a recount reads of an
 * item. `countedView` refuses any other read, so if `countersOf` starts depending on another
 * attribute the recount fails loudly (naming it) instead of counting from a field it never read.
 */
export const COUNTED_ATTRIBUTES = [
  "status",
  "corrected_response",
  "task_type",
  "provenance",
  "prompt_ready",
  "votes",
  "adjudication",
] as const;

const COUNTED = new Set<PropertyKey>(COUNTED_ATTRIBUTES);

/** `countersOf` read an attribute the recount does not read from the table. */
export class UncountedAttributeError extends Error {
  constructor(readonly attribute: string) {
    super(
      `countersOf reads "${attribute}", which the recount does not read from the table: add it to COUNTED_ATTRIBUTES (lib/admin/domain/recount.ts)`,
    );
    this.name = "UncountedAttributeError";
  }
}

/** The item as `countersOf` sees it: only the counted attributes can be read. */
export function countedView(item: Readonly<Record<string, unknown>>): CountedCandidate {
  const guard = (property: PropertyKey) => {
    if (typeof property === "string" && !COUNTED.has(property) && !(property in Object.prototype)) {
      throw new UncountedAttributeError(property);
    }
  };
  return new Proxy(item, {
    get(target, property, receiver) {
      guard(property);
      return Reflect.get(target, property, receiver);
    },
    has(target, property) {
      guard(property);
      return Reflect.has(target, property);
    },
  }) as unknown as CountedCandidate;
}

/** Counters summed over candidates, as they are read. */
export class CounterTally {
  readonly counters: CounterDelta = {};
  candidates = 0;

  add(item: Readonly<Record<string, unknown>>): void {
    for (const [name, value] of Object.entries(countersOf(countedView(item)))) {
      this.counters[name] = (this.counters[name] ?? 0) + value;
    }
    this.candidates += 1;
  }
}

/** One counter whose stored value is not what the candidates add up to. */
export interface CounterDifference {
  readonly name: string;
  /** The sum of the counter over its shards, read after the table was read. */
  readonly stored: number;
  /** What `countersOf` of every stored candidate adds up to. */
  readonly counted: number;
  /** `counted - stored`: what the stored value is missing. */
  readonly difference: number;
  /**
   * The stored value changed while the table was read (it differs before and after): writes were
   * going on, so the difference may be theirs and not drift. Such a counter is never repaired.
   */
  readonly moved_during_recount: boolean;
}

/**
 * Every counter whose stored value differs from the recount, by name. A counter stored as 0 and
 * counted nowhere agrees; a counter counted but never stored is stored as 0.
 */
export function counterDifferences(
  storedBefore: CounterDelta,
  storedAfter: CounterDelta,
  counted: CounterDelta,
): CounterDifference[] {
  const names = new Set([...Object.keys(storedAfter), ...Object.keys(counted)]);
  const differences: CounterDifference[] = [];
  for (const name of names) {
    const stored = storedAfter[name] ?? 0;
    const total = counted[name] ?? 0;
    if (stored === total) continue;
    differences.push({
      name,
      stored,
      counted: total,
      difference: total - stored,
      moved_during_recount: (storedBefore[name] ?? 0) !== stored,
    });
  }
  return differences.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * What a repair did with a difference: added it (`repaired`), left alone a counter that moved
 * while the table was read, or found the counter changed between the recount and the write.
 */
export type RepairOutcome = "repaired" | "moved_during_recount" | "changed_before_repair";

export interface ReportedDifference extends CounterDifference {
  /** `null` when no repair was asked for. */
  readonly repair: RepairOutcome | null;
}

/** What an operator should know before acting on a report. */
export const RECOUNT_NOTE =
  "The recount is exact on a quiet table. Writes made while the table is read can show differences " +
  "that are not drift: those counters are marked moved_during_recount and never repaired. A repair adds " +
  "each difference to one counter shard only while the counter still holds the value it was compared at. " +
  "Repair on a quiet table, or run the recount again until it reports nothing.";

export interface RecountReport {
  readonly repair: boolean;
  /** Every counter whose stored value differs from the recount, by name. */
  readonly differences: readonly ReportedDifference[];
  /** Differences still standing: all of them without repair, those not repaired with it. */
  readonly unrepaired: number;
  /** Items the scan read, candidates or not. */
  readonly items_scanned: number;
  /** Candidates counted. */
  readonly candidates: number;
  /** Distinct counters compared. */
  readonly counters_checked: number;
  readonly segments: number;
  readonly duration_ms: number;
  readonly note: string;
}

export const DEFAULT_SEGMENTS = 8;
/** DynamoDB takes up to 1,000,000 segments; a few dozen already outrun what a table gives one reader. */
export const MAX_SEGMENTS = 64;

/** `POST /api/admin/recount`: report only by default. */
export const RecountRequest = z.strictObject({
  repair: z.boolean().default(false),
  segments: z.number().int().min(1).max(MAX_SEGMENTS).default(DEFAULT_SEGMENTS),
});
export type RecountRequest = z.infer<typeof RecountRequest>;

/** What `POST /api/admin/recount` answers (a `RecountReport`), for the API's contract and its clients. */
export const RecountReply = z.looseObject({
  repair: z.boolean(),
  differences: z.array(
    z.looseObject({
      name: z.string(),
      stored: z.number(),
      counted: z.number(),
      difference: z.number(),
      moved_during_recount: z.boolean(),
      repair: z.enum(["repaired", "moved_during_recount", "changed_before_repair"]).nullable(),
    }),
  ),
  unrepaired: z.number(),
  items_scanned: z.number(),
  candidates: z.number(),
  counters_checked: z.number(),
  segments: z.number(),
  duration_ms: z.number(),
  note: z.string(),
});

import { describe, expect, it } from "vitest";
import {
  COUNTED_ATTRIBUTES,
  CounterTally,
  countedView,
  counterDifferences,
  RECOUNT_NOTE,
  RecountRequest,
  UncountedAttributeError,
} from "../../../lib/admin/domain/recount.ts";
import type { CandidateScanner } from "../../../lib/admin/ports.ts";
import { type RecountDeps, recountCounters } from "../../../lib/admin/usecases/recount.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { TimeLimitError } from "../../../lib/common/domain/errors.ts";
import { type CounterDelta, countersOf, mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { MemoryCandidates, MemoryCounters } from "../../support/admin-fakes.ts";
import { variedCandidates } from "../../support/admin-fixtures.ts";

const candidates = variedCandidates(40);
const truth = () => mergeDeltas(candidates.map(countersOf));
const items = () => candidates.map((candidate) => ({ ...candidate }) as Record<string, unknown>);
const nonZero = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0));

function setUp(options: { corrupt?: CounterDelta; others?: number } = {}) {
  const scanner = new MemoryCandidates(items(), 3, options.others ?? 0);
  const counters = new MemoryCounters(mergeDeltas([truth(), options.corrupt ?? {}]));
  const deps: RecountDeps = { candidates: scanner, counters };
  return { scanner, counters, deps };
}

describe("counterDifferences", () => {
  it("lists only the counters whose stored value differs from the recount, by name, with the difference", () => {
    const stored = { total: 10, "model#a": 4, "model#b": 6, export_ready: 0, "status#approved": 2 };
    const counted = { total: 10, "model#a": 5, "model#c": 1, "status#approved": 2 };
    expect(counterDifferences(stored, stored, counted)).toEqual([
      { name: "model#a", stored: 4, counted: 5, difference: 1, moved_during_recount: false },
      { name: "model#b", stored: 6, counted: 0, difference: -6, moved_during_recount: false },
      { name: "model#c", stored: 0, counted: 1, difference: 1, moved_during_recount: false },
    ]);
  });

  it("reports nothing when every counter agrees, a counter stored as 0 and counted nowhere included", () => {
    expect(
      counterDifferences({ total: 3, "model#gone": 0 }, { total: 3, "model#gone": 0 }, { total: 3 }),
    ).toEqual([]);
  });

  it("marks a counter whose stored value changed while the table was read", () => {
    const differences = counterDifferences(
      { total: 5, "model#a": 2 },
      { total: 6, "model#a": 2 },
      { total: 5, "model#a": 3 },
    );
    expect(differences).toEqual([
      { name: "model#a", stored: 2, counted: 3, difference: 1, moved_during_recount: false },
      { name: "total", stored: 6, counted: 5, difference: -1, moved_during_recount: true },
    ]);
  });
});

describe("CounterTally", () => {
  it("adds up countersOf of every candidate, from the counted attributes alone", () => {
    const tally = new CounterTally();
    for (const candidate of candidates) {
      const projected = Object.fromEntries(
        COUNTED_ATTRIBUTES.filter((a) => a in candidate).map((a) => [a, candidate[a]]),
      );
      tally.add(projected);
    }
    expect(tally.candidates).toBe(40);
    expect(tally.counters).toEqual(truth());
    // The shapes the fixture promises are there: each changes what counts.
    expect(tally.counters.prov_missing).toBeGreaterThan(0);
    expect(tally.counters["task_type#unknown"]).toBeGreaterThan(0);
    expect(tally.counters.export_ready).toBeLessThan(tally.counters["status#approved"] ?? 0);
  });

  it("gives what countersOf gives the whole stored candidate, for every shape of candidate", () => {
    for (const candidate of candidates) {
      const projected = Object.fromEntries(
        COUNTED_ATTRIBUTES.filter((a) => a in candidate).map((a) => [a, candidate[a]]),
      );
      expect(countersOf(countedView(projected)), candidate.id).toEqual(countersOf(candidate));
    }
  });
});

describe("countedView", () => {
  it("refuses a read of an attribute the recount does not read, naming it", () => {
    const view = countedView({ status: "approved", model_name: "m" }) as unknown as Record<string, unknown>;
    expect(view.status).toBe("approved");
    expect(() => view.model_name).toThrow(UncountedAttributeError);
    expect(() => view.failure_category).toThrow(/"failure_category".*COUNTED_ATTRIBUTES/);
    expect(() => "failure_category" in view).toThrow(UncountedAttributeError);
  });
});

describe("RecountRequest", () => {
  it("reports without repairing, over 8 segments, when nothing is asked", () => {
    expect(RecountRequest.parse({})).toEqual({ repair: false, segments: 8 });
    expect(RecountRequest.parse({ repair: true, segments: 3 })).toEqual({ repair: true, segments: 3 });
  });

  it.each([[{ segments: 0 }], [{ segments: 65 }], [{ segments: 2.5 }], [{ repair: "yes" }], [{ fix: true }]])(
    "refuses %j",
    (body) => {
      expect(RecountRequest.safeParse(body).success).toBe(false);
    },
  );
});

describe("recountCounters", () => {
  it("reports nothing for counters that agree, having read every segment with the counted attributes", async () => {
    const { scanner, deps } = setUp({ others: 7 });
    const report = await recountCounters(deps, { repair: false, segments: 4 });
    expect(report.differences).toEqual([]);
    expect(report.unrepaired).toBe(0);
    expect(report.candidates).toBe(40);
    expect(report.items_scanned).toBe(47);
    expect(report.segments).toBe(4);
    expect(report.counters_checked).toBe(Object.keys(truth()).length);
    expect(report.note).toBe(RECOUNT_NOTE);
    expect(scanner.calls.map((c) => [c.segment, c.totalSegments]).sort()).toEqual([
      [0, 4],
      [1, 4],
      [2, 4],
      [3, 4],
    ]);
    for (const call of scanner.calls) expect(call.attributes).toEqual(COUNTED_ATTRIBUTES);
  });

  it("reports exactly the drifted counters, with their difference, and repairs nothing unasked", async () => {
    const { counters, deps } = setUp({
      corrupt: { "model#model-a": 3, export_ready: -2, "source#ghost": 5 },
    });
    const before = counters.sums();
    const report = await recountCounters(deps, { repair: false, segments: 8 });
    const stored = (name: string) => before[name] ?? 0;
    expect(report.differences).toEqual([
      {
        name: "export_ready",
        stored: stored("export_ready"),
        counted: truth().export_ready,
        difference: 2,
        moved_during_recount: false,
        repair: null,
      },
      {
        name: "model#model-a",
        stored: stored("model#model-a"),
        counted: truth()["model#model-a"],
        difference: -3,
        moved_during_recount: false,
        repair: null,
      },
      {
        name: "source#ghost",
        stored: 5,
        counted: 0,
        difference: -5,
        moved_during_recount: false,
        repair: null,
      },
    ]);
    expect(report.unrepaired).toBe(3);
    expect(counters.sums()).toEqual(before);
  });

  it("repairs the differences, after which the counters equal the recount and a second recount finds nothing", async () => {
    const { counters, deps } = setUp({
      corrupt: { "model#model-a": 3, export_ready: -2, "source#ghost": 5 },
    });
    const report = await recountCounters(deps, { repair: true, segments: 8 });
    expect(report.differences.map((d) => [d.name, d.repair])).toEqual([
      ["export_ready", "repaired"],
      ["model#model-a", "repaired"],
      ["source#ghost", "repaired"],
    ]);
    expect(report.unrepaired).toBe(0);
    expect(nonZero(counters.sums())).toEqual(nonZero(truth()));
    const again = await recountCounters(deps, { repair: true, segments: 8 });
    expect(again.differences).toEqual([]);
  });

  it("never repairs a counter that moved while the table was read", async () => {
    const { scanner, counters, deps } = setUp();
    // A live write after the first page: a new candidate stored with its counters, in a segment
    // already read, so the scan misses it while the counters have it.
    const late = { ...(candidates[0] as Candidate), id: "late", model_name: "model-late" };
    const lateCounters = countersOf({
      ...late,
      provenance: { ...late.provenance, model: "model-late" },
    });
    scanner.afterPage = (pages) => {
      if (pages !== 1) return;
      for (const [name, value] of Object.entries(lateCounters)) counters.add(5, name, value);
    };
    const stored = counters.sums();
    const report = await recountCounters(deps, { repair: true, segments: 1 });
    const total = report.differences.find((d) => d.name === "total");
    expect(total).toEqual({
      name: "total",
      stored: (stored.total ?? 0) + 1,
      counted: stored.total,
      difference: -1,
      moved_during_recount: true,
      repair: "moved_during_recount",
    });
    expect(report.differences.every((d) => d.repair === "moved_during_recount")).toBe(true);
    expect(report.unrepaired).toBe(report.differences.length);
    // Nothing was written: the stored counters are the live write's, not the recount's.
    expect(counters.sums()).toEqual(mergeDeltas([stored, lateCounters]));
  });

  it("leaves a counter that changed between the recount and the repair, and adds nothing twice", async () => {
    const { counters, deps } = setUp({ corrupt: { "model#model-b": 2 } });
    // Another repair got there first: it added the same difference once the second read was done.
    const read = counters.read.bind(counters);
    counters.read = async () => {
      const sums = await read();
      if (counters.reads === 2) counters.add(3, "model#model-b", -2);
      return sums;
    };
    const report = await recountCounters(deps, { repair: true, segments: 2 });
    expect(report.differences).toEqual([
      expect.objectContaining({ name: "model#model-b", difference: -2, repair: "changed_before_repair" }),
    ]);
    expect(report.unrepaired).toBe(1);
    expect(counters.sums()["model#model-b"]).toBe(truth()["model#model-b"]);
  });

  it("reads the shards again when a write that cancelled out failed its condition, then repairs", async () => {
    const { counters, deps } = setUp({ corrupt: { "model#model-c": -4 } });
    counters.beforeAdd = (attempt) => {
      // Two live writes on two shards that leave the sum as it was: the condition fails once.
      if (attempt !== 0) return;
      counters.add(2, "model#model-c", 1);
      counters.add(6, "model#model-c", -1);
    };
    const report = await recountCounters(deps, { repair: true, segments: 2 });
    expect(report.differences).toEqual([
      expect.objectContaining({ name: "model#model-c", difference: 4, repair: "repaired" }),
    ]);
    expect(counters.sums()["model#model-c"]).toBe(truth()["model#model-c"]);
  });

  it("stops with a time-limit error once its budget is spent, without repairing", async () => {
    const { scanner, counters, deps } = setUp({ corrupt: { total: 1 } });
    let clock = 0;
    scanner.afterPage = () => {
      clock += 1_000;
    };
    const stored = counters.sums();
    await expect(
      recountCounters({ ...deps, now: () => clock, timeBudgetMs: 2_500 }, { repair: true, segments: 1 }),
    ).rejects.toThrow(TimeLimitError);
    expect(counters.sums()).toEqual(stored);
  });

  it("fails when a segment fails, and the other segments stop reading", async () => {
    const { scanner, deps } = setUp();
    const failing: CandidateScanner = {
      scanSegment(segment, total, attributes) {
        if (segment === 1) {
          return (async function* () {
            yield* [];
            throw new Error("segment 1 lost its connection");
          })();
        }
        return scanner.scanSegment(segment, total, attributes);
      },
    };
    let pages = 0;
    scanner.afterPage = () => {
      pages += 1;
    };
    await expect(
      recountCounters({ ...deps, candidates: failing }, { repair: false, segments: 2 }),
    ).rejects.toThrow("segment 1 lost its connection");
    // Segment 0 holds 20 candidates, 3 a page: it stopped after its first page.
    expect(pages).toBeLessThanOrEqual(1);
  });
});

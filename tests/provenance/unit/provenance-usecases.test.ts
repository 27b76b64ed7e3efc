import { describe, expect, it } from "vitest";
import { CANDIDATE_STATUSES, type CandidateStatus } from "../../../lib/common/domain/candidate.ts";
import { ValidationError } from "../../../lib/common/domain/errors.ts";
import type { ProvenanceFill } from "../../../lib/common/domain/provenance.ts";
import { type CounterDelta, countersOf, mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { fillUpdate } from "../../../lib/provenance/adapters/provenance-table.ts";
import {
  BackfillRequest,
  type IndexPosition,
  ValidateQuery,
} from "../../../lib/provenance/domain/provenance-requests.ts";
import type { HeldList, ProvenanceRecord, ProvenanceStore } from "../../../lib/provenance/ports.ts";
import { backfillProvenance, listInvalidProvenance } from "../../../lib/provenance/usecases/provenance.ts";

const AT = new Date("2026-06-01T12:00:00.000Z");
const SHARDS = 2;

/** The status index in memory: records by status and shard, in id order; fills compare-and-set on version. */
class MemoryProvenanceStore implements ProvenanceStore {
  readonly shards = SHARDS;
  readonly records = new Map<string, ProvenanceRecord>();
  counters: CounterDelta = {};
  reads = 0;
  /** Changes a record once, right before its next fill, as a concurrent writer would. */
  interfere = new Map<string, (record: ProvenanceRecord) => ProvenanceRecord>();

  add(...records: ProvenanceRecord[]): this {
    for (const record of records) {
      this.records.set(record.id, record);
      this.counters = mergeDeltas([this.counters, countersOf(record)]);
    }
    return this;
  }

  /** `needs_review` records out of the queue's partitions: leased, or waiting for a vote or an admin. */
  readonly held = new Map<string, HeldList>();

  async readPartition(
    status: CandidateStatus,
    shard: number,
    after: IndexPosition | null,
    limit: number,
    held?: HeldList,
  ) {
    this.reads += 1;
    const partition = [...this.records.values()]
      .filter((r) => r.status === status && shardOf(r.id) === shard && this.held.get(r.id) === held)
      .sort((a, b) => a.id.localeCompare(b.id))
      .filter((r) => !after || r.id > after[1]);
    const page = partition.slice(0, limit);
    const last = page.at(-1);
    return {
      records: page.map((record) => ({ record, position: [record.id, record.id] as const })),
      next: partition.length > limit && last ? ([last.id, last.id] as const) : null,
    };
  }

  async find(id: string) {
    return this.records.get(id) ?? null;
  }

  async fill(record: ProvenanceRecord, fill: ProvenanceFill, delta: CounterDelta) {
    const change = this.interfere.get(record.id);
    if (change) {
      this.interfere.delete(record.id);
      const current = this.records.get(record.id) as ProvenanceRecord;
      const changed = change(current);
      this.records.set(record.id, changed);
      this.counters = mergeDeltas([this.counters, negate(countersOf(current)), countersOf(changed)]);
    }
    const current = this.records.get(record.id);
    if (!current || current.version !== record.version) return "stale" as const;
    const block = (current.provenance ?? {}) as Record<string, unknown>;
    for (const field of Object.keys(fill.fields)) {
      if (block[field] !== undefined && block[field] !== null && block[field] !== "") {
        throw new Error(`fill would overwrite ${field}`);
      }
    }
    this.records.set(record.id, {
      ...current,
      version: (current.version ?? 0) + 1,
      provenance: fill.provenance,
    });
    this.counters = mergeDeltas([this.counters, delta]);
    return "filled" as const;
  }

  recount(): CounterDelta {
    return nonZero(mergeDeltas([...this.records.values()].map(countersOf)));
  }
}

const shardOf = (id: string) => Number(id.replace(/\D/g, "") || 0) % SHARDS;
const negate = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).map(([n, v]) => [n, -v]));
const nonZero = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0));

const origin = (n: number) => ({
  source: "rig",
  channel: "s3-upload",
  model: "m1",
  captured_at: "2026-05-01T00:00:00.000Z",
  source_run_id: "run-1",
  key: "runs/run-1/sft_candidates.jsonl",
  line: n,
});

function record(n: number, overrides: Partial<ProvenanceRecord> = {}): ProvenanceRecord {
  return {
    id: `c${String(n).padStart(3, "0")}`,
    status: "needs_review",
    version: 1,
    task_type: "math",
    corrected_response: null,
    benchmark_run_id: "run-1",
    provenance: origin(n),
    ...overrides,
  };
}

/** Every third record lost its provenance; a few are decided. */
function store() {
  const memory = new MemoryProvenanceStore();
  for (let n = 1; n <= 30; n++) {
    const status = CANDIDATE_STATUSES[n % 4] as CandidateStatus;
    const stripped = n % 3 === 0;
    memory.add(
      record(n, {
        status,
        provenance: stripped
          ? undefined
          : status === "approved"
            ? { ...origin(n), approved: true, approved_by: "ana", approved_at: "2026-05-02T00:00:00.000Z" }
            : origin(n),
      }),
    );
  }
  return memory;
}

const deps = (memory: MemoryProvenanceStore, limits = {}) => ({
  store: memory,
  counters: { read: async () => memory.counters },
  now: () => AT,
  limits: { pageSize: 4, ...limits },
});

describe("listInvalidProvenance", () => {
  it("walks every status partition by cursor and lists each invalid record once, with its errors", async () => {
    const memory = store();
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = await listInvalidProvenance(deps(memory), ValidateQuery.parse({ limit: "3", cursor }));
      seen.push(...page.items.map((item) => item.id));
      for (const item of page.items) {
        expect(item).toMatchObject({
          missing: expect.arrayContaining(["source", "channel"]),
          run_id: "run-1",
        });
        expect(item.errors[0]).toBe("provenance: is missing");
      }
      cursor = page.next_cursor ?? undefined;
      pages += 1;
    } while (cursor && pages < 50);
    expect(seen.sort()).toEqual(
      [3, 6, 9, 12, 15, 18, 21, 24, 27, 30].map((n) => `c${String(n).padStart(3, "0")}`),
    );
    expect(pages).toBeGreaterThan(3);
  });

  it("reads the waiting records out of the queue's partitions (leased, voting, adjudication) after the rest", async () => {
    const memory = store();
    // Waiting for review: c004, c008 … c028; c012 and c024 lost their provenance. c024 waits for
    // a second vote, c012 for an admin, c008 is leased; the others are in the queue's partitions.
    memory.held.set("c024", "voting").set("c012", "adjudication").set("c008", "leased");
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await listInvalidProvenance(
        deps(memory),
        ValidateQuery.parse({ status: "needs_review", limit: "1", cursor }),
      );
      seen.push(...page.items.map((item) => item.id));
      cursor = page.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).toEqual(["c024", "c012"]);
    memory.records.set("c008", {
      ...(memory.records.get("c008") as ProvenanceRecord),
      provenance: undefined,
    });
    const filled = await backfillProvenance(
      deps(memory),
      BackfillRequest.parse({ source: "legacy", model: "m9", filter: { status: "needs_review" } }),
      "ana",
    );
    expect(filled).toMatchObject({ matched: 7, changed: 3, still_invalid: 0 });
    for (const id of ["c008", "c012", "c024"]) {
      expect(memory.records.get(id)?.provenance, id).toMatchObject({ source: "legacy", model: "m9" });
    }
  });

  it("reads one status only when asked, filters by source, and refuses another status's cursor", async () => {
    const memory = store();
    const page = await listInvalidProvenance(deps(memory), ValidateQuery.parse({ status: "approved" }));
    expect(page.items.map((item) => item.status)).toEqual(page.items.map(() => "approved"));
    expect(page.items.map((item) => item.id)).toEqual(["c009", "c021"]);
    expect(page.next_cursor).toBeNull();

    const none = await listInvalidProvenance(deps(memory), ValidateQuery.parse({ source: "rig" }));
    expect(none.items).toEqual([]);

    const first = await listInvalidProvenance(deps(memory), ValidateQuery.parse({ limit: "1" }));
    const cursor = first.next_cursor ?? "";
    await expect(
      listInvalidProvenance(deps(memory), ValidateQuery.parse({ status: "approved", cursor })),
    ).rejects.toThrow(ValidationError);
    await expect(
      listInvalidProvenance(deps(memory), ValidateQuery.parse({ cursor: "bm90IGpzb24" })),
    ).rejects.toThrow("invalid cursor");
  });

  it("stops at its read budget with a cursor, even before it found a full page", async () => {
    const memory = store();
    const page = await listInvalidProvenance(deps(memory, { validateBudget: 2 }), ValidateQuery.parse({}));
    expect(page.examined).toBe(2);
    expect(page.next_cursor).not.toBeNull();
  });
});

describe("backfillProvenance", () => {
  const request = (body: Record<string, unknown> = {}) =>
    BackfillRequest.parse({ source: "legacy", model: "m9", ...body });

  it("fills only what is missing, keeps the counters equal to a recount, and changes nothing twice", async () => {
    const memory = store();
    const before = new Map([...memory.records].map(([id, r]) => [id, structuredClone(r)]));

    const first = await backfillProvenance(deps(memory), request(), "ana");
    expect(first).toEqual({ matched: 30, changed: 10, still_invalid: 0, conflicts: 0, next_cursor: null });
    expect(nonZero(memory.counters)).toEqual(memory.recount());
    expect(memory.counters.prov_missing ?? 0).toBe(0);
    for (const [id, was] of before) {
      const now = memory.records.get(id) as ProvenanceRecord;
      if (was.provenance) expect(now).toEqual(was);
      else {
        expect(now.provenance).toMatchObject({ channel: "backfill", source: "legacy", model: "m9" });
        if (now.status === "approved") expect(now.provenance).toMatchObject({ approved_by: "ana" });
      }
    }

    const again = await backfillProvenance(deps(memory), request(), "bo");
    expect(again).toMatchObject({ matched: 30, changed: 0 });
    expect(nonZero(memory.counters)).toEqual(memory.recount());
  });

  it("narrows to the filter: status, run and source", async () => {
    const memory = store().add(
      record(31, { benchmark_run_id: "run-2", provenance: undefined }),
      record(32, { source: "kiwi", benchmark_run_id: null, provenance: undefined }),
    );
    expect(
      await backfillProvenance(deps(memory), request({ filter: { run_id: "run-2" } }), "ana"),
    ).toMatchObject({ matched: 1, changed: 1 });
    expect(
      await backfillProvenance(deps(memory), request({ filter: { source: "kiwi" } }), "ana"),
    ).toMatchObject({
      matched: 1,
      changed: 1,
    });
    const approved = await backfillProvenance(
      deps(memory),
      request({ filter: { status: "approved" } }),
      "ana",
    );
    expect(approved).toMatchObject({ matched: 8, changed: 2 });
    expect(nonZero(memory.counters)).toEqual(memory.recount());
  });

  it("reads a record again when it changed under the fill, and fills what is still missing", async () => {
    const memory = store();
    memory.interfere.set("c012", (current) => ({
      ...current,
      version: (current.version ?? 1) + 1,
      provenance: { source: "someone", model: "m-from-elsewhere" },
    }));

    const outcome = await backfillProvenance(
      deps(memory),
      request({ filter: { status: "needs_review" } }),
      "ana",
    );

    expect(outcome.changed).toBeGreaterThan(0);
    expect(memory.records.get("c012")?.provenance).toMatchObject({
      source: "someone",
      model: "m-from-elsewhere",
      channel: "backfill",
    });
    expect(nonZero(memory.counters)).toEqual(memory.recount());
  });

  it("continues from its cursor when it stops at its budget", async () => {
    const memory = store();
    let cursor: string | undefined;
    let changed = 0;
    let calls = 0;
    do {
      const outcome = await backfillProvenance(
        deps(memory, { backfillBudget: 7 }),
        request({ cursor }),
        "ana",
      );
      changed += outcome.changed;
      cursor = outcome.next_cursor ?? undefined;
      calls += 1;
    } while (cursor && calls < 20);
    expect(changed).toBe(10);
    expect(calls).toBeGreaterThan(4);
  });
});

describe("fillUpdate", () => {
  it("sets each field only where the record lacks it, at the version read, appending the fill's names", () => {
    const stored = record(1, { provenance: { ...origin(1), model: null, source: "" } });
    const update = fillUpdate(stored, {
      fields: { model: "m9", source: "legacy", backfilled: true },
      filled: ["model", "source"],
      createsBlock: false,
      provenance: {},
    });
    expect(update.UpdateExpression).toBe(
      "SET #version = :version, #prov.#f0 = :f0, #prov.#f1 = :f1, #prov.#f2 = :f2, " +
        "#prov.#filled = list_append(if_not_exists(#prov.#filled, :none), :filled)",
    );
    expect(update.ConditionExpression).toBe(
      "attribute_exists(#pk) AND #version = :expected AND attribute_exists(#prov) AND " +
        "attribute_type(#prov.#f0, :null) AND #prov.#f1 = :was1 AND attribute_not_exists(#prov.#f2)",
    );
    expect(update.ExpressionAttributeValues).toMatchObject({
      ":expected": 1,
      ":version": 2,
      ":null": "NULL",
      ":was1": "",
      ":filled": ["model", "source"],
    });
    expect(update.UpdateExpression).not.toMatch(/#prov = /);
  });

  it("creates a block only where there is none", () => {
    const update = fillUpdate(record(1, { provenance: undefined }), {
      fields: { source: "legacy" },
      filled: ["source"],
      createsBlock: true,
      provenance: { source: "legacy" },
    });
    expect(update.UpdateExpression).toBe("SET #version = :version, #prov = :prov");
    expect(update.ConditionExpression).toBe(
      "attribute_exists(#pk) AND #version = :expected AND attribute_not_exists(#prov)",
    );
  });
});

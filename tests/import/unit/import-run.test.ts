import { beforeEach, describe, expect, it } from "vitest";
import { type ImportRunDeps, importIdOf, importRun } from "../../../lib/import/usecases/import-run.ts";
import { MemoryCandidates, MemoryObjects, MemoryQuarantine, MemoryRuns } from "../../support/import-fakes.ts";

const BUCKET = "bucket";
const KEY = "runs/r1/sft_candidates.jsonl";
const line = (id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    id,
    prompt_messages: [{ role: "user", content: `q ${id}` }],
    model_response: "a",
    ...extra,
  });

let objects: MemoryObjects;
let candidates: MemoryCandidates;
let runs: MemoryRuns;
let quarantine: MemoryQuarantine;
let deps: ImportRunDeps;

beforeEach(() => {
  objects = new MemoryObjects();
  candidates = new MemoryCandidates();
  runs = new MemoryRuns();
  quarantine = new MemoryQuarantine();
  deps = {
    objects,
    candidates,
    runs,
    quarantine,
    now: () => new Date("2026-11-01T00:00:00Z"),
    limits: { chunkSize: 3, parallelChunks: 2 },
  };
});

/** The store, recording each call and its batch size. */
function countingStore(store: MemoryCandidates) {
  const calls: string[] = [];
  const counting = {
    findExisting: (batch: readonly string[]) => {
      calls.push(`find ${batch.length}`);
      return store.findExisting(batch);
    },
    insertNew: (batch: Parameters<MemoryCandidates["insertNew"]>[0]) => {
      calls.push(`insert ${batch.length}`);
      return store.insertNew(batch);
    },
  };
  return { calls, counting };
}

describe("importRun", () => {
  it("stores valid lines as needs_review and quarantines the rest with line numbers", async () => {
    objects.put(
      BUCKET,
      KEY,
      [
        line("a", { status: "approved", corrected_response: "fix", model_name: "m1" }),
        "not json",
        "",
        line("b"),
        "[1]",
        JSON.stringify({ prompt_messages: [] }),
        line("c", { quality_score: "high" }),
        line("a"),
        line("d"),
      ].join("\r\n"),
    );

    const outcome = await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "01" });

    expect(outcome.status).toBe("imported");
    if (outcome.status !== "imported") return;
    expect(outcome.summary.counts).toEqual({
      lines: 9,
      imported: 3,
      skipped: 0,
      quarantined: 6,
      quarantined_by_reason: {
        invalid_json: 1,
        blank_line: 1,
        not_an_object: 1,
        missing_id: 1,
        invalid_field: 1,
        duplicate_id: 1,
      },
    });
    expect([...candidates.stored.keys()].sort()).toEqual(["a", "b", "d"]);
    expect(candidates.stored.get("a")).toMatchObject({
      status: "needs_review",
      corrected_response: null,
      upstream: { status: "approved", corrected_response: "fix" },
      provenance: {
        channel: "s3-upload",
        source_run_id: "r1",
        line: 1,
        model: "m1",
        key: KEY,
        etag: "etag-1",
      },
    });
    const entries = quarantine.objects.get(outcome.summary.quarantineKey as string) ?? [];
    expect(entries.map((e) => [e.line, e.reason])).toEqual(
      expect.arrayContaining([
        [2, "invalid_json"],
        [3, "blank_line"],
        [5, "not_an_object"],
        [6, "missing_id"],
        [7, "invalid_field"],
        [8, "duplicate_id"],
      ]),
    );
    expect(runs.records.get("r1")?.state).toBe("completed");
  });

  it("skips ids that are already stored and never overwrites them", async () => {
    objects.put(BUCKET, KEY, [line("a"), line("b")].join("\n"));
    await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "01" });
    const reviewed = { ...candidates.stored.get("a"), status: "approved" } as never;
    candidates.stored.set("a", reviewed);

    const outcome = await importRun(deps, { bucket: BUCKET, key: KEY, sequencer: "02" });

    expect(outcome.status === "imported" && outcome.summary.counts).toMatchObject({
      imported: 0,
      skipped: 2,
    });
    expect(candidates.stored.get("a")?.status).toBe("approved");
  });

  it("does nothing for a redelivered notification of a completed import", async () => {
    objects.put(BUCKET, KEY, line("a"));
    const upload = { bucket: BUCKET, key: KEY, sequencer: "01" };
    await importRun(deps, upload);

    const again = await importRun(deps, upload);

    expect(again.status).toBe("already_imported");
    expect(candidates.counters.total).toBe(1);
  });

  it("inserts a fresh run without lookups and looks up first once a re-upload meets stored ids", async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `id-${i}`);
    objects.put(BUCKET, KEY, ids.map((id) => line(id)).join("\n"));
    const { calls, counting } = countingStore(candidates);
    const serial = { ...deps, candidates: counting, limits: { chunkSize: 3, parallelChunks: 1 } };

    await importRun(serial, { bucket: BUCKET, key: KEY, sequencer: "01" });
    expect(calls).toEqual(["insert 3", "insert 3", "insert 3", "insert 3"]);

    calls.length = 0;
    const again = await importRun(serial, { bucket: BUCKET, key: KEY, sequencer: "02" });

    // One refused insert tells the import it is a re-upload; from then on it looks up first.
    expect(calls).toEqual(["insert 3", "find 3", "find 3", "find 3", "find 3"]);
    expect(again.status === "imported" && again.summary.counts).toMatchObject({ imported: 0, skipped: 12 });
  });

  it("goes back to inserting directly when a looked-up chunk holds no stored id", async () => {
    const ids = Array.from({ length: 9 }, (_, i) => `id-${i}`);
    objects.put(
      BUCKET,
      "runs/r0/sft_candidates.jsonl",
      ids
        .slice(0, 3)
        .map((id) => line(id))
        .join("\n"),
    );
    await importRun(deps, { bucket: BUCKET, key: "runs/r0/sft_candidates.jsonl", sequencer: "01" });
    objects.put(BUCKET, KEY, ids.map((id) => line(id)).join("\n"));
    const { calls, counting } = countingStore(candidates);

    const outcome = await importRun(
      { ...deps, candidates: counting, limits: { chunkSize: 3, parallelChunks: 1 } },
      { bucket: BUCKET, key: KEY, sequencer: "01" },
    );

    expect(calls).toEqual(["insert 3", "find 3", "find 3", "insert 3", "insert 3"]);
    expect(outcome.status === "imported" && outcome.summary.counts).toMatchObject({
      imported: 6,
      skipped: 3,
    });
  });

  it("counts its own earlier writes as imported when resuming after a crash", async () => {
    objects.put(BUCKET, KEY, ["a", "b", "c", "d", "e", "f", "g"].map((id) => line(id)).join("\n"));
    const upload = { bucket: BUCKET, key: KEY, sequencer: "01" };
    let calls = 0;
    const crashing = {
      ...candidates,
      findExisting: candidates.findExisting.bind(candidates),
      insertNew: async (batch: Parameters<MemoryCandidates["insertNew"]>[0]) => {
        calls += 1;
        if (calls === 2) throw new Error("crash");
        return candidates.insertNew(batch);
      },
    };
    await expect(
      importRun({ ...deps, candidates: crashing, limits: { chunkSize: 3, parallelChunks: 1 } }, upload),
    ).rejects.toThrow("crash");
    expect(runs.records.get("r1")?.state).toBe("failed");

    const outcome = await importRun(deps, upload);

    expect(outcome.status === "imported" && outcome.summary.counts).toMatchObject({
      lines: 7,
      imported: 7,
      skipped: 0,
      quarantined: 0,
    });
    expect(candidates.counters.total).toBe(7);
  });

  it("quarantines over-long lines without parsing them and records their size", async () => {
    objects.put(
      BUCKET,
      KEY,
      [line("a"), line("big", { model_response: "x".repeat(5_000) }), line("c")].join("\n"),
    );

    const outcome = await importRun(
      { ...deps, limits: { maxLineBytes: 1_000 } },
      { bucket: BUCKET, key: KEY },
    );

    if (outcome.status !== "imported") throw new Error("expected an import");
    expect(outcome.summary.counts).toMatchObject({
      imported: 2,
      quarantined_by_reason: { line_too_large: 1 },
    });
    const [entry] = quarantine.objects.get(outcome.summary.quarantineKey as string) ?? [];
    expect(entry).toMatchObject({ line: 2, reason: "line_too_large" });
    expect(entry?.raw.length).toBeLessThanOrEqual(2_100);
  });

  it("quarantines records that do not fit in the store even with their body moved out", async () => {
    candidates.maxInlineBytes = 2_000;
    objects.put(BUCKET, KEY, [line("a"), line("huge", { failure_reason: "r".repeat(3_000) })].join("\n"));

    const outcome = await importRun(deps, { bucket: BUCKET, key: KEY });

    expect(outcome.status === "imported" && outcome.summary.counts.quarantined_by_reason).toEqual({
      item_too_large: 1,
    });
  });

  it("refuses keys that are not a run upload", async () => {
    await expect(importRun(deps, { bucket: BUCKET, key: "runs/a/b/sft_candidates.jsonl" })).rejects.toThrow(
      "invalid run id",
    );
    await expect(importRun(deps, { bucket: BUCKET, key: "elsewhere/x.jsonl" })).rejects.toThrow(
      "not a run upload",
    );
  });

  it("derives a stable import id from the upload identity", () => {
    const upload = { bucket: BUCKET, key: KEY, sequencer: "0A" };
    expect(importIdOf(upload, "e1")).toBe(importIdOf({ ...upload }, "e1"));
    expect(importIdOf(upload, "e1")).not.toBe(importIdOf({ ...upload, sequencer: "0B" }, "e1"));
    expect(importIdOf(upload, "e1")).not.toBe(importIdOf(upload, "e2"));
  });
});

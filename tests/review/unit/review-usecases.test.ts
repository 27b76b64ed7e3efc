import { describe, expect, it } from "vitest";
import { ConflictError, NotFoundError, ValidationError } from "../../../lib/common/domain/errors.ts";
import {
  normalizeRunsPrefix,
  type RunImportState,
  runListing,
  timestampOfRunId,
} from "../../../lib/import/domain/run-folders.ts";
import {
  COUNTED_RUN_MAX_BYTES,
  importRunFolder,
  listRuns,
  type RunFolderDeps,
  readReviewConfig,
  writeReviewConfig,
} from "../../../lib/import/usecases/run-folders.ts";
import {
  decodeCursor,
  encodeCursor,
  type QueuePosition,
  QueueQuery,
} from "../../../lib/review/domain/queue.ts";
import { SubmitRequest } from "../../../lib/review/domain/review.ts";
import type { QueueReader, QueueWalk } from "../../../lib/review/ports.ts";
import { candidateDetail, submitDecision, undoDecision } from "../../../lib/review/usecases/review.ts";
import { queueTotal, reviewQueue } from "../../../lib/review/usecases/review-queue.ts";
import { MemoryCandidates, MemoryObjects, MemoryQuarantine, MemoryRuns } from "../../support/import-fakes.ts";
import { MemoryReviewStore, storedCandidate } from "../../support/review-fakes.ts";

const now = () => new Date("2026-05-01T10:00:00.000Z");

describe("submitDecision and undoDecision", () => {
  it("apply a decision and its undo, each with an event and counters that add back to zero", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const initial = { ...store.counters };
    const deps = { store, now };

    await submitDecision(
      deps,
      SubmitRequest.parse({ id: "c1", action: "correct", corrected_response: "4" }),
      "ana",
    );
    expect(store.candidates.get("c1")).toMatchObject({
      status: "approved",
      version: 2,
      corrected_response: "4",
    });
    expect(store.counters).toMatchObject({ "status#approved": 1, "status#needs_review": 0, export_ready: 1 });

    await undoDecision(deps, "c1", "bo");
    expect(store.candidates.get("c1")).toMatchObject({
      status: "needs_review",
      version: 3,
      corrected_response: null,
    });
    expect(Object.fromEntries(Object.entries(store.counters).filter(([, v]) => v !== 0))).toEqual(initial);
    expect((await candidateDetail(deps, "c1")).history.map((e) => [e.action, e.reviewer])).toEqual([
      ["correct", "ana"],
      ["undo", "bo"],
    ]);
  });

  it("answer NotFound for an unknown id and Conflict for a candidate in the wrong state", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const deps = { store, now };
    const discard = SubmitRequest.parse({ id: "c1", action: "discard" });

    await expect(submitDecision(deps, { ...discard, id: "nope" }, "ana")).rejects.toBeInstanceOf(
      NotFoundError,
    );
    await expect(undoDecision(deps, "nope", "ana")).rejects.toBeInstanceOf(NotFoundError);
    await expect(undoDecision(deps, "c1", "ana")).rejects.toBeInstanceOf(ConflictError);
    await submitDecision(deps, discard, "ana");
    await expect(submitDecision(deps, discard, "bo")).rejects.toThrow("current status: discarded");
    await expect(candidateDetail(deps, "nope")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("let only one of two reviewers who read the same version win", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const deps = { store, now };

    const results = await Promise.allSettled([
      submitDecision(deps, SubmitRequest.parse({ id: "c1", action: "discard" }), "ana"),
      submitDecision(deps, SubmitRequest.parse({ id: "c1", action: "flag" }), "bo"),
    ]);

    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect(store.events).toHaveLength(1);
    expect(store.counters["status#needs_review"]).toBe(0);
  });
});

describe("reviewQueue", () => {
  class RecordingQueue implements QueueReader {
    readonly shards = 4;
    readonly walks: QueueWalk[] = [];
    constructor(private readonly more: boolean) {}
    async walk(walk: QueueWalk) {
      this.walks.push(walk);
      const position: QueuePosition = [["t#a", "a"], null, null, null];
      return { items: [{ id: "a", status: "needs_review" }], position, more: this.more };
    }
  }
  const counters = {
    read: async () => ({ "status#needs_review": 42, "needs_review#model#m1": 7 }),
  };

  it("skips whole pages without a cursor and starts after the cursor with one", async () => {
    const queue = new RecordingQueue(true);
    const first = await reviewQueue({ queue, counters }, QueueQuery.parse({ page: "3", per_page: "10" }));
    expect(queue.walks[0]).toEqual({ filters: {}, after: null, skip: 20, limit: 10 });
    expect(first).toMatchObject({ total: 42, page: 3, per_page: 10 });
    expect(decodeCursor(first.next_cursor as string, 4)).toEqual([["t#a", "a"], null, null, null]);

    await reviewQueue(
      { queue, counters },
      QueueQuery.parse({ cursor: first.next_cursor as string, per_page: "10", model: "m1" }),
    );
    expect(queue.walks[1]).toEqual({
      filters: { model: "m1" },
      after: [["t#a", "a"], null, null, null],
      skip: 0,
      limit: 10,
    });
  });

  it("has no next cursor after the last page", async () => {
    const reply = await reviewQueue({ queue: new RecordingQueue(false), counters }, QueueQuery.parse({}));
    expect(reply.next_cursor).toBeNull();
  });

  it("refuses a cursor made for another number of shards", async () => {
    const cursor = encodeCursor([null, null]);
    await expect(
      reviewQueue({ queue: new RecordingQueue(false), counters }, QueueQuery.parse({ cursor })),
    ).rejects.toBeInstanceOf(ValidationError);
  });

  it("counts the filtered queue from counters where one exists, and says null where none does", () => {
    const stored = {
      "status#needs_review": 42,
      "needs_review#model#m1": 7,
      "needs_review#task_type#math": 5,
      "needs_review#source#rig": 3,
    };
    expect(queueTotal(stored, {})).toBe(42);
    expect(queueTotal(stored, { model: "m1" })).toBe(7);
    expect(queueTotal(stored, { model: "m2" })).toBe(0);
    expect(queueTotal(stored, { task_type: "math" })).toBe(5);
    expect(queueTotal(stored, { source: "rig" })).toBe(3);
    expect(queueTotal(stored, { run_id: "r1" })).toBeNull();
    expect(queueTotal(stored, { model: "m1", task_type: "math" })).toBeNull();
  });
});

describe("runs prefix", () => {
  const scope = { bucket: "flywheel-data", runsArea: "runs/" };

  it.each([
    ["runs", "runs/"],
    ["runs/", "runs/"],
    [" runs/nightly ", "runs/nightly/"],
    ["s3://flywheel-data/runs/", "runs/"],
    ["s3://flywheel-data/runs/team-a/2026", "runs/team-a/2026/"],
  ])("accepts %j as %j", (input, prefix) => {
    expect(normalizeRunsPrefix(input, scope)).toBe(prefix);
  });

  it.each([
    "",
    "/",
    "/runs",
    "~/runs",
    "../runs",
    "runs/../exports",
    "runs/./x",
    "runs//x",
    "runs\\x",
    "C:/runs",
    "quarantine/",
    "exports",
    "runsx/",
    "s3://another-bucket/runs/",
    "s3://flywheel-data/",
    "file:///runs",
    "https://flywheel-data.s3.amazonaws.com/runs/",
    "runs/with space",
  ])("refuses %j", (input) => {
    expect(() => normalizeRunsPrefix(input, scope)).toThrow(ValidationError);
  });
});

describe("run listing", () => {
  it("reads the rig's folder names as times", () => {
    expect(timestampOfRunId("2026-04-07-143022")).toBe("2026-04-07T14:30:22.000Z");
    expect(timestampOfRunId("2026-04-09-080000-damaged")).toBe("2026-04-09T08:00:00.000Z");
    expect(timestampOfRunId("2026-13-45-999999")).toBeNull();
    expect(timestampOfRunId("nightly")).toBeNull();
  });

  it("puts the newest first and tells imported runs from the rest", () => {
    const records = new Map<string, RunImportState>([
      ["2026-04-07-143022", { state: "completed", counts: { imported: 28, skipped: 2, quarantined: 1 } }],
      ["nightly", { state: "failed", created_at: "2026-05-01T00:00:00.000Z" }],
    ]);

    const listing = runListing(["2026-04-07-143022", "2026-04-09-080000", "nightly", "unknown"], records);

    expect(listing.map((run) => run.run_id)).toEqual([
      "nightly",
      "2026-04-09-080000",
      "2026-04-07-143022",
      "unknown",
    ]);
    expect(listing[2]).toEqual({
      run_id: "2026-04-07-143022",
      timestamp: "2026-04-07T14:30:22.000Z",
      candidate_count: 30,
      already_imported: true,
      import_state: "completed",
      imported: 28,
      skipped: 2,
      quarantined: 1,
    });
    expect(listing[0]).toMatchObject({
      already_imported: false,
      candidate_count: null,
      import_state: "failed",
    });
    expect(listing[3]).toMatchObject({ timestamp: null, already_imported: false, import_state: null });
  });
});

describe("run folders", () => {
  const line = (id: string) => JSON.stringify({ id, prompt_messages: [{ role: "user", content: "q" }] });

  function deps(): RunFolderDeps & {
    objects: MemoryObjects;
    runRecords: MemoryRuns;
    prefix: { value: string | null };
  } {
    const objects = new MemoryObjects();
    const runRecords = new MemoryRuns();
    const prefix = { value: null as string | null };
    return {
      objects,
      runRecords,
      prefix,
      bucket: "data",
      runsArea: "runs/",
      now,
      folders: {
        listRunFolders: async (p) =>
          [...objects.objects.keys()]
            .map((key) => key.slice("data/".length))
            .filter((key) => key.startsWith(p))
            .map((key) => key.slice(p.length).split("/")[0] as string),
      },
      records: {
        readRunRecords: async (ids) =>
          new Map(
            ids.flatMap((id) => {
              const record = runRecords.records.get(id);
              return record ? [[id, { state: record.state, counts: record.summary?.counts }] as const] : [];
            }),
          ),
      },
      settings: {
        readRunsPrefix: async () => prefix.value,
        writeRunsPrefix: async (value) => {
          prefix.value = value;
        },
      },
      importer: {
        objects,
        candidates: new MemoryCandidates(),
        runs: runRecords,
        quarantine: new MemoryQuarantine(),
      },
    };
  }

  it("imports a run folder once per upload: repeating the same bytes imports nothing", async () => {
    const d = deps();
    d.objects.put("data", "runs/r1/sft_candidates.jsonl", [line("a"), line("b")].join("\n"), "etag-1");

    expect(await importRunFolder(d, "r1")).toEqual({ imported: 2, skipped: 0 });
    expect(await importRunFolder(d, "r1")).toEqual({ imported: 0, skipped: 2 });

    d.objects.put(
      "data",
      "runs/r1/sft_candidates.jsonl",
      [line("a"), line("b"), line("c")].join("\n"),
      "etag-2",
    );
    expect(await importRunFolder(d, "r1")).toEqual({ imported: 1, skipped: 2 });
  });

  it("counts a run's lines before its import when cheap, else leaves candidate_count null", async () => {
    const d = deps();
    const asked: { key: string; maxBytes: number }[] = [];
    d.objects.put("data", "runs/2026-04-07-143022/sft_candidates.jsonl", [line("a"), line("b")].join("\n"));
    d.objects.put(
      "data",
      "runs/2026-04-08-143022/sft_candidates.jsonl",
      [line("c"), "", line("d"), line("e")].join("\n"),
    );
    d.objects.put("data", "runs/2026-04-09-143022/sft_candidates.jsonl", line("big"));
    const lines = {
      countLines: async (key: string, maxBytes: number) => {
        asked.push({ key, maxBytes });
        if (key.includes("2026-04-09")) return null; // larger than maxBytes
        const text = d.objects.objects.get(`data/${key}`)?.body.toString("utf8") ?? "";
        return text.split("\n").filter((l) => l.trim() !== "").length;
      },
    };
    await importRunFolder(d, "2026-04-07-143022");

    const listing = await listRuns({ ...d, lines });

    expect(listing.map((run) => [run.run_id, run.candidate_count, run.already_imported])).toEqual([
      ["2026-04-09-143022", null, false],
      ["2026-04-08-143022", 3, false],
      ["2026-04-07-143022", 2, true],
    ]);
    // The imported run is counted from its record, never read again; the bound is passed on.
    expect(asked.map((a) => a.key).sort()).toEqual([
      "runs/2026-04-08-143022/sft_candidates.jsonl",
      "runs/2026-04-09-143022/sft_candidates.jsonl",
    ]);
    expect(asked.every((a) => a.maxBytes === COUNTED_RUN_MAX_BYTES)).toBe(true);
    // Without a counter (or before any import), the count stays null.
    expect((await listRuns(d)).find((run) => run.run_id === "2026-04-08-143022")?.candidate_count).toBeNull();
  });

  it("answers NotFound for a run folder without a run file", async () => {
    await expect(importRunFolder(deps(), "missing")).rejects.toBeInstanceOf(NotFoundError);
  });

  it("lists and imports from the configured prefix", async () => {
    const d = deps();
    d.objects.put("data", "runs/r1/sft_candidates.jsonl", line("a"));
    d.objects.put("data", "runs/nightly/n1/sft_candidates.jsonl", line("n"));

    expect(await readReviewConfig(d)).toEqual({ bench_results_dir: "runs/" });
    expect(await writeReviewConfig(d, "runs/nightly", "ana")).toEqual({
      ok: true,
      bench_results_dir: "runs/nightly/",
    });
    expect((await listRuns(d)).map((run) => run.run_id)).toEqual(["n1"]);
    expect(await importRunFolder(d, "n1")).toEqual({ imported: 1, skipped: 0 });
    await expect(writeReviewConfig(d, "exports/", "ana")).rejects.toBeInstanceOf(ValidationError);
    expect(d.prefix.value).toBe("runs/nightly/");
  });
});

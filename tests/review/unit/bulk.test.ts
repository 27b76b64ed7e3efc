import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { ConflictError } from "../../../lib/common/domain/errors.ts";
import { mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { BulkBatch, BulkRequest } from "../../../lib/review/domain/bulk.ts";
import { SubmitRequest } from "../../../lib/review/domain/review.ts";
import { countBulk, createBulk, runBulk, undoBulk } from "../../../lib/review/usecases/bulk.ts";
import { nextCandidate } from "../../../lib/review/usecases/leases.ts";
import { submitDecision, undoDecision } from "../../../lib/review/usecases/review.ts";
import {
  MemoryBulkStore,
  MemoryLeaseStore,
  MemoryQueue,
  MemoryReviewStore,
  storedCandidate,
} from "../../support/review-fakes.ts";

const ADMIN = { id: "sub-admin", name: "admin@example.com" };
const now = () => new Date("2026-05-01T10:00:00.000Z");
const nonZero = (counters: Record<string, number>) =>
  Object.fromEntries(Object.entries(counters).filter(([, v]) => v !== 0));

function world() {
  const store = new MemoryReviewStore();
  for (let i = 0; i < 10; i++) {
    const run = i < 7 ? "broken" : "fine";
    const base = storedCandidate(`c${i}`);
    store.add({ ...base, provenance: { ...base.provenance, source_run_id: run } } as typeof base);
  }
  const deps = {
    bulk: new MemoryBulkStore(store),
    store,
    queue: new MemoryQueue(store),
    now,
    newId: () => "b1",
  };
  return { store, deps };
}

describe("BulkRequest", () => {
  it("needs an action and at least one filter; a dry run is asked for", () => {
    expect(BulkRequest.safeParse({ action: "discard" }).success).toBe(false);
    expect(BulkRequest.safeParse({ action: "correct", run_id: "r" }).success).toBe(false);
    expect(
      BulkRequest.parse({ action: "flag", run_id: "r", failure_category: "hallucination" }),
    ).toMatchObject({
      dry_run: false,
      failure_category: "hallucination",
    });
    expect(BulkBatch.parse({}).limit).toBe(100);
    expect(BulkBatch.safeParse({ limit: 201 }).success).toBe(false);
  });
});

describe("a bulk discard of a run", () => {
  it("counts first, then decides in batches, each candidate once, skipping what others decided meanwhile", async () => {
    const { store, deps } = world();
    const request = BulkRequest.parse({
      action: "discard",
      run_id: "broken",
      failure_category: "scoring_artifact",
    });
    expect(await countBulk(deps, request)).toEqual({ matched: 7, matched_over_policy: 0 });
    expect(store.events).toEqual([]);

    const job = await createBulk(deps, request, ADMIN);
    expect(job).toMatchObject({ id: "b1", state: "running", target: "discarded", decided: 0 });

    let after = await runBulk(deps, "b1", 3, ADMIN);
    expect(after).toMatchObject({ state: "running", decided: 3, skipped: 0 });
    // A reviewer decides one the bulk has not reached; another holds one under a lease.
    await submitDecision(
      { store, now },
      SubmitRequest.parse({ id: "c4", action: "correct", corrected_response: "x" }),
      "ana",
    );
    const leases = new MemoryLeaseStore(store);
    expect(
      (await nextCandidate({ leases, now }, { lease_seconds: 600, skip: ["c3"] }, "bo")).candidate?.id,
    ).toBe("c5");

    // And one is decided by a reviewer between the bulk's read of the queue and its write.
    const walk = deps.queue.walkRunItems.bind(deps.queue);
    deps.queue.walkRunItems = async (w) => {
      const page = await walk(w);
      await submitDecision({ store, now }, SubmitRequest.parse({ id: "c3", action: "flag" }), "cy");
      return page;
    };
    after = await runBulk(deps, "b1", 3, ADMIN);
    expect(after).toMatchObject({ state: "done", decided: 4, skipped: 1 });
    expect(store.candidates.get("c3")).toMatchObject({ status: "model_rejected", reviewer: "cy" });
    expect(store.candidates.get("c4")?.status).toBe("approved");
    // Held by a reviewer: left to them, not in the bulk's walk of the queue.
    expect(store.candidates.get("c5")?.status).toBe("needs_review");
    expect(store.candidates.get("c7")?.status).toBe("needs_review");
    expect(store.events.filter((e) => e.bulk_id === "b1").map((e) => e.candidate_id)).toEqual([
      "c0",
      "c1",
      "c2",
      "c6",
    ]);
    expect(store.candidates.get("c0")).toMatchObject({
      status: "discarded",
      failure_category: "scoring_artifact",
    });
    await expect(runBulk(deps, "b1", 3, ADMIN)).rejects.toThrow(ConflictError);
  });

  it("is undone as one action, leaving candidates changed since, and the counters return", async () => {
    const { store, deps } = world();
    const initial = nonZero(store.counters);
    await createBulk(deps, BulkRequest.parse({ action: "flag", run_id: "broken" }), ADMIN);
    await runBulk(deps, "b1", 100, ADMIN);
    // Changed since: undone by a reviewer, then decided again.
    await undoDecision({ store, now }, "c2", "ana");
    await submitDecision({ store, now }, SubmitRequest.parse({ id: "c2", action: "discard" }), "ana");

    let job = await undoBulk(deps, "b1", 4, ADMIN);
    expect(job).toMatchObject({ state: "undoing" });
    job = await undoBulk(deps, "b1", 4, ADMIN);
    expect(job).toMatchObject({ state: "undone", undone: 6, undo_skipped: 1 });
    expect(store.candidates.get("c2")?.status).toBe("discarded");
    expect([0, 1, 3, 4, 5, 6].map((i) => store.candidates.get(`c${i}`)?.status)).toEqual(
      Array(6).fill("needs_review"),
    );
    const c2Delta = nonZero(
      mergeDeltas([store.counters, Object.fromEntries(Object.entries(initial).map(([k, v]) => [k, -v]))]),
    );
    // All that differs from the start is c2's own discard.
    expect(c2Delta).toMatchObject({ "status#discarded": 1, "status#needs_review": -1 });
    await expect(undoBulk(deps, "b1", 4, ADMIN)).rejects.toThrow(ConflictError);
  });

  it("refuses a batch saved over by another batch that ran meanwhile", async () => {
    const { deps } = world();
    await createBulk(deps, BulkRequest.parse({ action: "discard", run_id: "broken" }), ADMIN);
    const save = deps.bulk.save.bind(deps.bulk);
    deps.bulk.save = async (job, expected) => {
      await save({ ...job, version: job.version + 1 }, expected);
      return false;
    };
    await expect(runBulk(deps, "b1", 2, ADMIN)).rejects.toThrow(/moved on by another call/);
  });

  it("skips a candidate a reviewer voted on after the queue listed it, leaving the double review whole", async () => {
    const { store, deps } = world();
    // The first vote of a double review lands between the bulk's read of the queue and its decision.
    const voted = store.candidates.get("c0");
    store.candidates.set("c0", {
      ...voted,
      votes: 1,
      voters: ["ana"],
      vote_round: 0,
      version: 2,
    } as NonNullable<typeof voted>);
    await createBulk(deps, BulkRequest.parse({ action: "discard", run_id: "broken" }), ADMIN);
    const job = await runBulk(deps, "b1", 7, ADMIN);
    expect(job).toMatchObject({ decided: 6, skipped: 1 });
    expect(store.candidates.get("c0")).toMatchObject({ status: "needs_review", votes: 1, voters: ["ana"] });
  });
});

describe("a bulk under a double-review policy", () => {
  it("decides the candidates the policy asks two reviews of as the admin past it, counting and recording them", async () => {
    const { store, deps } = world();
    // c1, c3 and c5 of the broken run are `proof`, which the policy asks two reviews of.
    for (const id of ["c1", "c3", "c5"]) {
      store.candidates.set(id, { ...(store.candidates.get(id) as Candidate), task_type: "proof" });
    }
    const provenanceOf = (id: string) =>
      store.candidates.get(id)?.provenance as unknown as Record<string, unknown>;
    const policy = {
      readPolicy: async () => ({
        rules: [{ task_type: "proof", reviews_required: 2 }],
        updated_by: "sub-admin",
        updated_at: null,
      }),
    };
    const request = BulkRequest.parse({ action: "flag", run_id: "broken" });
    expect(await countBulk({ ...deps, policy }, request)).toEqual({ matched: 7, matched_over_policy: 3 });
    await createBulk(deps, request, ADMIN);
    const job = await runBulk({ ...deps, policy }, "b1", 100, ADMIN);
    expect(job).toMatchObject({ state: "done", decided: 7, decided_over_policy: 3, skipped: 0 });
    const over = store.events.filter((event) => event.policy_override);
    expect(over.map((event) => [event.candidate_id, event.reviews_required, event.bulk_id])).toEqual([
      ["c1", 2, "b1"],
      ["c3", 2, "b1"],
      ["c5", 2, "b1"],
    ]);
    expect(provenanceOf("c1")).toMatchObject({
      excluded_by: "sub-admin",
      decided_in_bulk: "b1",
      policy_override: true,
      reviews_required: 2,
    });
    expect(provenanceOf("c0")).toMatchObject({ decided_in_bulk: "b1" });
    expect(provenanceOf("c0").policy_override).toBeUndefined();

    const undone = await undoBulk(deps, "b1", 100, ADMIN);
    expect(undone).toMatchObject({ state: "undone", undone: 7 });
    expect(provenanceOf("c1")).not.toHaveProperty("decided_in_bulk");
    expect(provenanceOf("c1")).not.toHaveProperty("policy_override");
  });
});

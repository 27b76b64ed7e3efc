import { describe, expect, it } from "vitest";
import { RecordingMetrics } from "../../../lib/common/metrics.ts";
import { BulkRequest } from "../../../lib/review/domain/bulk.ts";
import { SubmitRequest } from "../../../lib/review/domain/review.ts";
import { REVIEW_METRICS } from "../../../lib/review/metrics.ts";
import { createBulk, runBulk, undoBulk } from "../../../lib/review/usecases/bulk.ts";
import { submitDecision, undoDecision } from "../../../lib/review/usecases/review.ts";
import {
  MemoryBulkStore,
  MemoryQueue,
  MemoryReviewStore,
  storedCandidate,
} from "../../support/review-fakes.ts";

const now = () => new Date("2026-05-01T10:00:00.000Z");
const ADMIN = { id: "sub-admin", name: "admin@example.com" };

describe("the review metrics", () => {
  it("count each decision under its action, and each undo", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1")).add(storedCandidate("c2"));
    const metrics = new RecordingMetrics();
    const deps = { store, now, metrics };
    await submitDecision(
      deps,
      SubmitRequest.parse({ id: "c1", action: "correct", corrected_response: "4" }),
      "ana",
    );
    await submitDecision(deps, SubmitRequest.parse({ id: "c2", action: "discard" }), "ana");
    await undoDecision(deps, "c1", "bo");
    expect(metrics.total(REVIEW_METRICS.decisions)).toBe(2);
    expect(metrics.total(REVIEW_METRICS.decisions, "correct")).toBe(1);
    expect(metrics.total(REVIEW_METRICS.decisions, "discard")).toBe(1);
    expect(metrics.total(REVIEW_METRICS.undos)).toBe(1);
  });

  it("count nothing for a decision refused (a candidate decided already)", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const metrics = new RecordingMetrics();
    const deps = { store, now, metrics };
    await submitDecision(deps, SubmitRequest.parse({ id: "c1", action: "discard" }), "ana");
    await expect(
      submitDecision(deps, SubmitRequest.parse({ id: "c1", action: "discard" }), "bo"),
    ).rejects.toThrow();
    expect(metrics.total(REVIEW_METRICS.decisions)).toBe(1);
  });

  it("count a bulk's decisions by its action and its undone decisions", async () => {
    const store = new MemoryReviewStore();
    for (let i = 0; i < 5; i++) store.add(storedCandidate(`c${i}`));
    const metrics = new RecordingMetrics();
    const deps = {
      bulk: new MemoryBulkStore(store),
      store,
      queue: new MemoryQueue(store),
      now,
      newId: () => "b1",
      metrics,
    };
    await createBulk(
      deps,
      BulkRequest.parse({ action: "discard", run_id: "run-1", failure_category: "scoring_artifact" }),
      ADMIN,
    );
    const done = await runBulk(deps, "b1", 10, ADMIN);
    expect(done.decided).toBeGreaterThan(0);
    expect(metrics.total(REVIEW_METRICS.decisions, "discard")).toBe(done.decided);
    const undone = await undoBulk(deps, "b1", 10, ADMIN);
    expect(metrics.total(REVIEW_METRICS.undos)).toBe(undone.undone);
    expect(undone.undone).toBe(done.decided);
  });
});

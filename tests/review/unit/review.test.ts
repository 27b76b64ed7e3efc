import { describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { ConflictError } from "../../../lib/common/domain/errors.ts";
import { deltaForChange, deltaForNew, reviewStats } from "../../../lib/common/domain/stats.ts";
import { statusOf } from "../../../lib/common/http/errors.ts";
import {
  DECISION_FACTS,
  MAX_CORRECTION_BYTES,
  planDecision,
  planUndo,
  SubmitRequest,
  staleConflict,
  UndoRequest,
} from "../../../lib/review/domain/review.ts";
import { approvedCandidate, storedCandidate } from "../../support/review-fakes.ts";

const AT = new Date("2026-05-01T10:00:00.000Z");
const decision = (body: Record<string, unknown>) => SubmitRequest.parse({ id: "c1", ...body });

describe("SubmitRequest", () => {
  it("keeps the correction for correct and the failure category for every action", () => {
    expect(
      decision({ action: "correct", corrected_response: "4", failure_category: "wrong_answer" }),
    ).toEqual({
      id: "c1",
      action: "correct",
      corrected_response: "4",
      failure_category: "wrong_answer",
    });
    expect(decision({ action: "discard", failure_category: "scoring_artifact" }).failure_category).toBe(
      "scoring_artifact",
    );
    expect(decision({ action: "flag", failure_category: "hallucination" }).failure_category).toBe(
      "hallucination",
    );
  });

  it("makes an absent or null category null, and drops a correction sent with discard or flag", () => {
    expect(decision({ action: "flag" })).toEqual({
      id: "c1",
      action: "flag",
      corrected_response: null,
      failure_category: null,
    });
    expect(decision({ action: "discard", failure_category: null, corrected_response: "x" })).toMatchObject({
      failure_category: null,
      corrected_response: null,
    });
  });

  it.each([
    [{ action: "correct" }, ["corrected_response"]],
    [{ action: "correct", corrected_response: null }, ["corrected_response"]],
    [{ action: "correct", corrected_response: " \t\n" }, ["corrected_response"]],
    [{ action: "correct", corrected_response: "x".repeat(MAX_CORRECTION_BYTES + 1) }, ["corrected_response"]],
    [{ action: "discard", failure_category: "rudeness" }, ["failure_category"]],
    [{ action: "approve" }, ["action"]],
    [{ action: "discard", id: "  " }, ["id"]],
    [{ action: "discard", id: 7 }, ["id"]],
  ])("refuses %o", (body, path) => {
    const parsed = SubmitRequest.safeParse({ id: "c1", ...body });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues.map((issue) => issue.path)).toContainEqual(path);
  });

  it("needs an id to undo", () => {
    expect(UndoRequest.safeParse({}).success).toBe(false);
    expect(UndoRequest.parse({ id: "c1", extra: true })).toEqual({ id: "c1" });
  });
});

describe("planDecision", () => {
  const candidate = storedCandidate("c1");

  it("moves a waiting candidate to the action's status, one version up, with its event", () => {
    const transition = planDecision(
      candidate,
      decision({ action: "correct", corrected_response: "4", failure_category: "wrong_answer" }),
      "ana@example.com",
      AT,
    );

    expect(transition).toMatchObject({
      from: "needs_review",
      to: "approved",
      expectedVersion: 1,
      version: 2,
      corrected_response: "4",
      failure_category: "wrong_answer",
      reviewer: "ana@example.com",
      decided_at: AT.toISOString(),
      updated_by: "ana@example.com",
      event: {
        candidate_id: "c1",
        action: "correct",
        from: "needs_review",
        to: "approved",
        failure_category: "wrong_answer",
        reviewer: "ana@example.com",
        at: AT.toISOString(),
        version: 2,
      },
    });
  });

  it.each([
    ["discard", "discarded"],
    ["flag", "model_rejected"],
  ] as const)("%s → %s, excluded in provenance", (action, to) => {
    const transition = planDecision(candidate, decision({ action }), "ana", AT);
    expect(transition.to).toBe(to);
    expect(transition.corrected_response).toBeNull();
    expect(transition.provenance).toEqual({
      set: {
        approved: false,
        excluded: true,
        exclusion_reason: to,
        excluded_by: "ana",
        excluded_at: AT.toISOString(),
      },
      remove: [
        "approved_by",
        "approved_at",
        "correction_origin",
        "suggestion_id",
        "suggestion_model",
        "suggestion_prompt_version",
        ...DECISION_FACTS,
      ],
    });
  });

  it("names the decision and the failure category as the exclusion reason", () => {
    const transition = planDecision(
      candidate,
      decision({ action: "discard", failure_category: "hallucination" }),
      "ana",
      AT,
    );
    expect(transition.provenance.set.exclusion_reason).toBe("discarded:hallucination");
  });

  it("records approval in provenance and clears any earlier exclusion", () => {
    const transition = planDecision(
      candidate,
      decision({ action: "correct", corrected_response: "4" }),
      "ana",
      AT,
    );
    expect(transition.provenance).toEqual({
      set: {
        approved: true,
        approved_by: "ana",
        approved_at: AT.toISOString(),
        correction_origin: "written",
      },
      remove: [
        "excluded",
        "exclusion_reason",
        "excluded_by",
        "excluded_at",
        "suggestion_id",
        "suggestion_model",
        "suggestion_prompt_version",
        ...DECISION_FACTS,
      ],
    });
  });

  it("moves the counters: out of the queue, into the status, export-ready only with a correction", () => {
    const approve = planDecision(
      candidate,
      decision({ action: "correct", corrected_response: "4" }),
      "ana",
      AT,
    );
    const flag = planDecision(candidate, decision({ action: "flag" }), "ana", AT);

    expect(approve.counterDelta).toEqual({
      "status#needs_review": -1,
      "needs_review#model#m1": -1,
      "needs_review#task_type#math": -1,
      "needs_review#source#benchmark": -1,
      "status#approved": 1,
      export_ready: 1,
      prov_approved: 1,
      "correction_origin#written": 1,
    });
    expect(flag.counterDelta).toMatchObject({
      "status#needs_review": -1,
      "status#model_rejected": 1,
      prov_excluded: 1,
    });
    expect(flag.counterDelta.export_ready).toBeUndefined();
  });

  it.each(["approved", "discarded", "model_rejected"] as const)(
    "refuses a candidate already %s with a 409",
    (status) => {
      const decided = storedCandidate("c1", { status, version: 2 });
      const attempt = () => planDecision(decided, decision({ action: "discard" }), "ana", AT);
      expect(attempt).toThrow(ConflictError);
      expect(attempt).toThrow(`current status: ${status}`);
      try {
        attempt();
      } catch (error) {
        expect(statusOf(error as ConflictError)).toBe(409);
        expect((error as ConflictError).currentStatus).toBe(status);
      }
    },
  );
});

describe("planUndo", () => {
  it("brings a decision back to needs_review without correction, category or review facts", () => {
    const origin = storedCandidate("c1").provenance;
    const approved = storedCandidate("c1", {
      status: "approved",
      version: 2,
      corrected_response: "4",
      failure_category: "wrong_answer",
      provenance: { ...origin, approved: true, approved_by: "ana", approved_at: AT.toISOString() },
    } as Partial<Candidate>);

    const transition = planUndo(approved, "bo", AT);

    expect(transition).toMatchObject({
      from: "approved",
      to: "needs_review",
      expectedVersion: 2,
      version: 3,
      corrected_response: null,
      failure_category: null,
      reviewer: null,
      decided_at: null,
      updated_by: "bo",
      event: { action: "undo", from: "approved", to: "needs_review", reviewer: "bo", version: 3 },
    });
    expect(transition.provenance.set).toEqual({});
    expect(transition.provenance.remove).toEqual(
      expect.arrayContaining(["approved", "excluded", "exclusion_reason"]),
    );
    expect(transition.counterDelta).toEqual({
      "status#approved": -1,
      export_ready: -1,
      "status#needs_review": 1,
      "needs_review#model#m1": 1,
      "needs_review#task_type#math": 1,
      "needs_review#source#benchmark": 1,
      prov_approved: -1,
    });
  });

  it("keeps the undone correction: its event holds the text, and it becomes the next draft", () => {
    const approved = storedCandidate("c1", {
      status: "approved",
      version: 2,
      corrected_response: "the fix",
    } as Partial<Candidate>);

    const transition = planUndo(approved, "bo", AT);

    expect(transition.corrected_response).toBeNull();
    expect(transition.draft_correction).toBe("the fix");
    expect(transition.event).toMatchObject({
      action: "undo",
      corrected_response: null,
      replaced_correction: "the fix",
    });
  });

  it("records the text a correction set in its event, and clears any draft", () => {
    const transition = planDecision(
      storedCandidate("c1"),
      decision({ action: "correct", corrected_response: "4" }),
      "ana",
      AT,
    );
    expect(transition.event).toMatchObject({
      action: "correct",
      corrected_response: "4",
      replaced_correction: null,
    });
    expect(transition.draft_correction).toBeNull();
  });

  it("refuses a candidate that is already needs_review", () => {
    expect(() => planUndo(storedCandidate("c1"), "bo", AT)).toThrow("already needs_review");
  });
});

describe("counters", () => {
  it("count a new candidate everywhere, and waiting ones by queue dimension", () => {
    expect(deltaForNew(storedCandidate("c1"))).toEqual({
      total: 1,
      "model#m1": 1,
      "task_type#math": 1,
      "source#benchmark": 1,
      "status#needs_review": 1,
      "needs_review#model#m1": 1,
      "needs_review#task_type#math": 1,
      "needs_review#source#benchmark": 1,
      "prov_valid#source#benchmark": 1,
      "prov_valid#model#m1": 1,
    });
  });

  it("leave out what a change does not move", () => {
    const before = approvedCandidate("c1");
    expect(deltaForChange(before, { ...before, corrected_response: "5" })).toEqual({});
    expect(deltaForChange(before, { ...before, corrected_response: "  " })).toEqual({ export_ready: -1 });
  });

  it("count export_ready only for what an SFT export delivers", () => {
    const ready = approvedCandidate("c1");
    expect(deltaForNew(ready).export_ready).toBe(1);
    const { approved_by: _, ...unsigned } = ready.provenance as unknown as Record<string, unknown>;
    const notReady = [
      { ...ready, status: "needs_review" as const },
      { ...ready, corrected_response: " " },
      { ...ready, prompt_ready: false },
      { ...ready, provenance: { ...ready.provenance, model: null } },
      { ...ready, provenance: unsigned as unknown as Candidate["provenance"] },
    ];
    for (const candidate of notReady) expect(deltaForNew(candidate).export_ready).toBeUndefined();
    // Stored before the prompt was judged: taken at its word.
    expect(deltaForNew({ ...ready, prompt_ready: undefined }).export_ready).toBe(1);
  });

  it("become Avocet's stats, every status present", () => {
    const stats = reviewStats(
      {
        total: 3,
        "status#approved": 1,
        "status#needs_review": 2,
        "model#m1": 3,
        "task_type#math": 3,
        export_ready: 1,
        awaiting_votes: 1,
      },
      ["needs_review", "approved", "discarded", "model_rejected"],
    );
    expect(stats).toEqual({
      total: 3,
      by_status: { needs_review: 2, approved: 1, discarded: 0, model_rejected: 0 },
      by_model: { m1: 3 },
      by_task_type: { math: 3 },
      by_source: {},
      export_ready: 1,
      awaiting_votes: 1,
      awaiting_adjudication: 0,
      suggestions: { accepted: 0, edited: 0, written: 0, acceptance_rate: null },
    });
  });
});

describe("staleConflict", () => {
  it("names the status the candidate moved to", () => {
    const error = staleConflict({ id: "c1", status: "discarded" });
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toContain("current status: discarded");
  });
});

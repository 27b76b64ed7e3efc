import { describe, expect, it } from "vitest";
import { ConflictError } from "../../../lib/common/domain/errors.ts";
import { agreementReport, cohensKappa } from "../../../lib/review/domain/agreement.ts";
import {
  correctionKey,
  normaliseCorrection,
  planVote,
  ReviewPolicyRequest,
  type ReviewRound,
  reviewsRequired,
  type Vote,
  votesAgree,
} from "../../../lib/review/domain/double-review.ts";
import { NextRequest } from "../../../lib/review/domain/lease.ts";
import type { ReviewAction, ReviewSubject } from "../../../lib/review/domain/review.ts";
import {
  daysOf,
  type LogEvent,
  reviewerNumbers,
  windowOf,
} from "../../../lib/review/domain/reviewer-numbers.ts";
import { nextCandidate } from "../../../lib/review/usecases/leases.ts";
import { MemoryLeaseStore, MemoryReviewStore, storedCandidate } from "../../support/review-fakes.ts";

const AT = new Date("2026-05-01T10:00:00.000Z");

const subject = (over: Partial<ReviewSubject> = {}): ReviewSubject => ({
  id: "c1",
  status: "needs_review",
  version: 3,
  corrected_response: null,
  failure_category: null,
  timestamp: "2026-04-07T14:30:22Z",
  task_type: "math",
  provenance: { source: "bench", model: "m" } as ReviewSubject["provenance"],
  prompt_ready: true,
  ...over,
});

const decision = (action: ReviewAction, text: string | null = null) => ({
  id: "c1",
  action,
  corrected_response: action === "correct" ? text : null,
  failure_category: null,
});

const vote = (reviewer: string, action: ReviewAction, text: string | null = null): Vote => ({
  candidate_id: "c1",
  round: 0,
  reviewer,
  action,
  corrected_response: action === "correct" ? text : null,
  failure_category: null,
  at: AT.toISOString(),
});

describe("the review policy", () => {
  const policy = {
    rules: [
      { source: "bench", reviews_required: 2 },
      { task_type: "legal", reviews_required: 3 },
      { source: "chat", task_type: "math", reviews_required: 2 },
    ],
  };

  it("asks the highest number of reviews among the rules a candidate matches, 1 when none", () => {
    expect(reviewsRequired(policy, subject())).toBe(2);
    expect(reviewsRequired(policy, subject({ task_type: "legal" }))).toBe(3);
    expect(
      reviewsRequired(policy, subject({ provenance: { source: "chat" } as ReviewSubject["provenance"] })),
    ).toBe(2);
    expect(
      reviewsRequired(
        policy,
        subject({ task_type: "code", provenance: { source: "chat" } as ReviewSubject["provenance"] }),
      ),
    ).toBe(1);
    expect(reviewsRequired({ rules: [] }, subject())).toBe(1);
  });

  it("refuses rules out of range, unknown fields and two rules for the same source and task type", () => {
    expect(ReviewPolicyRequest.safeParse({ rules: [{ reviews_required: 6 }] }).success).toBe(false);
    expect(ReviewPolicyRequest.safeParse({ rules: [{ reviews_required: 2, model: "x" }] }).success).toBe(
      false,
    );
    const twice = ReviewPolicyRequest.safeParse({
      rules: [
        { source: "a", reviews_required: 2 },
        { source: "a", reviews_required: 3 },
      ],
    });
    expect(twice.success).toBe(false);
    expect(ReviewPolicyRequest.parse({ rules: [{ source: "a", reviews_required: 2 }] }).rules).toHaveLength(
      1,
    );
  });
});

describe("agreement between two decisions", () => {
  it("compares corrections by their normalised text: blanks and line endings aside, case and punctuation count", () => {
    expect(normaliseCorrection("  Answer:\t27.5 \r\n\r\n\r\n next  ")).toBe("Answer: 27.5\n\nnext");
    expect(votesAgree(vote("a", "correct", "Answer:  27.5\n"), vote("b", "correct", "Answer: 27.5"))).toBe(
      true,
    );
    expect(votesAgree(vote("a", "correct", "Answer: 27.5"), vote("b", "correct", "answer: 27.5"))).toBe(
      false,
    );
    expect(votesAgree(vote("a", "correct", "27.5"), vote("b", "correct", "27,5"))).toBe(false);
    expect(correctionKey("e\u0301")).toBe(correctionKey("\u00e9"));
  });

  it("counts the same action as agreement for discard and flag, whatever the category", () => {
    expect(votesAgree({ ...vote("a", "discard") }, { ...vote("b", "discard") })).toBe(true);
    expect(votesAgree(vote("a", "discard"), vote("b", "flag"))).toBe(false);
  });
});

describe("planVote", () => {
  it("waits for the votes a candidate needs, then settles agreeing votes with the first vote's decision", () => {
    const first = planVote(subject(), decision("correct", "4"), "ana", AT, 2, []);
    expect(first.kind).toBe("awaiting");
    const second = planVote(subject({ votes: 1, voters: ["ana"] }), decision("correct", " 4 "), "bo", AT, 2, [
      first.vote,
    ]);
    expect(second.kind).toBe("settle");
    expect(second.kind === "settle" && second.decision.corrected_response).toBe("4");
  });

  it("sends disagreeing votes to adjudication", () => {
    const outcome = planVote(subject({ votes: 1, voters: ["ana"] }), decision("discard"), "bo", AT, 2, [
      vote("ana", "correct", "4"),
    ]);
    expect(outcome.kind).toBe("adjudicate");
    expect(outcome.kind === "adjudicate" && outcome.votes.map((v) => v.reviewer)).toEqual(["ana", "bo"]);
  });

  it("refuses a second vote of the same reviewer, and any vote on a candidate in adjudication", () => {
    expect(() =>
      planVote(subject({ votes: 1, voters: ["ana"] }), decision("discard"), "ana", AT, 2, [
        vote("ana", "discard"),
      ]),
    ).toThrow(/already voted/);
    expect(() => planVote(subject({ adjudication: true }), decision("discard"), "cy", AT, 2, [])).toThrow(
      ConflictError,
    );
    expect(() => planVote(subject({ status: "approved" }), decision("discard"), "cy", AT, 2, [])).toThrow(
      /approved/,
    );
  });

  it("records when the voter's lease began, only under their own lease", () => {
    const leased = subject({
      lease_holder: "ana",
      lease_expires_at: "2026-05-01T10:10:00.000Z",
      lease_started_at: "2026-05-01T09:59:00.000Z",
    });
    expect(planVote(leased, decision("flag"), "ana", AT, 2, []).vote.lease_started_at).toBe(
      "2026-05-01T09:59:00.000Z",
    );
    // Someone else's live lease blocks the vote.
    expect(() => planVote(leased, decision("flag"), "bo", AT, 2, [])).toThrow(/leased to ana/);
  });
});

/**
 * A hand computation of Cohen's κ. Reviewer `a` (rater 1, rows) and `b` (rater 2, columns) over
 * 50 candidates:
 *
 *                 b: correct  discard  flag | a's total
 *   a: correct         20        5      0  |   25
 *   a: discard          3       10      2  |   15
 *   a: flag             0        1      9  |   10
 *   b's total          23       16     11  |   50
 *
 *   p_o = (20 + 10 + 9) / 50 = 0.78
 *   p_e = (25·23 + 15·16 + 10·11) / 50² = (575 + 240 + 110) / 2500 = 0.37
 *   κ   = (0.78 − 0.37) / (1 − 0.37) = 0.41 / 0.63 = 0.650793… → 0.6508
 *
 * `correct` against the rest: [[20, 5], [3, 22]]: p_o = 42/50 = 0.84, p_e = 0.5·0.46 + 0.5·0.54
 * = 0.5, κ = 0.34 / 0.5 = 0.68; specific agreement 2·20 / (25 + 23) = 0.8333.
 * Two of the 20 correct/correct pairs differ in their text: percent agreement (37/50 = 74%) counts
 * them as disagreements, κ (over the action) does not.
 */
describe("agreement statistics against a hand computation", () => {
  const TABLE: [ReviewAction, ReviewAction, number][] = [
    ["correct", "correct", 20],
    ["correct", "discard", 5],
    ["discard", "correct", 3],
    ["discard", "discard", 10],
    ["discard", "flag", 2],
    ["flag", "discard", 1],
    ["flag", "flag", 9],
  ];
  const rounds: ReviewRound[] = [];
  for (const [a, b, count] of TABLE) {
    for (let i = 0; i < count; i++) {
      const n = rounds.length;
      const differ = a === "correct" && b === "correct" && i < 2;
      rounds.push({
        candidate_id: `c${n}`,
        round: 0,
        at: AT.toISOString(),
        task_type: "math",
        source: "bench",
        agreed: a === b && !differ,
        // Listed b first: the report reads the pair by id order, so `a` is still rater 1.
        votes: [
          {
            reviewer: "b",
            action: b,
            failure_category: null,
            text_key: b === "correct" ? (differ ? "x" : "k") : null,
          },
          {
            reviewer: "a",
            reviewer_name: "Ana",
            action: a,
            failure_category: null,
            text_key: a === "correct" ? "k" : null,
          },
        ],
        ...(a === b && !differ
          ? {}
          : i === 0
            ? { adjudication: { action: a, reviewer: "admin", at: AT.toISOString() } }
            : {}),
      });
    }
  }

  it("gives κ, percent and the per-action figures of the table", () => {
    const report = agreementReport(rounds);
    expect(report.rounds).toBe(50);
    expect(report.overall.n).toBe(50);
    expect(report.overall.kappa).toBe(0.6508);
    expect(report.overall.percent).toBe(74);
    expect(report.overall.by_category.correct).toEqual({
      kappa: 0.68,
      specific_agreement: 0.8333,
      rater1: 25,
      rater2: 23,
      both: 20,
    });
    expect(report.overall.confusion.correct).toEqual({ correct: 20, discard: 5, flag: 0 });
    expect(report.pairs).toHaveLength(1);
    expect(report.pairs[0]).toMatchObject({
      rater1: "a",
      rater2: "b",
      rater1_name: "Ana",
      kappa: 0.6508,
      n: 50,
    });
    expect(report.settled_by_agreement).toBe(37);
    expect(report.adjudicated + report.awaiting_adjudication).toBe(13);
  });

  it("has no κ when chance agreement is certain, and none without ratings", () => {
    expect(
      cohensKappa([
        [5, 0],
        [0, 0],
      ]),
    ).toBeNull();
    expect(cohensKappa([[0]])).toBeNull();
    expect(agreementReport([]).overall).toMatchObject({ n: 0, percent: null, kappa: null });
    // Perfect agreement over two actions is κ 1; systematic disagreement below 0.
    expect(
      cohensKappa([
        [3, 0],
        [0, 2],
      ]),
    ).toBe(1);
    expect(
      cohensKappa([
        [0, 3],
        [2, 0],
      ]),
    ).toBeLessThan(0);
  });

  it("reads a round of three votes as three pairs", () => {
    const report = agreementReport([
      {
        candidate_id: "c",
        round: 0,
        at: AT.toISOString(),
        task_type: null,
        source: null,
        agreed: false,
        votes: [
          { reviewer: "a", action: "flag", failure_category: null, text_key: null },
          { reviewer: "b", action: "flag", failure_category: null, text_key: null },
          { reviewer: "c", action: "discard", failure_category: null, text_key: null },
        ],
      },
    ]);
    expect(report.overall).toMatchObject({ n: 3, agreed: 1 });
    expect(report.pairs.map((p) => [p.rater1, p.rater2, p.agreed])).toEqual([
      ["a", "b", 1],
      ["a", "c", 0],
      ["b", "c", 0],
    ]);
  });
});

describe("reviewer numbers from a scripted log", () => {
  const at = (time: string) => `2026-05-01T${time}.000Z`;
  const events: LogEvent[] = [
    // Ana: three decisions in two clock hours, each under her lease (60 s, 30 s, 120 s).
    {
      action: "correct",
      reviewer: "ana",
      reviewer_name: "Ana",
      at: at("10:05:00"),
      lease_started_at: at("10:04:00"),
      correction_origin: "accepted",
    },
    {
      action: "correct",
      reviewer: "ana",
      at: at("10:20:00"),
      lease_started_at: at("10:19:30"),
      correction_origin: "edited",
    },
    { action: "discard", reviewer: "ana", at: at("11:10:00"), lease_started_at: at("11:08:00") },
    { action: "undo", reviewer: "ana", at: at("11:15:00") },
    // Bo: one decision without a lease (not timed), and a bulk job's decision (not counted).
    { action: "correct", reviewer: "bo", at: at("10:30:00"), correction_origin: "written" },
    { action: "discard", reviewer: "bo", at: at("10:31:00"), bulk_id: "b1" },
    // Outside the window.
    { action: "flag", reviewer: "bo", at: "2026-04-20T10:00:00.000Z" },
  ];
  const window = { from: "2026-04-30T00:00:00.000Z", to: "2026-05-02T00:00:00.000Z" };

  it("counts decisions per active hour, the median time from lease to decision, undos and acceptance", () => {
    const report = reviewerNumbers(events, window);
    const ana = report.reviewers.find((r) => r.reviewer === "ana");
    expect(ana).toMatchObject({
      reviewer_name: "Ana",
      decisions: 3,
      by_action: { correct: 2, discard: 1 },
      active_hours: 2,
      decisions_per_hour: 1.5,
      median_decision_seconds: 60,
      timed_decisions: 3,
      undos: 1,
      undo_rate: 0.3333,
      suggestions: { accepted: 1, edited: 1, written: 0, acceptance: 0.5 },
    });
    const bo = report.reviewers.find((r) => r.reviewer === "bo");
    expect(bo).toMatchObject({
      decisions: 1,
      median_decision_seconds: null,
      undo_rate: 0,
      suggestions: { acceptance: null },
    });
    expect(report.overall).toMatchObject({
      decisions: 4,
      active_hours: 2,
      decisions_per_hour: 2,
      median_decision_seconds: 60,
      undos: 1,
      undo_rate: 0.25,
      suggestions: { accepted: 1, edited: 1, written: 1, acceptance: 0.5 },
    });
  });

  it("takes the last 7 days by default, refuses a backwards or longer window, and reads each day it touches", () => {
    expect(windowOf({}, AT)).toEqual({ from: "2026-04-24T10:00:00.000Z", to: AT.toISOString() });
    expect(() => windowOf({ from: "2026-05-02T00:00:00Z", to: "2026-05-01T00:00:00Z" }, AT)).toThrow();
    expect(() => windowOf({ from: "2026-03-01T00:00:00Z", to: "2026-05-01T00:00:00Z" }, AT)).toThrow(
      /31 days/,
    );
    expect(daysOf({ from: "2026-04-30T23:00:00.000Z", to: "2026-05-02T01:00:00.000Z" })).toEqual([
      "2026-04-30",
      "2026-05-01",
      "2026-05-02",
    ]);
  });
});

describe("next under double review", () => {
  const ANA = { id: "sub-ana", name: "ana@example.com" };
  const BO = { id: "sub-bo", name: "bo@example.com" };

  it("serves a candidate waiting for a further vote first, never to a reviewer who voted on it", async () => {
    const store = new MemoryReviewStore().add(
      storedCandidate("c0", { timestamp: "2026-04-01T00:00:00Z" }),
      storedCandidate("c1", { timestamp: "2026-04-02T00:00:00Z" }),
      // Younger than both, but it has Ana's vote and waits for another reviewer.
      {
        ...storedCandidate("c2", { timestamp: "2026-04-03T00:00:00Z" }),
        votes: 1,
        voters: ["sub-ana"],
      } as never,
    );
    const leases = new MemoryLeaseStore(store);
    let clock = AT;
    const deps = { leases, now: () => clock, random: () => 0 };
    const request = NextRequest.parse({ lease_seconds: 60 });

    expect((await nextCandidate(deps, NextRequest.parse({}), ANA)).candidate?.id).toBe("c0");
    expect((await nextCandidate(deps, request, BO)).candidate?.id).toBe("c2");
    // Bo's lease runs out: Ana's next puts it back for others rather than taking it.
    clock = new Date(AT.getTime() + 120_000);
    const anaAgain = await nextCandidate(deps, NextRequest.parse({ skip: ["c0"] }), ANA);
    expect(anaAgain.candidate?.id).toBe("c1");
    expect(store.candidates.get("c2")?.lease_holder).toBeUndefined();
    expect((await nextCandidate(deps, request, BO)).candidate?.id).toBe("c2");
  });
});

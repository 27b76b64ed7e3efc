import { beforeAll, describe, expect, it } from "vitest";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { LeaseTable } from "../../../lib/review/adapters/lease-table.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";
import { ReviewTable } from "../../../lib/review/adapters/review-table.ts";
import { VoteTable } from "../../../lib/review/adapters/vote-table.ts";
import { NextRequest } from "../../../lib/review/domain/lease.ts";
import { SubmitRequest } from "../../../lib/review/domain/review.ts";
import { decide, reviewerStats, writePolicy } from "../../../lib/review/usecases/double-review.ts";
import { nextCandidate } from "../../../lib/review/usecases/leases.ts";
import { undoDecision } from "../../../lib/review/usecases/review.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { countersMatchRecount, importRun, reviewApi } from "../../support/review-api.ts";
import { candidateLines, SOURCE, uploadRun } from "../../support/review-fixtures.ts";

/**
 * Double review against DynamoDB Local, through the API function behind the JWT authorizer (each
 * reviewer their own `sub`), and through the use cases with fixed clocks for reviewer numbers.
 * After each settlement the stored counters are compared with the admin recount's scan.
 */

let aws: TestAws;
const api = reviewApi();
const { as, admin, ana, bo, cy } = api;
const RUN = "2026-03-05-double";
const SCRIPTED = "2026-03-06-scripted";

const stats = async () => (await ana("GET", "/api/sft/stats")).body.by_status as Record<string, number>;

beforeAll(async () => {
  aws = await provisionTestAws("double");
  await api.load(aws);
  await importRun(aws, admin, RUN, candidateLines(RUN, 6));
}, 120_000);

describe("double review through the API", () => {
  it("is set by an admin only, and read by reviewers", async () => {
    const rules = [{ source: SOURCE, reviews_required: 2 }];
    expect((await ana("POST", "/api/sft/review-policy", { body: { rules } })).status).toBe(403);
    expect(
      (await admin("POST", "/api/sft/review-policy", { body: { rules: [{ reviews_required: 9 }] } })).status,
    ).toBe(422);
    const set = await admin("POST", "/api/sft/review-policy", { body: { rules } });
    expect(set).toMatchObject({ status: 200, body: { rules, updated_by: "sub-admin" } });
    expect((await ana("GET", "/api/sft/review-policy")).body.rules).toEqual(rules);
  });

  it("settles agreeing votes once, sends disagreeing ones to adjudication, and keeps the counters equal to a recount", async () => {
    const before = await stats();

    // Ana takes the oldest candidate and votes: it waits for a second reviewer.
    const first = await ana("POST", "/api/sft/next", { body: { run_id: RUN } });
    const agreed = first.body.candidate.id as string;
    const vote = await ana("POST", "/api/sft/submit", {
      body: { id: agreed, action: "correct", corrected_response: "Answer:  42\n" },
    });
    expect(vote).toEqual({
      status: 200,
      body: { ok: true, review: { state: "awaiting_votes", votes: 1, reviews_required: 2 } },
    });
    expect(await stats()).toEqual(before);
    // Out of the queue's partitions while it waits, it is still read by an export of needs_review.
    const views = new CandidateViews({ getCandidateBody: () => Promise.reject(new Error("no bodies")) });
    const streamed: string[] = [];
    for await (const batch of new QueueTable(aws.clients.dynamodb, aws.resources.tableName, views).stream({
      statuses: ["needs_review"],
      filters: { run_id: RUN },
      range: {},
    })) {
      streamed.push(...batch.map((c) => c.id));
    }
    expect(streamed).toContain(agreed);
    expect(new Set(streamed).size).toBe(streamed.length);

    // She cannot vote twice, and next never hands it back to her.
    const twice = await ana("POST", "/api/sft/submit", { body: { id: agreed, action: "discard" } });
    expect(twice.status).toBe(409);
    expect(twice.body.detail).toMatch(/already voted/);
    const anaNext = await ana("POST", "/api/sft/next", { body: { run_id: RUN } });
    const disputed = anaNext.body.candidate.id as string;
    expect(disputed).not.toBe(agreed);

    // Bo is served the candidate waiting for its second vote first, and agrees (same normalised text).
    const boNext = await bo("POST", "/api/sft/next", { body: { run_id: RUN } });
    expect(boNext.body.candidate.id).toBe(agreed);
    const settle = await bo("POST", "/api/sft/submit", {
      body: { id: agreed, action: "correct", corrected_response: "Answer: 42" },
    });
    expect(settle.body.review).toEqual({
      state: "decided",
      votes: 2,
      reviews_required: 2,
      settled_by: "agreement",
    });
    const settled = (await ana("GET", `/api/sft/candidates/${agreed}`)).body;
    expect(settled.candidate).toMatchObject({ status: "approved", corrected_response: "Answer:  42\n" });
    expect(
      settled.history.map((e: { action: string; vote?: boolean; settled_by?: string }) => [
        e.action,
        e.vote ?? false,
        e.settled_by ?? null,
      ]),
    ).toEqual([
      ["correct", true, null],
      ["correct", false, "agreement"],
    ]);
    expect(await stats()).toEqual({
      ...before,
      needs_review: (before.needs_review ?? 0) - 1,
      approved: (before.approved ?? 0) + 1,
    });
    await countersMatchRecount(admin);

    // Ana discards the one she holds; Bo flags it: they disagree.
    expect(
      (await ana("POST", "/api/sft/submit", { body: { id: disputed, action: "discard" } })).body.review.state,
    ).toBe("awaiting_votes");
    expect((await bo("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(disputed);
    const split = await bo("POST", "/api/sft/submit", {
      body: { id: disputed, action: "flag", failure_category: "wrong_answer" },
    });
    expect(split.body.review).toEqual({ state: "adjudication", votes: 2, reviews_required: 2 });
    expect((await stats()).needs_review).toBe((before.needs_review ?? 0) - 1);

    // Nobody is served it, nobody but an admin decides it.
    const served = new Set<string>();
    for (const call of [cy, cy, cy, cy]) {
      const next = await call("POST", "/api/sft/next", { body: { run_id: RUN } });
      if (next.body.candidate) served.add(next.body.candidate.id);
    }
    expect(served.has(disputed)).toBe(false);
    expect(
      (await cy("POST", "/api/sft/submit", { body: { id: disputed, action: "discard" } })).body.detail,
    ).toMatch(/adjudication/);
    expect((await ana("GET", "/api/sft/adjudication")).status).toBe(403);
    const queue = await admin("GET", "/api/sft/adjudication");
    expect(queue.body.items.map((c: { id: string }) => c.id)).toEqual([disputed]);
    expect(
      queue.body.items[0].votes_cast.map((v: { reviewer: string; action: string }) => [v.reviewer, v.action]),
    ).toEqual([
      ["sub-ana", "discard"],
      ["sub-bo", "flag"],
    ]);
    // An admin's decision on a candidate not in adjudication is refused.
    expect(
      (await admin("POST", `/api/sft/adjudication/${agreed}`, { body: { action: "flag" } })).status,
    ).toBe(409);

    const ruling = await admin("POST", `/api/sft/adjudication/${disputed}`, {
      body: { action: "flag", failure_category: "wrong_answer" },
    });
    expect(ruling).toMatchObject({
      status: 200,
      body: { ok: true, review: { state: "decided", settled_by: "adjudication" } },
    });
    expect((await admin("GET", "/api/sft/adjudication")).body.items).toEqual([]);
    expect(await stats()).toEqual({
      ...before,
      needs_review: (before.needs_review ?? 0) - 2,
      approved: (before.approved ?? 0) + 1,
      model_rejected: (before.model_rejected ?? 0) + 1,
    });
    await countersMatchRecount(admin);

    // Agreement: two rounds, one pair, one agreement of two.
    const agreement = await cy("GET", "/api/sft/stats/agreement");
    expect(agreement.status).toBe(200);
    expect(agreement.body).toMatchObject({
      rounds: 2,
      settled_by_agreement: 1,
      adjudicated: 1,
      awaiting_adjudication: 0,
    });
    expect(agreement.body.overall).toMatchObject({ n: 2, agreed: 1, percent: 50 });
    expect(agreement.body.pairs).toHaveLength(1);
    expect(agreement.body.pairs[0]).toMatchObject({
      rater1: "sub-ana",
      rater2: "sub-bo",
      rater1_name: "sub-ana@example.com",
    });
    // The rounds read are one window's, never every round kept: a window past 31 days is refused.
    const long = await cy("GET", "/api/sft/stats/agreement", {
      query: { from: new Date(Date.now() - 40 * 86_400_000).toISOString() },
    });
    expect(long.status).toBe(422);
    const beforeRounds = await cy("GET", "/api/sft/stats/agreement", {
      query: { from: "2020-01-01T00:00:00Z", to: "2020-01-02T00:00:00Z" },
    });
    expect(beforeRounds.body).toMatchObject({ rounds: 0 });

    // An undo of a settled candidate starts a new round: Ana may vote on it again.
    expect((await ana("POST", "/api/sft/undo", { body: { id: agreed } })).status).toBe(200);
    await countersMatchRecount(admin);
    const again = await ana("POST", "/api/sft/submit", { body: { id: agreed, action: "discard" } });
    expect(again.body.review).toEqual({ state: "awaiting_votes", votes: 1, reviews_required: 2 });
    // An undo of a vote that settled nothing takes it back: the candidate waits in the queue as before.
    expect((await bo("POST", "/api/sft/undo", { body: { id: agreed } })).status).toBe(409);
    expect((await ana("POST", "/api/sft/undo", { body: { id: agreed } })).status).toBe(200);
    const retracted = (await ana("GET", `/api/sft/candidates/${agreed}`)).body;
    expect(retracted.candidate).toMatchObject({ status: "needs_review", vote_round: 1 });
    expect(retracted.candidate.votes).toBeUndefined();
    expect(retracted.candidate.voters).toBeUndefined();
    expect(retracted.history.at(-1)).toMatchObject({
      action: "undo",
      from: "needs_review",
      to: "needs_review",
      vote: true,
    });
    const page = await ana("GET", "/api/sft/queue", { query: { run_id: RUN, per_page: "50" } });
    expect(page.body.items.map((c: { id: string }) => c.id)).toContain(agreed);
    await countersMatchRecount(admin);

    // Reviewer numbers count each vote as its reviewer's decision, and the admin's ruling.
    const numbers = await cy("GET", "/api/sft/stats/reviewers");
    expect(numbers.status).toBe(200);
    const of = (id: string) => numbers.body.reviewers.find((r: { reviewer: string }) => r.reviewer === id);
    expect(of("sub-ana")).toMatchObject({ decisions: 3, undos: 2, timed_decisions: 2 });
    expect(of("sub-bo")).toMatchObject({ decisions: 2, undos: 0, timed_decisions: 2 });
    expect(of("sub-admin")).toMatchObject({ decisions: 1, timed_decisions: 0 });
  });
});

describe("double review with concurrent reviewers", () => {
  it("has 4 reviewers working through next settle every candidate with two distinct votes, no 409, counters equal to a recount", async () => {
    const CROWD = "2026-03-07-crowd";
    await uploadRun(aws, CROWD, candidateLines(CROWD, 30, Date.UTC(2025, 0, 1)));
    expect((await admin("POST", "/api/sft/import", { body: { run_id: CROWD } })).status).toBe(200);
    expect(
      (
        await admin("POST", "/api/sft/review-policy", {
          body: { rules: [{ source: SOURCE, reviews_required: 2 }] },
        })
      ).status,
    ).toBe(200);
    const failures: unknown[] = [];
    const votes: Record<string, string[]> = {};
    // Reviewers holding a candidate: while one does, an empty `next` may only mean that the last
    // candidates are leased, and its vote can leave one waiting for another reviewer's.
    let holding = 0;
    await Promise.all(
      ["sub-r1", "sub-r2", "sub-r3", "sub-r4"].map(async (sub) => {
        const call = as(sub, "reviewer");
        for (;;) {
          const next = await call("POST", "/api/sft/next", { body: { run_id: CROWD } });
          if (next.status !== 200) {
            failures.push(next);
            continue;
          }
          const id = next.body.candidate?.id as string | undefined;
          if (!id) {
            if (holding === 0) return;
            await new Promise((resolve) => setTimeout(resolve, 20));
            continue;
          }
          holding += 1;
          const submit = await call("POST", "/api/sft/submit", { body: { id, action: "discard" } });
          if (submit.status !== 200) failures.push(submit);
          votes[id] = [...(votes[id] ?? []), sub];
          holding -= 1;
        }
      }),
    );
    expect(failures).toEqual([]);
    expect(Object.keys(votes)).toHaveLength(30);
    for (const [id, voters] of Object.entries(votes)) {
      expect(new Set(voters).size, id).toBe(2);
      expect(voters, id).toHaveLength(2);
    }
    for (const id of Object.keys(votes)) {
      const { candidate, history } = (await admin("GET", `/api/sft/candidates/${id}`)).body;
      expect(candidate.status, id).toBe("discarded");
      expect(
        history.map((e: { settled_by?: string }) => e.settled_by ?? null),
        id,
      ).toEqual([null, "agreement"]);
    }
    await countersMatchRecount(admin);
  }, 180_000);
});

describe("reviewer numbers from scripted decisions with fixed clocks", () => {
  it("gives decisions per hour, the median time from lease to decision and the undo rate", async () => {
    const { tableName } = aws.resources;
    const { dynamodb } = aws.clients;
    await uploadRun(aws, SCRIPTED, candidateLines(SCRIPTED, 4, Date.UTC(2026, 0, 2)));
    expect((await admin("POST", "/api/sft/import", { body: { run_id: SCRIPTED } })).status).toBe(200);
    const views = new CandidateViews({ getCandidateBody: () => Promise.reject(new Error("no bodies")) });
    const store = new ReviewTable(dynamodb, tableName, views);
    const queue = new QueueTable(dynamodb, tableName, views);
    const leases = new LeaseTable(dynamodb, tableName, views, queue, store);
    const votes = new VoteTable(dynamodb, tableName, views, store);
    let clock = new Date("2030-01-01T09:00:00.000Z");
    const now = () => clock;
    // Single review for this run's task types (the policy of the test above names the source).
    await writePolicy({ votes, now }, { rules: [] }, "sub-admin");
    const dee = { id: "sub-dee", name: "dee@example.com" };

    // Lease at 09:00:00, decide at 09:00:40 (40 s); lease at 09:01:00, decide at 09:01:20 (20 s);
    // lease at 10:30:00, decide at 10:31:30 (90 s); undo at 10:32:00.
    const steps: [string, string][] = [
      ["2030-01-01T09:00:00.000Z", "2030-01-01T09:00:40.000Z"],
      ["2030-01-01T09:01:00.000Z", "2030-01-01T09:01:20.000Z"],
      ["2030-01-01T10:30:00.000Z", "2030-01-01T10:31:30.000Z"],
    ];
    let last = "";
    for (const [leaseAt, decideAt] of steps) {
      clock = new Date(leaseAt);
      const next = await nextCandidate({ leases, now }, NextRequest.parse({ run_id: SCRIPTED }), dee);
      last = next.candidate?.id as string;
      clock = new Date(decideAt);
      await decide({ store, votes, now }, SubmitRequest.parse({ id: last, action: "discard" }), dee);
    }
    clock = new Date("2030-01-01T10:32:00.000Z");
    await undoDecision({ store, now }, last, dee);

    const report = await reviewerStats(
      { votes, now },
      { from: "2030-01-01T00:00:00.000Z", to: "2030-01-02T00:00:00.000Z" },
    );
    expect(report.reviewers).toEqual([
      {
        reviewer: "sub-dee",
        reviewer_name: "dee@example.com",
        decisions: 3,
        by_action: { discard: 3 },
        active_hours: 2,
        decisions_per_hour: 1.5,
        median_decision_seconds: 40,
        timed_decisions: 3,
        undos: 1,
        undo_rate: 0.3333,
        suggestions: { accepted: 0, edited: 0, written: 0, acceptance: null },
      },
    ]);
  });
});

import { beforeAll, describe, expect, it } from "vitest";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { countersMatchRecount, importRun, reviewApi, setReviewPolicy } from "../../support/review-api.ts";
import { candidateLines, recount, reviewStateCountersStored } from "../../support/review-fixtures.ts";

/**
 * Double review beside the rest of the review slice, against DynamoDB Local through the API: a
 * vote's undo under another reviewer's lease, the stats' count of candidates awaiting votes or an
 * admin, the provenance of a settled double review, and a bulk job over candidates the policy
 * asks two reviews of. The admin recount checks the counters after each step.
 */

let aws: TestAws;
const api = reviewApi();
const { admin, ana, bo } = api;
const RUN = "2026-05-01-policy";
/** Candidates 0, 3, 6, 9 … are `arithmetic`: the policy asks two reviews of those only. */
const idOf = (n: number) => `${RUN}-${String(n).padStart(5, "0")}`;
const ARITHMETIC = { run_id: RUN, task_type: "arithmetic" };

const stats = async () => (await ana("GET", "/api/sft/stats")).body;
const candidate = async (id: string) => (await admin("GET", `/api/sft/candidates/${id}`)).body;

beforeAll(async () => {
  aws = await provisionTestAws("double-policy");
  await api.load(aws);
  await importRun(aws, admin, RUN, candidateLines(RUN, 12));
  await setReviewPolicy(admin, [{ task_type: "arithmetic", reviews_required: 2 }]);
}, 120_000);

describe("double review's votes, leases, stats and provenance", () => {
  it("refuses to take a vote back while another reviewer holds the candidate, and counts what awaits votes or an admin", async () => {
    expect(await stats()).toMatchObject({ awaiting_votes: 0, awaiting_adjudication: 0 });
    const x = idOf(0);
    expect((await ana("POST", "/api/sft/next", { body: ARITHMETIC })).body.candidate.id).toBe(x);
    expect(
      (await ana("POST", "/api/sft/submit", { body: { id: x, action: "discard" } })).body.review.state,
    ).toBe("awaiting_votes");
    const waiting = await stats();
    expect(waiting).toMatchObject({ awaiting_votes: 1, awaiting_adjudication: 0 });
    expect(waiting.by_status.needs_review).toBe(12);
    await countersMatchRecount(admin);
    // Read through the status index too: the voting partitions hold what the counter counts.
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));

    // Bo is served it for the second vote; while he holds it, Ana's undo is a 409 naming him.
    expect((await bo("POST", "/api/sft/next", { body: ARITHMETIC })).body.candidate.id).toBe(x);
    const refused = await ana("POST", "/api/sft/undo", { body: { id: x } });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/leased to sub-bo@example\.com \(sub-bo\) until/);
    expect((await candidate(x)).candidate).toMatchObject({
      votes: 1,
      voters: ["sub-ana"],
      lease_holder: "sub-bo",
    });
    expect(await stats()).toMatchObject({ awaiting_votes: 1 });

    // Once he releases it, her vote is taken back: it waits in the queue as if nobody had voted.
    expect((await bo("POST", "/api/sft/release", { body: { id: x } })).status).toBe(200);
    expect((await ana("POST", "/api/sft/undo", { body: { id: x } })).status).toBe(200);
    const back = (await candidate(x)).candidate;
    expect(back.votes).toBeUndefined();
    expect(back.lease_holder).toBeUndefined();
    expect(await stats()).toMatchObject({ awaiting_votes: 0, awaiting_adjudication: 0 });
    await countersMatchRecount(admin);

    // Votes that disagree: awaiting an admin, then settled by one.
    await ana("POST", "/api/sft/submit", { body: { id: x, action: "discard" } });
    const split = await bo("POST", "/api/sft/submit", { body: { id: x, action: "flag" } });
    expect(split.body.review.state).toBe("adjudication");
    expect(await stats()).toMatchObject({ awaiting_votes: 0, awaiting_adjudication: 1 });
    await countersMatchRecount(admin);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    const ruling = await admin("POST", `/api/sft/adjudication/${x}`, {
      body: { action: "flag", failure_category: "wrong_answer" },
    });
    expect(ruling.status).toBe(200);
    expect(await stats()).toMatchObject({ awaiting_votes: 0, awaiting_adjudication: 0 });
    await countersMatchRecount(admin);
  });

  it("records every voter in a settled candidate's provenance, and the admin who adjudicated", async () => {
    const adjudicated = (await candidate(idOf(0))).candidate.provenance;
    expect(adjudicated).toMatchObject({
      excluded: true,
      excluded_by: "sub-admin",
      exclusion_reason: "model_rejected:wrong_answer",
      settled_by: "adjudication",
      reviewed_by: ["sub-ana", "sub-bo"],
      adjudicated_by: "sub-admin",
    });

    const y = idOf(3);
    await ana("POST", "/api/sft/submit", { body: { id: y, action: "correct", corrected_response: "42" } });
    const agreed = await bo("POST", "/api/sft/submit", {
      body: { id: y, action: "correct", corrected_response: " 42 " },
    });
    expect(agreed.body.review).toMatchObject({ state: "decided", settled_by: "agreement" });
    const settled = (await candidate(y)).candidate.provenance;
    expect(settled).toMatchObject({
      approved: true,
      approved_by: "sub-bo",
      settled_by: "agreement",
      reviewed_by: ["sub-ana", "sub-bo"],
    });
    expect(settled.adjudicated_by).toBeUndefined();
    // The report counts it approved and traceable.
    const report = (await ana("GET", "/api/provenance/report")).body;
    expect(report).toMatchObject({ approved: 1, excluded: 1, missing_provenance: 0 });

    // An undo takes the double review's facts away with the approval.
    expect((await admin("POST", "/api/sft/undo", { body: { id: y } })).status).toBe(200);
    const undone = (await candidate(y)).candidate.provenance;
    for (const fact of ["approved", "approved_by", "settled_by", "reviewed_by"]) {
      expect(undone[fact], fact).toBeUndefined();
    }
    expect(undone).toMatchObject({ source: "synthetic-rig", source_run_id: RUN });
    await countersMatchRecount(admin);
  });
});

describe("a bulk job under a policy of two reviews", () => {
  it("decides as the admin past the policy, says so in its counts, history and provenance, leaves voted candidates, and is undone", async () => {
    // One arithmetic candidate has a vote: it is out of the queue's partitions, so no bulk takes it.
    const voted = idOf(6);
    await ana("POST", "/api/sft/submit", { body: { id: voted, action: "discard" } });
    const waiting = (await stats()).by_status.needs_review as number;
    // Left waiting: 0 decided by adjudication; 3 (undone) and 9 arithmetic; 6 has a vote; 8 others.
    expect(waiting).toBe(11);

    const dry = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", run_id: RUN, dry_run: true },
    });
    expect(dry.body).toEqual({ dry_run: true, matched: 10, matched_over_policy: 2 });

    const created = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", failure_category: "scoring_artifact", run_id: RUN },
    });
    expect(created).toMatchObject({ status: 201, body: { decided: 0, decided_over_policy: 0 } });
    let job = created.body;
    while (job.state === "running") {
      const batch = await admin("POST", `/api/sft/bulk/${job.id}/run`, { body: { limit: 4 } });
      expect(batch.status).toBe(200);
      job = batch.body;
    }
    expect(job).toMatchObject({ state: "done", decided: 10, decided_over_policy: 2, skipped: 0 });
    await countersMatchRecount(admin);

    const over = await candidate(idOf(9));
    expect(over.candidate.status).toBe("discarded");
    expect(over.candidate.provenance).toMatchObject({
      excluded_by: "sub-admin",
      decided_in_bulk: job.id,
      policy_override: true,
      reviews_required: 2,
    });
    expect(over.history.at(-1)).toMatchObject({
      action: "discard",
      bulk_id: job.id,
      policy_override: true,
      reviews_required: 2,
    });
    const single = await candidate(idOf(1));
    expect(single.candidate.provenance).toMatchObject({ decided_in_bulk: job.id });
    expect(single.candidate.provenance.policy_override).toBeUndefined();
    expect(single.history.at(-1).policy_override).toBeUndefined();

    // The voted candidate still waits for its second vote.
    expect((await candidate(voted)).candidate).toMatchObject({ status: "needs_review", votes: 1 });
    expect(await stats()).toMatchObject({ awaiting_votes: 1 });

    // The undo puts them back under the policy, the bulk's facts gone.
    while (job.state !== "undone") {
      const batch = await admin("POST", `/api/sft/bulk/${job.id}/undo`, { body: { limit: 4 } });
      expect(batch.status).toBe(200);
      job = batch.body;
    }
    expect(job).toMatchObject({ undone: 10, undo_skipped: 0 });
    const back = (await candidate(idOf(9))).candidate;
    expect(back.status).toBe("needs_review");
    for (const fact of ["decided_in_bulk", "policy_override", "reviews_required", "excluded"]) {
      expect(back.provenance[fact], fact).toBeUndefined();
    }
    const vote = await ana("POST", "/api/sft/submit", { body: { id: idOf(9), action: "discard" } });
    expect(vote.body.review).toMatchObject({ state: "awaiting_votes", reviews_required: 2 });
    expect((await stats()).by_status.needs_review).toBe(waiting);
    await countersMatchRecount(admin);
  });
});

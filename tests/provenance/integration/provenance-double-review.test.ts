import { beforeAll, describe, expect, it } from "vitest";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { importRun, reviewApi, setReviewPolicy } from "../../support/review-api.ts";
import { candidateLines, SOURCE } from "../../support/review-fixtures.ts";

/**
 * Provenance validation and backfill over candidates double review keeps out of the queue's
 * partitions (awaiting a vote, awaiting adjudication) and one leased to a reviewer, against
 * DynamoDB Local through the API: every record the report counts is listed and filled, and a
 * settled double review's provenance names its reviewers.
 */

let aws: TestAws;
const api = reviewApi();
const { admin, ana, bo } = api;
const RUN = "2026-05-02-unmodelled";
const idOf = (n: number) => `${RUN}-${String(n).padStart(5, "0")}`;
const ALL = [0, 1, 2, 3, 4].map(idOf);

/** The run's lines without `model_name`: every record misses its model until backfilled. */
const unmodelled = (count: number) =>
  candidateLines(RUN, count)
    .split("\n")
    .map((line) => {
      const { model_name: _model, ...rest } = JSON.parse(line);
      return JSON.stringify(rest);
    })
    .join("\n");

async function invalidIds(): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await ana("GET", "/api/provenance/validate", {
      query: { status: "needs_review", limit: "2", ...(cursor ? { cursor } : {}) },
    });
    expect(page.status).toBe(200);
    ids.push(...page.body.items.map((item: { id: string }) => item.id));
    cursor = page.body.next_cursor ?? undefined;
  } while (cursor);
  return ids.sort();
}

beforeAll(async () => {
  aws = await provisionTestAws("prov-double");
  await api.load(aws);
  await importRun(aws, admin, RUN, unmodelled(5));
  await setReviewPolicy(admin, [{ source: SOURCE, reviews_required: 2 }]);
}, 120_000);

describe("provenance over double review", () => {
  it("validates and backfills the records awaiting votes, adjudication or a leased reviewer, and names the reviewers of a settled one", async () => {
    // 0 awaits a second vote, 1 awaits adjudication, 2 is leased to Ana; 3 and 4 are in the queue.
    await ana("POST", "/api/sft/submit", { body: { id: idOf(0), action: "discard" } });
    await ana("POST", "/api/sft/submit", { body: { id: idOf(1), action: "discard" } });
    expect(
      (await bo("POST", "/api/sft/submit", { body: { id: idOf(1), action: "flag" } })).body.review.state,
    ).toBe("adjudication");
    expect((await ana("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(idOf(2));

    const report = (await ana("GET", "/api/provenance/report")).body;
    expect(report).toMatchObject({ total: 5, missing_provenance: 5 });
    expect(await invalidIds()).toEqual(ALL);

    const request = { filter: { run_id: RUN }, source: SOURCE, model: "model-z" };
    const preview = await admin("POST", "/api/provenance/backfill", { body: { ...request, dry_run: true } });
    expect(preview.body).toMatchObject({ matched: 5, would_change: 5, still_invalid: 0 });
    const filled = await admin("POST", "/api/provenance/backfill", { body: request });
    expect(filled.body).toMatchObject({ matched: 5, changed: 5, still_invalid: 0, conflicts: 0 });
    expect(await invalidIds()).toEqual([]);
    expect((await ana("GET", "/api/provenance/report")).body).toMatchObject({
      missing_provenance: 0,
      valid: 5,
    });

    // The double reviews go on after the fill: a second vote settles 0, an admin settles 1.
    const settle = await bo("POST", "/api/sft/submit", { body: { id: idOf(0), action: "discard" } });
    expect(settle.body.review).toMatchObject({ state: "decided", settled_by: "agreement" });
    const ruling = await admin("POST", `/api/sft/adjudication/${idOf(1)}`, {
      body: { action: "correct", corrected_response: "Answer: 7" },
    });
    expect(ruling.status).toBe(200);
    const agreed = (await admin("GET", `/api/sft/candidates/${idOf(0)}`)).body.candidate.provenance;
    expect(agreed).toMatchObject({
      model: "model-z",
      excluded_by: "sub-bo",
      settled_by: "agreement",
      reviewed_by: ["sub-ana", "sub-bo"],
    });
    const adjudicated = (await admin("GET", `/api/sft/candidates/${idOf(1)}`)).body.candidate.provenance;
    expect(adjudicated).toMatchObject({
      approved: true,
      approved_by: "sub-admin",
      settled_by: "adjudication",
      reviewed_by: ["sub-ana", "sub-bo"],
      adjudicated_by: "sub-admin",
    });
    expect((await ana("GET", "/api/provenance/report")).body).toMatchObject({
      total: 5,
      valid: 5,
      approved: 1,
      excluded: 1,
      missing_provenance: 0,
    });
    const recount = await admin("POST", "/api/admin/recount", { body: {} });
    expect(recount.body.differences).toEqual([]);
  });
});

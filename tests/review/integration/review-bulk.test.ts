import { QueryCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { TABLE } from "../../../lib/common/resources.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { importRun, reviewApi } from "../../support/review-api.ts";
import { candidateLines, recount, reviewStateCountersStored } from "../../support/review-fixtures.ts";
import { storedCandidate } from "../../support/steps.ts";

/** Bulk discard of a run against DynamoDB Local, with a reviewer working the same run meanwhile, then its undo. */

let aws: TestAws;
const api = reviewApi();
const admin = api.as("admin", "admin");
const reviewer = api.as("ana", "reviewer");
const BROKEN = "2026-03-01-broken";
const FINE = "2026-03-01-fine";
const idOf = (runId: string, n: number) => `${runId}-${String(n).padStart(5, "0")}`;

beforeAll(async () => {
  aws = await provisionTestAws("bulk");
  await api.load(aws);
  await importRun(aws, admin, BROKEN, candidateLines(BROKEN, 300));
  await importRun(aws, admin, FINE, candidateLines(FINE, 20));
}, 120_000);

describe("a bulk discard of a run", () => {
  it("counts, discards in batches while a reviewer works the run, and is undone; counters equal a recount throughout", async () => {
    const filters = { run_id: BROKEN };
    expect(
      (await reviewer("POST", "/api/sft/bulk", { body: { action: "discard", ...filters, dry_run: true } }))
        .status,
    ).toBe(403);
    const dry = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", ...filters, dry_run: true },
    });
    expect(dry).toEqual({ status: 200, body: { dry_run: true, matched: 300, matched_over_policy: 0 } });

    const created = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", failure_category: "scoring_artifact", ...filters },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;

    // A reviewer decides some of the run while the bulk runs.
    const reviewed: string[] = [];
    const reviewing = (async () => {
      for (let i = 0; i < 20; i++) {
        const next = await reviewer("POST", "/api/sft/next", { body: filters });
        if (!next.body.candidate) return;
        const decided = await reviewer("POST", "/api/sft/submit", {
          body: { id: next.body.candidate.id, action: "correct", corrected_response: "fixed" },
        });
        expect(decided.status).toBe(200);
        reviewed.push(next.body.candidate.id);
      }
    })();
    let job = created.body;
    while (job.state === "running") {
      const batch = await admin("POST", `/api/sft/bulk/${id}/run`, { body: { limit: 50 } });
      expect(batch.status).toBe(200);
      job = batch.body;
    }
    await reviewing;

    expect(reviewed).toHaveLength(20);
    // Every candidate of the run decided once: by the bulk, or by the reviewer (skipped by the bulk if it met it).
    expect(job.decided + reviewed.length).toBe(300);
    expect(job.state).toBe("done");
    for (const reviewedId of reviewed)
      expect((await storedCandidate(aws, reviewedId))?.status).toBe("approved");
    expect((await storedCandidate(aws, idOf(FINE, 0)))?.status).toBe("needs_review");
    const discarded = (await admin("GET", "/api/sft/stats")).body.by_status.discarded;
    expect(discarded).toBe(job.decided);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    expect(await admin("GET", `/api/sft/bulk/${id}`)).toEqual({ status: 200, body: job });

    // A reviewer takes back one of the bulk's discards and decides it again: the undo leaves it.
    const changed = (await admin("GET", "/api/sft/queue", { query: { run_id: BROKEN } })).body.items;
    expect(changed).toEqual([]);
    const bulkDecided = (await storedCandidate(aws, idOf(BROKEN, 299))) as { status: string };
    expect(bulkDecided.status).toBe("discarded");
    expect((await reviewer("POST", "/api/sft/undo", { body: { id: idOf(BROKEN, 299) } })).status).toBe(200);
    expect(
      (await reviewer("POST", "/api/sft/submit", { body: { id: idOf(BROKEN, 299), action: "flag" } })).status,
    ).toBe(200);

    while (job.state !== "undone") {
      const batch = await admin("POST", `/api/sft/bulk/${id}/undo`, { body: { limit: 100 } });
      expect(batch.status).toBe(200);
      job = batch.body;
    }
    expect(job).toMatchObject({ undone: job.decided - 1, undo_skipped: 1 });
    expect((await storedCandidate(aws, idOf(BROKEN, 299)))?.status).toBe("model_rejected");
    expect((await admin("GET", "/api/sft/stats")).body.by_status).toMatchObject({
      discarded: 0,
      approved: 20,
      model_rejected: 1,
      needs_review: 320 - 21,
    });
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    const history = (await admin("GET", `/api/sft/candidates/${idOf(BROKEN, 250)}`)).body.history;
    expect(history.map((e: { action: string; bulk_id?: string }) => [e.action, e.bulk_id])).toEqual([
      ["discard", id],
      ["undo", id],
    ]);

    // The review log (reviewer numbers) holds the reviewer's events, never a bulk's: a bulk of a
    // million candidates adds nothing that the reviewers' page would have to read and pass over.
    const today = new Date();
    const days = [new Date(today.getTime() - 86_400_000), today].map((d) => d.toISOString().slice(0, 10));
    const logged = (
      await Promise.all(
        days.map((day) =>
          aws.clients.dynamodb.send(
            new QueryCommand({
              TableName: aws.resources.tableName,
              IndexName: TABLE.indexes.evalSessions.name,
              KeyConditionExpression: "#pk = :pk",
              ExpressionAttributeNames: { "#pk": TABLE.indexes.evalSessions.partitionKey },
              ExpressionAttributeValues: { ":pk": `REVIEWLOG#${day}` },
            }),
          ),
        ),
      )
    ).flatMap((page) => page.Items ?? []);
    expect(logged.filter((event) => event.bulk_id !== undefined)).toEqual([]);
    // 20 corrections, then an undo and a flag of one the bulk had discarded.
    expect(logged.filter((event) => event.reviewer === "ana")).toHaveLength(22);
  }, 240_000);
});

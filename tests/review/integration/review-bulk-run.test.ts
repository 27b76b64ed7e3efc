import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { STATUS_INDEX_SHARDS } from "../../../lib/common/resources.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { type Caller, importRun, reviewApi } from "../../support/review-api.ts";
import {
  candidateLines,
  recount,
  reviewStateCountersStored,
  TASK_TYPES,
} from "../../support/review-fixtures.ts";
import { storedCandidate, storedItem } from "../../support/steps.ts";

/**
 * A bulk of one run walks the run index (line order) among many older waiting candidates of
 * other runs, against DynamoDB Local: it decides exactly the run's waiting candidates, its undo
 * restores them, and a job recorded before run walks existed keeps walking the status index.
 */

let aws: TestAws;
const api = reviewApi();
const admin = api.as("admin", "admin");
const reviewer = api.as("ana", "reviewer");
const OTHERS = ["2026-04-01-other-a", "2026-04-01-other-b"];
const OTHER_SIZE = 800;
const TARGET = "2026-04-02-target";
const TARGET_SIZE = 120;
const LEGACY = "2026-04-03-legacy";
const LEGACY_SIZE = 30;
const idOf = (runId: string, n: number) => `${runId}-${String(n).padStart(5, "0")}`;
const FEB = Date.UTC(2026, 1, 1);

beforeAll(async () => {
  aws = await provisionTestAws("bulkrun");
  await api.load(aws);
  // The other runs' candidates are all older than the target run's: first in the status index.
  for (const run of OTHERS) await importRun(aws, admin, run, candidateLines(run, OTHER_SIZE));
  await importRun(aws, admin, TARGET, candidateLines(TARGET, TARGET_SIZE, FEB));
  await importRun(aws, admin, LEGACY, candidateLines(LEGACY, LEGACY_SIZE, FEB));
}, 300_000);

async function work(caller: Caller, id: string, step: "run" | "undo", limit: number) {
  let job: Record<string, unknown> & { state: string };
  do {
    const batch = await caller("POST", `/api/sft/bulk/${id}/${step}`, { body: { limit } });
    expect(batch.status).toBe(200);
    job = batch.body;
  } while (step === "run" ? job.state === "running" : job.state !== "undone");
  return job;
}

const statusOf = async (id: string) => ((await storedCandidate(aws, id)) as { status: string }).status;

describe("a bulk of one run among many waiting candidates of other runs", () => {
  it("walks the run index in line order, decides exactly the run's waiting candidates, and its undo restores them", async () => {
    // One of the run held by a reviewer (leased), one decided by a reviewer: the bulk leaves both.
    const held = await reviewer("POST", "/api/sft/next", { body: { run_id: TARGET } });
    const heldId = held.body.candidate.id as string;
    expect(heldId.startsWith(TARGET)).toBe(true);
    const decidedId = idOf(TARGET, 7);
    expect(
      (await reviewer("POST", "/api/sft/submit", { body: { id: decidedId, action: "flag" } })).status,
    ).toBe(200);

    const dry = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", run_id: TARGET, dry_run: true },
    });
    expect(dry.body).toEqual({ dry_run: true, matched: TARGET_SIZE - 2, matched_over_policy: 0 });
    // The other filters still apply on the run index.
    const coding = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", run_id: TARGET, task_type: TASK_TYPES[1], dry_run: true },
    });
    const codingIds = Array.from({ length: TARGET_SIZE }, (_, i) => i)
      .filter((i) => i % TASK_TYPES.length === 1)
      .map((i) => idOf(TARGET, i))
      .filter((id) => id !== heldId && id !== decidedId);
    expect(coding.body.matched).toBe(codingIds.length);

    const created = await admin("POST", "/api/sft/bulk", {
      body: { action: "discard", failure_category: "scoring_artifact", run_id: TARGET },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ walk: "run", position: null });
    const id = created.body.id as string;

    // The first batch takes the run's first lines, in line order, whatever is older in the queue.
    const first = await admin("POST", `/api/sft/bulk/${id}/run`, { body: { limit: 5 } });
    expect(first.body).toMatchObject({ state: "running", decided: 5, skipped: 0 });
    expect(first.body.position).toHaveLength(1);
    const firstFive = Array.from({ length: 6 }, (_, i) => idOf(TARGET, i)).filter((c) => c !== heldId);
    for (const c of firstFive.slice(0, 5)) expect(await statusOf(c)).toBe("discarded");
    expect(await statusOf(idOf(OTHERS[0] as string, 0))).toBe("needs_review");

    const job = await work(admin, id, "run", 50);
    expect(job).toMatchObject({ state: "done", decided: TARGET_SIZE - 2, skipped: 0 });
    expect(await statusOf(heldId)).toBe("needs_review");
    expect(await statusOf(decidedId)).toBe("model_rejected");
    for (const n of [0, 50, TARGET_SIZE - 1]) {
      const c = idOf(TARGET, n);
      if (c !== heldId) expect(await statusOf(c)).toBe("discarded");
    }
    const stats = (await admin("GET", "/api/sft/stats")).body.by_status;
    expect(stats).toMatchObject({
      discarded: TARGET_SIZE - 2,
      model_rejected: 1,
      needs_review: OTHERS.length * OTHER_SIZE + LEGACY_SIZE + 1,
    });
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    expect(await admin("GET", `/api/sft/bulk/${id}`)).toEqual({ status: 200, body: job });

    const undone = await work(admin, id, "undo", 100);
    expect(undone).toMatchObject({ state: "undone", undone: TARGET_SIZE - 2, undo_skipped: 0 });
    expect((await admin("GET", "/api/sft/stats")).body.by_status).toMatchObject({
      discarded: 0,
      model_rejected: 1,
      needs_review: OTHERS.length * OTHER_SIZE + LEGACY_SIZE + TARGET_SIZE - 1,
    });
    expect(await statusOf(idOf(TARGET, 0))).toBe("needs_review");
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  }, 300_000);

  it("a job recorded before run walks keeps walking the status index, and decides the same candidates", async () => {
    const created = await admin("POST", "/api/sft/bulk", { body: { action: "flag", run_id: LEGACY } });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    // As a job stored before the change: no `walk`.
    await aws.clients.dynamodb.send(
      new UpdateCommand({
        TableName: aws.resources.tableName,
        Key: keys.bulkJob(id),
        UpdateExpression: "REMOVE #walk",
        ExpressionAttributeNames: { "#walk": "walk" },
      }),
    );
    const first = await admin("POST", `/api/sft/bulk/${id}/run`, { body: { limit: 10 } });
    expect(first.body).toMatchObject({ state: "running", decided: 10 });
    expect(first.body.walk).toBeUndefined();
    expect(first.body.position).toHaveLength(STATUS_INDEX_SHARDS);
    const job = await work(admin, id, "run", 50);
    expect(job).toMatchObject({ state: "done", decided: LEGACY_SIZE, skipped: 0 });
    for (let n = 0; n < LEGACY_SIZE; n++) expect(await statusOf(idOf(LEGACY, n))).toBe("model_rejected");
    expect(await statusOf(idOf(OTHERS[1] as string, OTHER_SIZE - 1))).toBe("needs_review");
    expect(((await storedItem(aws, keys.bulkJob(id))) as { walk?: string }).walk).toBeUndefined();
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    await work(admin, id, "undo", 100);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  }, 300_000);

  it("a bulk without run_id walks the status index, oldest first, as before", async () => {
    const dry = await admin("POST", "/api/sft/bulk", {
      body: { action: "flag", task_type: TASK_TYPES[2], dry_run: true },
    });
    const expected = [...OTHERS.map(() => OTHER_SIZE), TARGET_SIZE, LEGACY_SIZE]
      .map(
        (size) => Array.from({ length: size }, (_, i) => i).filter((i) => i % TASK_TYPES.length === 2).length,
      )
      .reduce((a, b) => a + b, 0);
    // The held one (line 0) and the flagged one (line 7) of the target run are of other task types.
    expect(dry.body.matched).toBe(expected);

    const created = await admin("POST", "/api/sft/bulk", {
      body: { action: "flag", task_type: TASK_TYPES[2] },
    });
    expect(created.body).toMatchObject({ walk: "status" });
    const id = created.body.id as string;
    const first = await admin("POST", `/api/sft/bulk/${id}/run`, { body: { limit: 10 } });
    expect(first.body.position).toHaveLength(STATUS_INDEX_SHARDS);
    // Oldest first: the first run's first summary lines.
    for (const n of [2, 5, 8]) expect(await statusOf(idOf(OTHERS[0] as string, n))).toBe("model_rejected");
    const job = await work(admin, id, "run", 200);
    expect(job).toMatchObject({ state: "done", decided: dry.body.matched, skipped: 0 });
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  }, 300_000);
});

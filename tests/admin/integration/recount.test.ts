import { PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { CounterShardTable } from "../../../lib/admin/adapters/recount-table.ts";
import { recountCounters } from "../../../lib/admin/usecases/recount.ts";
import { recountDeps } from "../../../lib/admin/wiring.ts";
import { CandidateTable } from "../../../lib/common/adapters/candidate-table.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { type CounterDelta, countersOf, mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { COUNTER_SHARDS } from "../../../lib/common/resources.ts";
import { variedCandidates } from "../../support/admin-fixtures.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { storedCounters, storedItem } from "../../support/steps.ts";

const CANDIDATES = variedCandidates(250, "drift");

let aws: TestAws;
const table = () => aws.resources.tableName;
const deps = () => recountDeps(aws.clients.dynamodb, table());
const nonZero = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0));
const truth = () => nonZero(mergeDeltas(CANDIDATES.map(countersOf)));

/** A hand edit of one counter shard, as someone in the console would make it. */
async function editCounter(
  shard: number,
  expression: string,
  names: Record<string, string>,
  values?: object,
) {
  await aws.clients.dynamodb.send(
    new UpdateCommand({
      TableName: table(),
      Key: keys.counterShard(shard),
      UpdateExpression: expression,
      ExpressionAttributeNames: names,
      ...(values ? { ExpressionAttributeValues: values } : {}),
    }),
  );
}

beforeAll(async () => {
  aws = await provisionTestAws("recount");
  const candidates = new CandidateTable(aws.clients.dynamodb, table(), {
    putCandidateBody: async () => {
      throw new Error("no candidate here is too large for an item");
    },
  });
  const outcome = await candidates.insertNew(CANDIDATES);
  expect(outcome.inserted).toHaveLength(CANDIDATES.length);
  // Items that are not candidates, some with a status: a history event beside a candidate, a run.
  const [first] = CANDIDATES;
  await aws.clients.dynamodb.send(
    new PutCommand({
      TableName: table(),
      Item: {
        ...keys.candidateEvent(first?.id ?? "", "2026-01-02T00:00:00.000Z", "0001"),
        type: "event",
        status: "approved",
        task_type: "arithmetic",
      },
    }),
  );
  await aws.clients.dynamodb.send(
    new PutCommand({
      TableName: table(),
      Item: { ...keys.run("drift-run"), type: "run", status: "completed" },
    }),
  );
}, 120_000);

describe("the recount against DynamoDB", () => {
  it("finds the counters the candidates were stored with, reading past the items that are not candidates", async () => {
    expect(nonZero(await storedCounters(aws))).toEqual(truth());
    const report = await recountCounters(deps(), { repair: false, segments: 8 });
    expect(report.differences).toEqual([]);
    expect(report.unrepaired).toBe(0);
    expect(report.candidates).toBe(CANDIDATES.length);
    // The candidates, the event, the run and the counter shards the inserts wrote.
    const shardsWritten = (
      await Promise.all(
        Array.from({ length: COUNTER_SHARDS }, (_, shard) => storedItem(aws, keys.counterShard(shard))),
      )
    ).filter(Boolean).length;
    expect(report.items_scanned).toBe(CANDIDATES.length + 2 + shardsWritten);
    expect(report.segments).toBe(8);
  });

  it("reports exactly a counter edited by hand, repairs it, and then reports nothing", async () => {
    const name = "model#model-b";
    const counted = truth()[name] ?? 0;
    expect(counted).toBeGreaterThan(0);
    await editCounter(5, "ADD #c :n", { "#c": name }, { ":n": 7 });

    const found = await recountCounters(deps(), { repair: false, segments: 8 });
    expect(found.differences).toEqual([
      { name, stored: counted + 7, counted, difference: -7, moved_during_recount: false, repair: null },
    ]);
    expect(found.unrepaired).toBe(1);
    expect((await storedCounters(aws))[name]).toBe(counted + 7);

    const repaired = await recountCounters(deps(), { repair: true, segments: 8 });
    expect(repaired.differences).toEqual([
      { name, stored: counted + 7, counted, difference: -7, moved_during_recount: false, repair: "repaired" },
    ]);
    expect(repaired.unrepaired).toBe(0);
    expect(nonZero(await storedCounters(aws))).toEqual(truth());

    const again = await recountCounters(deps(), { repair: false, segments: 3 });
    expect(again.differences).toEqual([]);
    expect(again.candidates).toBe(CANDIDATES.length);
  });

  it("restores a counter removed from every shard, and takes away one that counts nothing", async () => {
    const counted = truth().export_ready ?? 0;
    expect(counted).toBeGreaterThan(0);
    for (let shard = 0; shard < COUNTER_SHARDS; shard++) {
      await editCounter(shard, "REMOVE #c", { "#c": "export_ready" });
    }
    await editCounter(2, "ADD #c :n", { "#c": "source#never-seen" }, { ":n": 4 });

    const repaired = await recountCounters(deps(), { repair: true, segments: 8 });
    expect(repaired.differences).toEqual([
      {
        name: "export_ready",
        stored: 0,
        counted,
        difference: counted,
        moved_during_recount: false,
        repair: "repaired",
      },
      {
        name: "source#never-seen",
        stored: 4,
        counted: 0,
        difference: -4,
        moved_during_recount: false,
        repair: "repaired",
      },
    ]);
    expect(nonZero(await storedCounters(aws))).toEqual(truth());
    expect((await recountCounters(deps(), { repair: false, segments: 8 })).differences).toEqual([]);
  });

  it("writes a correction only while every shard holds what was read", async () => {
    const counters = new CounterShardTable(aws.clients.dynamodb, table());
    const name = "task_type#coding";
    const seen = await counters.readShards(name);
    expect(seen.reduce((sum: number, v) => sum + (v ?? 0), 0)).toBe(truth()[name]);

    // A live write lands on a shard the correction does not write.
    await editCounter(6, "ADD #c :n", { "#c": name }, { ":n": 1 });
    expect(await counters.addIfUnchanged(name, 10, seen)).toBe("changed");
    expect((await storedCounters(aws))[name]).toBe((truth()[name] ?? 0) + 1);

    // Read afresh, the same correction applies, on top of the live write.
    const fresh = await counters.readShards(name);
    expect(await counters.addIfUnchanged(name, -1, fresh)).toBe("added");
    expect(nonZero(await storedCounters(aws))).toEqual(truth());
  });
});

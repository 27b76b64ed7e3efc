import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { BatchGetCommand, DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CandidateTable } from "../../../lib/common/adapters/candidate-table.ts";
import { type Candidate, newCandidateFromLine } from "../../../lib/common/domain/candidate.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(dynamodb);
const bodies: { id: string; body: string }[] = [];
const table = new CandidateTable(dynamodb, "tbl", {
  putCandidateBody: async (id, body) => {
    bodies.push({ id, body });
    return `blobs/candidates/${id}.json`;
  },
});

const candidate = (id: string, content = "q"): Candidate =>
  newCandidateFromLine(
    { id, prompt_messages: [{ role: "user", content }], model_response: "a", task_type: "math" },
    { source: "benchmark", channel: "s3-upload", model: "m", captured_at: "2026-01-01T00:00:00Z", line: 1 },
  );

function cancelled(codes: string[]) {
  return new TransactionCanceledException({
    message: "cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
}

beforeEach(() => {
  mock.reset();
  bodies.length = 0;
});

describe("CandidateTable.insertNew", () => {
  it("puts every candidate conditionally and moves the counters in the same transaction", async () => {
    mock.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ CapacityUnits: 6 }] });

    const result = await table.insertNew([candidate("a"), candidate("b")]);

    expect(result).toEqual({
      inserted: ["a", "b"],
      alreadyStored: [],
      tooLarge: [],
      refused: [],
      writeUnits: 6,
    });
    const items = mock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(3);
    expect(items[0]?.Put).toMatchObject({
      ConditionExpression: "attribute_not_exists(#pk)",
      Item: { pk: "CAND#a", sk: "CAND", status: "needs_review", type: "candidate" },
    });
    expect(items[0]?.Put?.Item?.gsi1pk).toMatch(/^STATUS#needs_review#\d$/);
    expect(items[2]?.Update?.ExpressionAttributeValues).toMatchObject({ ":c0": 2 });
    expect(Object.values(items[2]?.Update?.ExpressionAttributeNames ?? {})).toEqual(
      expect.arrayContaining(["total", "status#needs_review", "model#m", "task_type#math"]),
    );
  });

  it("drops ids that already exist and retries the rest, counting only what was stored", async () => {
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(["None", "ConditionalCheckFailed", "None"]))
      .resolves({ ConsumedCapacity: [{ CapacityUnits: 4 }] });

    const result = await table.insertNew([candidate("a"), candidate("b")]);

    expect(result.inserted).toEqual(["a"]);
    expect(result.alreadyStored).toEqual(["b"]);
    const retry = mock.commandCalls(TransactWriteCommand)[1]?.args[0].input.TransactItems ?? [];
    expect(retry).toHaveLength(2);
    expect(retry[1]?.Update?.ExpressionAttributeValues).toMatchObject({ ":c0": 1 });
  });

  it("retries a transaction that conflicted with another writer", async () => {
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(["None", "TransactionConflict"]))
      .resolves({});

    const result = await table.insertNew([candidate("a")]);

    expect(result.inserted).toEqual(["a"]);
    expect(mock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it("moves a body too big for an item to the body store and keeps a pointer and previews", async () => {
    mock.on(TransactWriteCommand).resolves({});

    await table.insertNew([candidate("huge", "x".repeat(500_000))]);

    expect(bodies).toHaveLength(1);
    const item = mock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put?.Item;
    expect(item?.prompt_messages).toBeUndefined();
    expect(item?.body_ref).toEqual({ key: "blobs/candidates/huge.json", bytes: expect.any(Number) });
    expect(String(item?.prompt_preview).length).toBeLessThan(2_100);
    expect(JSON.parse(bodies[0]?.body ?? "{}").prompt_messages[0].content).toHaveLength(500_000);
  });

  it("reports a record that is too big even without its body, and stores the others", async () => {
    mock.on(TransactWriteCommand).resolves({});
    const huge = { ...candidate("huge"), failure_reason: "r".repeat(400_000) };

    const result = await table.insertNew([huge, candidate("ok")]);

    expect(result).toMatchObject({ inserted: ["ok"], tooLarge: ["huge"] });
  });
});

describe("CandidateTable.findExisting", () => {
  it("reads origins in batches of 100 and retries unprocessed keys", async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `id-${i}`);
    mock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { tbl: [{ id: "id-1", provenance: { import_id: "imp", line: 2 } }] },
        UnprocessedKeys: { tbl: { Keys: [{ pk: "CAND#id-5", sk: "CAND" }] } },
        ConsumedCapacity: [{ CapacityUnits: 50 }],
      })
      .resolves({ Responses: { tbl: [{ id: "id-5" }] }, ConsumedCapacity: [{ CapacityUnits: 1 }] });

    const { found, readUnits } = await table.findExisting(ids);

    expect(found.get("id-1")).toEqual({ importId: "imp", line: 2 });
    expect(found.has("id-5")).toBe(true);
    expect(readUnits).toBe(52);
    expect(mock).toHaveReceivedCommandTimes(BatchGetCommand, 3);
  });
});

describe("CandidateTable.insertNew when the store refuses what one item holds", () => {
  it("tries each candidate alone, so only the culprit is refused and its neighbours are stored", async () => {
    const refusal = Object.assign(new Error("One or more parameter values were invalid: key too long"), {
      name: "ValidationException",
    });
    mock
      .on(TransactWriteCommand)
      .callsFake((input: { TransactItems: { Put?: { Item: { id: string } } }[] }) => {
        if (input.TransactItems.some((item) => item.Put?.Item.id === "bad")) throw refusal;
        return { ConsumedCapacity: [{ CapacityUnits: 2 }] };
      });

    const result = await table.insertNew([candidate("a"), candidate("bad"), candidate("c")]);

    expect(result.inserted).toEqual(["a", "c"]);
    expect(result.refused).toEqual([{ id: "bad", detail: refusal.message }]);
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(4);
  });

  it("throws anything that is not a refusal of the item, such as a network failure", async () => {
    mock.on(TransactWriteCommand).rejects(new Error("socket hang up"));
    await expect(table.insertNew([candidate("a"), candidate("b")])).rejects.toThrow("socket hang up");
  });
});

describe("CandidateTable.insertNew within a transaction's limits", () => {
  it("splits many candidates into transactions of at most 99 items and about 3 MB, each with its counters", async () => {
    mock.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ CapacityUnits: 1 }] });
    const many = Array.from({ length: 120 }, (_, i) => candidate(`n${i}`));
    const big = Array.from({ length: 12 }, (_, i) => candidate(`b${i}`, "é".repeat(100_000)));

    const result = await table.insertNew([...many, ...big]);

    expect(result.inserted).toHaveLength(132);
    const sizes = mock
      .commandCalls(TransactWriteCommand)
      .map((call) => call.args[0].input.TransactItems ?? [])
      .map((items) => ({ items: items.length, bytes: Buffer.byteLength(JSON.stringify(items)) }));
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    for (const { items, bytes } of sizes) {
      expect(items).toBeLessThanOrEqual(100);
      expect(bytes).toBeLessThan(4 * 1024 * 1024);
    }
  });
});

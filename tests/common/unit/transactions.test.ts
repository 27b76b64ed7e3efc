import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { MAX_ATTEMPTS } from "../../../lib/common/adapters/retry.ts";
import { RETRY, transactConditionally } from "../../../lib/common/adapters/transactions.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(dynamodb);

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: "cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });
const throttled = () => Object.assign(new Error("slow down"), { name: "ThrottlingException" });
const put = (id: string) => ({ Put: { TableName: "tbl", Item: { pk: id, sk: id } } });
const sentItems = (call: number) =>
  mock.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [];

beforeEach(() => mock.reset());

describe("transactConditionally", () => {
  it("appends one counter shard update for a non-zero delta and reports the write units", async () => {
    mock.on(TransactWriteCommand).resolves({ ConsumedCapacity: [{ CapacityUnits: 4 }] });

    const outcome = await transactConditionally(dynamodb, "tbl", {
      build: async () => ({ items: [put("a")], counters: { total: 1, "status#approved": 0 } }),
    });

    expect(outcome).toEqual({ committed: true, writeUnits: 4 });
    const items = sentItems(0);
    expect(items).toHaveLength(2);
    expect(items[1]?.Update?.UpdateExpression).toBe("SET #type = :type ADD #c0 :c0");
    expect(items[1]?.Update?.ExpressionAttributeNames).toMatchObject({ "#c0": "total" });
  });

  it("leaves the counter out when nothing moves", async () => {
    mock.on(TransactWriteCommand).resolves({});
    await transactConditionally(dynamodb, "tbl", {
      build: async () => ({ items: [put("a")], counters: { total: 0 } }),
    });
    expect(sentItems(0)).toHaveLength(1);
  });

  it("retries conflicts and throttling with a freshly built attempt, then commits", async () => {
    mock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled("TransactionConflict", "None"))
      .rejectsOnce(throttled())
      .resolves({});
    const built: number[] = [];

    const outcome = await transactConditionally(dynamodb, "tbl", {
      build: async (attempt) => {
        built.push(attempt);
        return { items: [put(`a${attempt}`)] };
      },
    });

    expect(outcome.committed).toBe(true);
    expect(built).toEqual([0, 1, 2]);
    expect(sentItems(2)[0]?.Put?.Item).toEqual({ pk: "a2", sk: "a2" });
  });

  it("hands the indexes whose condition failed to the caller, who ends the call with a value", async () => {
    mock.on(TransactWriteCommand).rejects(cancelled("None", "ConditionalCheckFailed", "None"));
    let seen: readonly number[] = [];

    const outcome = await transactConditionally<"stale">(dynamodb, "tbl", {
      build: async () => ({ items: [put("a"), put("b")], counters: { total: 2 } }),
      onConditionFailed: (failed) => {
        seen = failed;
        return "stale";
      },
    });

    expect(outcome).toEqual({ committed: false, value: "stale" });
    expect(seen).toEqual([1]);
  });

  it("tries again when the caller answers RETRY, and gives up after the attempt limit", async () => {
    mock.on(TransactWriteCommand).rejects(cancelled("ConditionalCheckFailed"));
    let asked = 0;

    await expect(
      transactConditionally(dynamodb, "tbl", {
        build: async () => ({ items: [put("a")] }),
        onConditionFailed: () => {
          asked++;
          return RETRY;
        },
      }),
    ).rejects.toBeInstanceOf(TransactionCanceledException);
    expect(asked).toBe(MAX_ATTEMPTS);
  });

  it("throws a failed condition nobody handles, and any other error at once", async () => {
    mock.on(TransactWriteCommand).rejectsOnce(cancelled("ConditionalCheckFailed"));
    await expect(
      transactConditionally(dynamodb, "tbl", { build: async () => ({ items: [put("a")] }) }),
    ).rejects.toBeInstanceOf(TransactionCanceledException);

    mock.reset();
    mock.on(TransactWriteCommand).rejects(new Error("ValidationException"));
    await expect(
      transactConditionally(dynamodb, "tbl", { build: async () => ({ items: [put("a")] }) }),
    ).rejects.toThrow("ValidationException");
    expect(mock.commandCalls(TransactWriteCommand)).toHaveLength(1);
  });
});

import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { RunTable } from "../../../lib/import/adapters/run-table.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const mock = mockClient(dynamodb);
const runs = new RunTable(dynamodb, "tbl");
const start = {
  runId: "r1",
  importId: "imp",
  bucket: "b",
  key: "runs/r1/sft_candidates.jsonl",
  etag: "e",
  size: 10,
  startedAt: "2026-01-01T00:00:00Z",
};

beforeEach(() => mock.reset());

describe("RunTable", () => {
  it("starts an import unless the same import already completed", async () => {
    mock
      .on(UpdateCommand)
      .resolvesOnce({})
      .rejects(new ConditionalCheckFailedException({ message: "", $metadata: {} }));

    expect(await runs.begin(start)).toEqual({ status: "started", checkpoint: null });
    expect(await runs.begin(start)).toEqual({ status: "already_completed" });
    const input = mock.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input?.Key).toEqual({ pk: "RUN#r1", sk: "RUN" });
    expect(input?.ConditionExpression).toContain("#import <> :import");
    expect(input?.ExpressionAttributeValues).toMatchObject({ ":import": "imp", ":completed": "completed" });
  });

  it("writes the outcome only while the record still belongs to the import", async () => {
    mock.on(UpdateCommand).rejects(new ConditionalCheckFailedException({ message: "", $metadata: {} }));

    await expect(runs.fail(start, "boom")).resolves.toBeUndefined();
    expect(mock.commandCalls(UpdateCommand)[0]?.args[0].input.ConditionExpression).toBe("#import = :import");
  });
});

import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { readPartition } from "../../../lib/common/adapters/partition-reads.ts";
import { TABLE } from "../../../lib/common/resources.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamoMock = mockClient(dynamodb);

beforeEach(() => dynamoMock.reset());

describe("readPartition", () => {
  it("reads a table partition strongly consistent, page after page", async () => {
    dynamoMock
      .on(QueryCommand)
      .resolvesOnce({ Items: [{ id: "a" }], LastEvaluatedKey: { pk: "P", sk: "a" } })
      .resolvesOnce({ Items: [{ id: "b" }] });

    const items = await readPartition(dynamodb, "t", "P");

    expect(items).toEqual([{ id: "a" }, { id: "b" }]);
    expect(dynamoMock).toHaveReceivedCommandTimes(QueryCommand, 2);
    expect(dynamoMock).toHaveReceivedNthCommandWith(QueryCommand, 1, {
      IndexName: undefined,
      ConsistentRead: true,
      ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      ExpressionAttributeValues: { ":pk": "P" },
    });
    expect(dynamoMock).toHaveReceivedNthCommandWith(QueryCommand, 2, {
      ExclusiveStartKey: { pk: "P", sk: "a" },
    });
  });

  it("reads an index partition by the index's key, without asking for a consistent read", async () => {
    dynamoMock.on(QueryCommand).resolves({ Items: [{ id: "c" }] });

    const items = await readPartition(dynamodb, "t", "RUN#r1", TABLE.indexes.byRun);

    expect(items).toEqual([{ id: "c" }]);
    expect(dynamoMock).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: TABLE.indexes.byRun.name,
      ConsistentRead: undefined,
      ExpressionAttributeNames: { "#pk": TABLE.indexes.byRun.partitionKey },
    });
  });
});

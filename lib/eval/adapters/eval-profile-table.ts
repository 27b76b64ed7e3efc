import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { queryAll } from "../../common/adapters/partition-reads.ts";
import { keys } from "../../common/adapters/table-keys.ts";
import { TABLE } from "../../common/resources.ts";
import type { EvalProfile } from "../domain/eval-profile.ts";
import type { EvalProfileStore } from "../ports.ts";

type Item = Record<string, unknown>;

const profileFromItem = (item: Item): EvalProfile => ({
  id: item.id as string,
  name: (item.name as string | undefined) ?? "",
  description: item.description as string,
  updated_at: item.updated_at as string,
  updated_by: item.updated_by as string,
});

/** The profile registry: one item per profile, all in the eval registry's partition. */
export class EvalProfileTable implements EvalProfileStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async put(profile: EvalProfile): Promise<{ created: boolean }> {
    const reply = await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.evalProfile(profile.id), ...profile },
        ReturnValues: "ALL_OLD",
      }),
    );
    return { created: reply.Attributes === undefined };
  }

  async get(id: string): Promise<EvalProfile | null> {
    const reply = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.evalProfile(id) }),
    );
    return reply.Item ? profileFromItem(reply.Item) : null;
  }

  async list(): Promise<EvalProfile[]> {
    const { partitionKey, sortKey } = TABLE;
    const partition = keys.evalProfile("");
    const items = await queryAll(this.dynamodb, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": partitionKey, "#sk": sortKey },
      ExpressionAttributeValues: { ":pk": partition[partitionKey], ":prefix": partition[sortKey] },
    });
    return items.map(profileFromItem);
  }
}

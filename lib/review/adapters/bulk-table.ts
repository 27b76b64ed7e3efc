import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../../common/adapters/table-keys.ts";
import { TABLE } from "../../common/resources.ts";
import type { BulkJob } from "../domain/bulk.ts";
import type { BulkStore } from "../ports.ts";

const ITEM_PREFIX = "ITEM#";

/**
 * Bulk jobs in the single table: the job at `BULK#<id>`/`JOB`, saved conditionally on its
 * version, and beside it one marker per candidate it decided (`ITEM#<candidate id>`, written in
 * the decision's own transaction), which its undo reads back in pages.
 */
export class BulkTable implements BulkStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: BulkJob): Promise<void> {
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.bulkJob(job.id), type: "bulk_job", ...job },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      }),
    );
  }

  async find(id: string): Promise<BulkJob | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.bulkJob(id), ConsistentRead: true }),
    );
    if (!Item) return null;
    const { [TABLE.partitionKey]: _pk, [TABLE.sortKey]: _sk, type: _type, ...job } = Item;
    return job as BulkJob;
  }

  async save(job: BulkJob, expectedVersion: number): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.bulkJob(job.id), type: "bulk_job", ...job },
          ConditionExpression: "#version = :expected",
          ExpressionAttributeNames: { "#version": "version" },
          ExpressionAttributeValues: { ":expected": expectedVersion },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async marks(id: string, after: string | null, limit: number) {
    const pk = keys.bulkJob(id)[TABLE.partitionKey];
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
        ExpressionAttributeValues: { ":pk": pk, ":prefix": ITEM_PREFIX },
        ExclusiveStartKey: after ? keys.bulkItem(id, after) : undefined,
        ConsistentRead: true,
        Limit: limit,
      }),
    );
    const items = (result.Items ?? []).map((item) => ({
      candidate_id: String(item.candidate_id),
      version: Number(item.version),
    }));
    return { items, last: items.at(-1)?.candidate_id ?? after, more: result.LastEvaluatedKey !== undefined };
  }
}

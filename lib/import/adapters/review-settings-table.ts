import { type DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../../common/adapters/table-keys.ts";
import type { ReviewSettingsStore } from "../ports.ts";

const REVIEW_SETTINGS = keys.settings("review");

/** The reviewers' settings item. */
export class ReviewSettingsTable implements ReviewSettingsStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async readRunsPrefix(): Promise<string | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: REVIEW_SETTINGS, ConsistentRead: true }),
    );
    return typeof Item?.bench_results_dir === "string" ? Item.bench_results_dir : null;
  }

  async writeRunsPrefix(prefix: string, changedBy: string, at: string): Promise<void> {
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...REVIEW_SETTINGS,
          type: "settings",
          bench_results_dir: prefix,
          updated_by: changedBy,
          updated_at: at,
        },
      }),
    );
  }
}

import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../../common/adapters/table-keys.ts";
import type { RunRecordStore, RunStart, RunSummary } from "../ports.ts";

/** The run record: one item per run id, describing its latest import. */
export class RunTable implements RunRecordStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async begin(start: RunStart): Promise<"started" | "already_completed"> {
    const fields: Record<string, unknown> = {
      type: "run",
      run_id: start.runId,
      import_id: start.importId,
      state: "importing",
      bucket: start.bucket,
      source_key: start.key,
      etag: start.etag,
      size_bytes: start.size,
      started_at: start.startedAt,
    };
    const { names, values, sets } = assignments(fields);
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(start.runId),
          UpdateExpression: `SET ${sets}, #created = if_not_exists(#created, :started) REMOVE #finished, #error ADD #attempts :one`,
          ConditionExpression: "attribute_not_exists(#import) OR #import <> :import OR #state <> :completed",
          ExpressionAttributeNames: {
            ...names,
            "#created": "created_at",
            "#finished": "finished_at",
            "#error": "error",
            "#attempts": "attempts",
            "#import": "import_id",
            "#state": "state",
          },
          ExpressionAttributeValues: {
            ...values,
            ":started": start.startedAt,
            ":one": 1,
            ":import": start.importId,
            ":completed": "completed",
          },
        }),
      );
      return "started";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "already_completed";
      throw error;
    }
  }

  async complete(start: RunStart, summary: RunSummary): Promise<void> {
    await this.finish(start, "completed", {
      counts: summary.counts,
      sha256: summary.sha256,
      quarantine_key: summary.quarantineKey,
      finished_at: summary.finishedAt,
      duration_ms: summary.durationMs,
      capacity: { write_units: summary.capacity.writeUnits, read_units: summary.capacity.readUnits },
    });
  }

  async fail(start: RunStart, reason: string): Promise<void> {
    await this.finish(start, "failed", { error: reason.slice(0, 1_000) });
  }

  /** Writes the outcome only if the record still belongs to this import (a newer upload wins). */
  private async finish(start: RunStart, state: string, fields: Record<string, unknown>): Promise<void> {
    const { names, values, sets } = assignments({ ...fields, state });
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(start.runId),
          UpdateExpression: `SET ${sets}`,
          ConditionExpression: "#import = :import",
          ExpressionAttributeNames: { ...names, "#import": "import_id" },
          ExpressionAttributeValues: { ...values, ":import": start.importId },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }
}

/** `SET` clauses for `fields`, every name and value behind a placeholder (many are reserved words). */
function assignments(fields: Record<string, unknown>) {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const clauses = Object.entries(fields).map(([name, value], i) => {
    names[`#f${i}`] = name;
    values[`:f${i}`] = value;
    return `#f${i} = :f${i}`;
  });
  return { names, values, sets: clauses.join(", ") };
}

import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { keys } from "../../common/adapters/table-keys.ts";
import type { BeginOutcome, ImportCheckpoint, RunRecordStore, RunStart, RunSummary } from "../ports.ts";

/** The run record: one item per run id, describing its latest import. */
export class RunTable implements RunRecordStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async begin(start: RunStart): Promise<BeginOutcome> {
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
      const { Attributes } = await this.dynamodb.send(
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
          ReturnValues: "ALL_NEW",
        }),
      );
      const saved = Attributes?.checkpoint as ImportCheckpoint | undefined;
      return { status: "started", checkpoint: saved?.importId === start.importId ? saved : null };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { status: "already_completed" };
      throw error;
    }
  }

  async saveCheckpoint(
    start: RunStart,
    checkpoint: ImportCheckpoint,
    previous: ImportCheckpoint | null,
  ): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(start.runId),
          UpdateExpression: "SET #checkpoint = :checkpoint, #lines_read = :lines",
          ConditionExpression: previous
            ? "#import = :import AND #checkpoint.#offset = :previous"
            : "#import = :import AND (attribute_not_exists(#checkpoint) OR #checkpoint.#importId <> :import)",
          ExpressionAttributeNames: {
            "#checkpoint": "checkpoint",
            "#lines_read": "lines_read",
            "#import": "import_id",
            ...(previous ? { "#offset": "offset" } : { "#importId": "importId" }),
          },
          ExpressionAttributeValues: {
            ":checkpoint": checkpoint,
            ":lines": checkpoint.lines,
            ":import": start.importId,
            ...(previous ? { ":previous": previous.offset } : {}),
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async complete(start: RunStart, summary: RunSummary): Promise<void> {
    await this.finish(
      start,
      "completed",
      {
        counts: summary.counts,
        sha256: summary.sha256,
        quarantine_key: summary.quarantineKey,
        finished_at: summary.finishedAt,
        duration_ms: summary.durationMs,
        capacity: { write_units: summary.capacity.writeUnits, read_units: summary.capacity.readUnits },
        invocations: summary.invocations,
        started_at: start.startedAt,
        lines_read: summary.counts.lines,
      },
      ["checkpoint"],
    );
  }

  async fail(start: RunStart, reason: string): Promise<void> {
    await this.finish(start, "failed", { error: reason.slice(0, 1_000) });
  }

  /** Writes the outcome only if the record still belongs to this import (a newer upload wins). */
  private async finish(
    start: RunStart,
    state: string,
    fields: Record<string, unknown>,
    remove: readonly string[] = [],
  ): Promise<void> {
    const { names, values, sets } = assignments({ ...fields, state });
    const removed = Object.fromEntries(remove.map((name, i) => [`#r${i}`, name]));
    const removal = remove.length > 0 ? ` REMOVE ${Object.keys(removed).join(", ")}` : "";
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.run(start.runId),
          UpdateExpression: `SET ${sets}${removal}`,
          ConditionExpression: "#import = :import",
          ExpressionAttributeNames: { ...names, ...removed, "#import": "import_id" },
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

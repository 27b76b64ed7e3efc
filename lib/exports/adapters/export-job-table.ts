import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { newestOfListing } from "../../common/adapters/partition-reads.ts";
import { EXPORT_JOBS_PARTITION, exportJobIndexKeys, keys } from "../../common/adapters/table-keys.ts";
import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import { TABLE } from "../../common/resources.ts";
import type { ExportJob, ExportProgress } from "../domain/export-job.ts";
import type { ExportManifest } from "../domain/export-manifest.ts";
import type { ExportJobStore } from "../ports.ts";

type Item = Record<string, unknown>;

const JOB_FIELDS = [
  "id",
  "format",
  "request",
  "origin",
  "status",
  "requested_by",
  "created_at",
  "started_at",
  "finished_at",
  "attempts",
  "error",
  "progress",
  "file_name",
  "manifest",
] as const satisfies readonly (keyof ExportJob)[];

/**
 * The request and the manifest are stored as JSON text: a DynamoDB map keeps no key order, and a
 * manifest is read (and its counts listed) in the order it was written.
 */
const asJson = (value: unknown) => (value === null || value === undefined ? null : JSON.stringify(value));
const fromJson = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : (value ?? null));

function jobFromItem(item: Item): ExportJob {
  const job = Object.fromEntries(JOB_FIELDS.map((field) => [field, item[field] ?? null]));
  const progress = (item.progress ?? {}) as Partial<ExportProgress>;
  return {
    ...job,
    request: fromJson(item.request),
    manifest: fromJson(item.manifest),
    attempts: Number(item.attempts ?? 0),
    progress: {
      considered: Number(progress.considered ?? 0),
      exported: Number(progress.exported ?? 0),
      quarantined: Number(progress.quarantined ?? 0),
    },
  } as unknown as ExportJob;
}

const UNFINISHED = "#status IN (:queued, :running)";
const UNFINISHED_VALUES = { ":queued": "queued", ":running": "running" };

/**
 * Export jobs in the single table: `EXPORT#<id>` holds the job, its progress and, once done, its
 * manifest. Every change is conditional on the job's state, so a finished job never moves again
 * and a redelivered message cannot rerun it. Jobs are listed newest first from a partition of
 * the eval-session index (`EXPORTS`), never by a scan.
 */
export class ExportJobTable implements ExportJobStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
  ) {}

  async create(job: ExportJob): Promise<"created" | "exists"> {
    try {
      await this.putNew(job);
      return "created";
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return "exists";
      throw error;
    }
  }

  private async putNew(job: ExportJob): Promise<void> {
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...job,
          request: asJson(job.request),
          manifest: asJson(job.manifest),
          ...keys.exportJob(job.id),
          ...exportJobIndexKeys(job),
          type: "export_job",
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      }),
    );
  }

  async get(id: string): Promise<ExportJob | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.exportJob(id), ConsistentRead: true }),
    );
    return Item ? jobFromItem(Item) : null;
  }

  async list(limit: number): Promise<ExportJob[]> {
    return (await newestOfListing(this.dynamodb, this.tableName, EXPORT_JOBS_PARTITION, limit)).map(
      jobFromItem,
    );
  }

  async start(id: string, at: string): Promise<ExportJob | null> {
    try {
      const { Attributes } = await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.exportJob(id),
          UpdateExpression: "SET #status = :running, #started = :at ADD #attempts :one",
          ConditionExpression: `attribute_exists(#pk) AND ${UNFINISHED}`,
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#status": "status",
            "#started": "started_at",
            "#attempts": "attempts",
          },
          ExpressionAttributeValues: { ...UNFINISHED_VALUES, ":at": at, ":one": 1 },
          ReturnValues: "ALL_NEW",
        }),
      );
      return jobFromItem(Attributes ?? {});
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
      if (!(await this.get(id))) throw new NotFoundError(`Export ${id} not found`);
      return null;
    }
  }

  async progress(id: string, progress: ExportProgress): Promise<void> {
    await this.updateUnfinished(
      id,
      "SET #progress = :progress",
      { "#progress": "progress" },
      {
        ":progress": progress,
      },
    );
  }

  async succeed(id: string, manifest: ExportManifest): Promise<void> {
    const { considered, exported, quarantined } = manifest.counts;
    const applied = await this.updateUnfinished(
      id,
      "SET #status = :succeeded, #finished = :at, #manifest = :manifest, #progress = :progress, #error = :none",
      { "#finished": "finished_at", "#manifest": "manifest", "#progress": "progress", "#error": "error" },
      {
        ":succeeded": "succeeded",
        ":at": manifest.finished_at,
        ":manifest": asJson(manifest),
        ":progress": { considered, exported, quarantined },
        ":none": null,
      },
    );
    if (!applied) throw new ConflictError(`Export ${id} finished before this run did`);
  }

  async fail(id: string, error: string, at: string, final: boolean): Promise<void> {
    if (final) {
      await this.updateUnfinished(
        id,
        "SET #status = :failed, #finished = :at, #error = :error",
        { "#finished": "finished_at", "#error": "error" },
        { ":failed": "failed", ":at": at, ":error": error },
      );
    } else {
      await this.updateUnfinished(id, "SET #error = :error", { "#error": "error" }, { ":error": error });
    }
  }

  /** Applies `update` while the job is queued or running; `false` when it is finished or gone. */
  private async updateUnfinished(
    id: string,
    update: string,
    names: Record<string, string>,
    values: Record<string, unknown>,
  ): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.exportJob(id),
          UpdateExpression: update,
          ConditionExpression: `attribute_exists(#pk) AND ${UNFINISHED}`,
          ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#status": "status", ...names },
          ExpressionAttributeValues: { ...UNFINISHED_VALUES, ...values },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

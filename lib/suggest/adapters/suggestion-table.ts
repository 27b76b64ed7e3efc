import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateViews } from "../../common/adapters/candidate-view.ts";
import { keys, suggestionJobIndexKeys } from "../../common/adapters/table-keys.ts";
import { type TransactionAttempt, transactConditionally } from "../../common/adapters/transactions.ts";
import { TABLE } from "../../common/resources.ts";
import type { FailureReason, SkipReason, SuggestionJob } from "../domain/job.ts";
import type { Suggestion } from "../domain/suggestion.ts";
import type { SuggestionCandidate, SuggestionStore } from "../ports.ts";

/** The job as stored: `completed_at` is absent until it is set. */
const withoutNull = (job: SuggestionJob) => {
  const { completed_at, ...rest } = job;
  return completed_at === null ? rest : job;
};

/** The sort-key prefix of the parts of a job's selection (`SUGGEST#<id>`/`SELECTION#0000`, …). */
export const SELECTION_PREFIX = "SELECTION#";
/** Candidate ids per selection item: ids reach 960 bytes, and an item stops at 400 KB. */
const SELECTION_PART_BYTES = 300_000;

/** The longest failure message kept on a marker. */
const MAX_ERROR_CHARS = 500;

/**
 * Suggestion jobs in the single table: the job at `SUGGEST#<id>`/`JOB` with its counts and the
 * candidates it selected (listed in the eval-session index's `SUGGESTIONS` partition), and one
 * marker per candidate it counted (`ITEM#<candidate id>`), written in the same transaction as the
 * count (and, for a suggestion, as the candidate's update), so a redelivered message changes
 * nothing. The candidate's update is conditional on `needs_review` only: a suggestion is not a
 * review change, so it moves neither the version, the history nor the counters, and never
 * touches a decided candidate.
 */
export class SuggestionTable implements SuggestionStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly views: CandidateViews,
  ) {}

  async create(job: SuggestionJob, selection: readonly string[]): Promise<void> {
    // The selection first: a job is never stored without it (a part left by a job that was not is inert).
    for (const [part, candidate_ids] of selectionParts(selection).entries()) {
      await this.dynamodb.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.suggestionSelection(job.id, part),
            type: "suggestion_selection",
            job_id: job.id,
            candidate_ids,
          },
        }),
      );
    }
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.suggestionJob(job.id),
          ...suggestionJobIndexKeys(job),
          type: "suggestion_job",
          ...withoutNull(job),
          finished: 0,
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      }),
    );
  }

  async find(id: string): Promise<SuggestionJob | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.suggestionJob(id), ConsistentRead: true }),
    );
    if (!Item) return null;
    const {
      [TABLE.partitionKey]: _pk,
      [TABLE.sortKey]: _sk,
      [TABLE.indexes.evalSessions.partitionKey]: _listing,
      [TABLE.indexes.evalSessions.sortKey]: _listed,
      type: _type,
      finished: _finished,
      ...job
    } = Item;
    return { ...job, completed_at: job.completed_at ?? null } as SuggestionJob;
  }

  async candidate(id: string): Promise<SuggestionCandidate | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.candidate(id), ConsistentRead: true }),
    );
    return Item ? ((await this.views.toView(Item)) as SuggestionCandidate) : null;
  }

  async counted(jobId: string, candidateId: string): Promise<boolean> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.suggestionItem(jobId, candidateId),
        ConsistentRead: true,
        ProjectionExpression: "#pk",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      }),
    );
    return Item !== undefined;
  }

  async recordSuggestion(jobId: string, candidateId: string, suggestion: Suggestion) {
    const candidateUpdate = {
      Update: {
        TableName: this.tableName,
        Key: keys.candidate(candidateId),
        UpdateExpression: "SET #suggestion = :suggestion",
        ConditionExpression: "attribute_exists(#pk) AND #status = :waiting",
        ExpressionAttributeNames: {
          "#pk": TABLE.partitionKey,
          "#status": "status",
          "#suggestion": "suggestion",
        },
        ExpressionAttributeValues: { ":suggestion": suggestion, ":waiting": "needs_review" },
      },
    };
    const items = [
      candidateUpdate,
      this.marker(jobId, candidateId, { outcome: "suggested", at: suggestion.suggested_at }),
      this.count(jobId, "suggested"),
    ];
    const failed = await this.transact(items);
    if (failed === null) return "recorded" as const;
    if (failed.includes(1)) return "already_counted" as const;
    // The candidate's condition failed alone: decided meanwhile, or gone.
    const current = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.candidate(candidateId),
        ConsistentRead: true,
        ProjectionExpression: "#status",
        ExpressionAttributeNames: { "#status": "status" },
      }),
    );
    return current.Item ? ("decided" as const) : ("not_found" as const);
  }

  async recordOutcome(
    jobId: string,
    candidateId: string,
    outcome:
      | { kind: "failed"; reason: FailureReason; error: string }
      | { kind: "skipped"; reason: SkipReason },
    at: string,
  ) {
    const detail =
      outcome.kind === "failed"
        ? { outcome: "failed", reason: outcome.reason, error: outcome.error.slice(0, MAX_ERROR_CHARS), at }
        : { outcome: "skipped", reason: outcome.reason, at };
    const failed = await this.transact([
      this.marker(jobId, candidateId, detail),
      this.count(jobId, outcome.kind, outcome.reason),
    ]);
    return failed === null ? ("recorded" as const) : ("already_counted" as const);
  }

  async completeIfFinished(jobId: string, at: string): Promise<void> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.suggestionJob(jobId),
          UpdateExpression: "SET #completed = :at",
          ConditionExpression:
            "attribute_exists(#pk) AND #finished >= #total AND attribute_not_exists(#completed)",
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#completed": "completed_at",
            "#finished": "finished",
            "#total": "total",
          },
          ExpressionAttributeValues: { ":at": at },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  private marker(jobId: string, candidateId: string, detail: Record<string, unknown>) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...keys.suggestionItem(jobId, candidateId),
          type: "suggestion_item",
          job_id: jobId,
          candidate_id: candidateId,
          ...detail,
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      },
    };
  }

  /** One more candidate counted on the job: its outcome, its reason, and `finished`. */
  private count(jobId: string, kind: "suggested" | "failed" | "skipped", reason?: string) {
    const names: Record<string, string> = {
      "#pk": TABLE.partitionKey,
      "#kind": kind,
      "#finished": "finished",
    };
    const sets = ["#kind = #kind + :one", "#finished = if_not_exists(#finished, :zero) + :one"];
    if (reason) {
      names["#byReason"] = `${kind}_by_reason`;
      names["#reason"] = reason;
      sets.push("#byReason.#reason = if_not_exists(#byReason.#reason, :zero) + :one");
    }
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.suggestionJob(jobId),
        UpdateExpression: `SET ${sets.join(", ")}`,
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: { ":one": 1, ":zero": 0 },
      },
    };
  }

  /** Runs the transaction: `null` once committed, else the indexes of the items whose condition failed. */
  private async transact(items: TransactionAttempt["items"]): Promise<readonly number[] | null> {
    const outcome = await transactConditionally<readonly number[]>(this.dynamodb, this.tableName, {
      build: async () => ({ items }),
      onConditionFailed: (failed) => failed,
      idempotent: true,
    });
    return outcome.committed ? null : outcome.value;
  }
}

/** The selection in parts of at most `SELECTION_PART_BYTES` of ids each. */
export function selectionParts(selection: readonly string[]): string[][] {
  const parts: string[][] = [];
  let current: string[] = [];
  let bytes = 0;
  for (const id of selection) {
    const size = Buffer.byteLength(id) + 8;
    if (current.length > 0 && bytes + size > SELECTION_PART_BYTES) {
      parts.push(current);
      current = [];
      bytes = 0;
    }
    current.push(id);
    bytes += size;
  }
  if (current.length > 0) parts.push(current);
  return parts;
}

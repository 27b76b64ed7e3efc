import { ConditionalCheckFailedException, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import {
  type DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { newestOfListing, readPartition } from "../../common/adapters/partition-reads.ts";
import {
  EVAL_SORT_PREFIXES,
  evalSessionIndexKeys,
  evalVersionsKey,
  JUDGE_RUNS_PARTITION,
  judgeRunIndexKeys,
  keys,
} from "../../common/adapters/table-keys.ts";
import { RETRY, transactConditionally } from "../../common/adapters/transactions.ts";
import { TABLE } from "../../common/resources.ts";
import { type Evaluation, evaluationSummary } from "../domain/eval-session.ts";
import type { JudgeRun, RunSessionProgress, RunSessionState } from "../domain/judge-run.ts";
import type { JudgeVersions } from "../domain/rubric.ts";
import type { JudgeRunStore, SessionSelection } from "../ports.ts";
import type { EvalSessionIndex } from "./eval-session-index.ts";
import { setClauses, summaryFromItem } from "./eval-session-table.ts";

type Item = Record<string, unknown>;

/** TransactWriteItems takes at most 100 items. */
const MAX_TRANSACTION_ITEMS = 100;

/** Errors kept on a session or run entry are cut to this many characters. */
const MAX_ERROR_CHARS = 1_000;

const RUN_FIELDS = [
  "id",
  "scope",
  "session_id",
  "since",
  "limit",
  "model",
  "backend",
  "candidates_from_dislikes",
  "judge_version",
  "rubric_version",
  "total",
  "done",
  "failed",
  "created_at",
  "created_by",
  "completed_at",
] as const satisfies readonly (keyof JudgeRun)[];

function runFromItem(item: Item): JudgeRun {
  const run = Object.fromEntries(RUN_FIELDS.map((field) => [field, item[field] ?? null])) as Record<
    string,
    unknown
  >;
  return { ...run, done: Number(item.done ?? 0), failed: Number(item.failed ?? 0) } as unknown as JudgeRun;
}

function progressFromItem(item: Item): RunSessionProgress {
  return {
    session_id: item.session_id as string,
    status: item.status as RunSessionState,
    started_at: (item.started_at as string | undefined) ?? null,
    finished_at: (item.finished_at as string | undefined) ?? null,
    error: (item.error as string | undefined) ?? null,
    scores: (item.scores as RunSessionProgress["scores"]) ?? null,
    candidates_created: (item.candidates_created as number | undefined) ?? null,
  };
}

const UNFINISHED = { ":pending": "pending", ":running": "running" };
const isUnfinished = "#status IN (:pending, :running)";

/**
 * Judge runs in the single table: `JUDGERUN#<id>` holds the run (`RUN`, with its done and failed
 * counts) and one `SESSION#<session id>` entry per session. Finishing a session moves its entry
 * out of pending/running and the run's count in the same transaction, so a redelivered message
 * counts once and progress survives restarts and is the same for every reader.
 */
export class JudgeRunTable implements JudgeRunStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly index: EvalSessionIndex,
  ) {}

  async selectSessions(selection: SessionSelection, current: JudgeVersions): Promise<string[]> {
    const versionKeys = await this.index.versionKeys(selection.scope, current);
    const { items } = await this.index.read(versionKeys, {
      since: selection.since,
      skip: 0,
      take: selection.limit,
    });
    return items.map((item) => item.id as string);
  }

  async create(run: JudgeRun, sessionIds: readonly string[]): Promise<void> {
    const entries = sessionIds.map((sessionId) => ({
      ...keys.judgeRunSession(run.id, sessionId),
      type: "judge_run_session",
      run_id: run.id,
      session_id: sessionId,
      status: "pending",
    }));
    // Entries first: a message is only sent after the run exists, and a run is only visible
    // once every entry its count promises is there. Transactions of plain puts rather than
    // BatchWriteItem, so the API function needs no batch-write (or delete) permission.
    for (let offset = 0; offset < entries.length; offset += MAX_TRANSACTION_ITEMS) {
      const chunk = entries.slice(offset, offset + MAX_TRANSACTION_ITEMS);
      await transactConditionally(this.dynamodb, this.tableName, {
        build: async () => ({ items: chunk.map((Item) => ({ Put: { TableName: this.tableName, Item } })) }),
      });
    }
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...run,
          ...keys.judgeRun(run.id),
          ...judgeRunIndexKeys(run),
          type: "judge_run",
          status: run.completed_at ? "completed" : "running",
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      }),
    );
  }

  async get(runId: string): Promise<{ run: JudgeRun; sessions: RunSessionProgress[] } | null> {
    const items = await readPartition(
      this.dynamodb,
      this.tableName,
      keys.judgeRun(runId)[TABLE.partitionKey] as string,
    );
    const runItem = items.find((item) => item[TABLE.sortKey] === keys.judgeRun(runId)[TABLE.sortKey]);
    if (!runItem) return null;
    const sessions = items
      .filter((item) => String(item[TABLE.sortKey]).startsWith(EVAL_SORT_PREFIXES.runSession))
      .map(progressFromItem);
    return { run: runFromItem(runItem), sessions };
  }

  async list(limit: number): Promise<JudgeRun[]> {
    return (await newestOfListing(this.dynamodb, this.tableName, JUDGE_RUNS_PARTITION, limit)).map(
      runFromItem,
    );
  }

  async progress(runId: string, sessionId: string) {
    const [run, entry] = await Promise.all([
      this.getItem(keys.judgeRun(runId)),
      this.getItem(keys.judgeRunSession(runId, sessionId)),
    ]);
    return run && entry ? { run: runFromItem(run), progress: progressFromItem(entry) } : null;
  }

  async markRunning(runId: string, sessionId: string, at: string): Promise<boolean> {
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.judgeRunSession(runId, sessionId),
          UpdateExpression: "SET #status = :running, #started = :at ADD #attempts :one",
          ConditionExpression: isUnfinished,
          ExpressionAttributeNames: {
            "#status": "status",
            "#started": "started_at",
            "#attempts": "attempts",
          },
          ExpressionAttributeValues: { ...UNFINISHED, ":at": at, ":one": 1 },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async recordEvaluation(
    evaluation: Evaluation,
    outcome: { candidatesCreated: number | null },
  ): Promise<"recorded" | "already_finished"> {
    await this.index.register(evaluation);
    const latest = evaluationSummary(evaluation);
    const written = await transactConditionally<"already_finished">(this.dynamodb, this.tableName, {
      build: async () => {
        const sessionItem = await this.getItem(keys.evalSession(evaluation.session_id));
        const summary = sessionItem ? summaryFromItem(sessionItem) : null;
        const isNewest =
          summary !== null &&
          (summary.latest_evaluation === null ||
            summary.latest_evaluation.evaluated_at <= evaluation.evaluated_at);
        const sessionUpdate = summary && isNewest ? this.newestEvaluationUpdate(summary, latest) : [];
        return {
          items: [
            this.finishEntry(evaluation.run_id, evaluation.session_id, "done", evaluation.evaluated_at, {
              scores: evaluation.scores,
              candidates_created: outcome.candidatesCreated,
            }),
            this.countOnRun(evaluation.run_id, "done"),
            {
              Put: {
                TableName: this.tableName,
                Item: {
                  ...keys.evalEvaluation(evaluation.session_id, evaluation.evaluated_at, evaluation.run_id),
                  type: "eval_evaluation",
                  ...evaluation,
                },
              },
            },
            ...sessionUpdate,
          ],
        };
      },
      // Only the run entry's condition ends the call: it was finished before. A session changed
      // since it was read (an upsert, another evaluation) is read again.
      onConditionFailed: (failed: readonly number[]) => (failed.includes(0) ? "already_finished" : RETRY),
    });
    return written.committed ? "recorded" : written.value;
  }

  async recordFailure(
    runId: string,
    sessionId: string,
    error: string,
    at: string,
  ): Promise<"recorded" | "already_finished"> {
    const message = error.slice(0, MAX_ERROR_CHARS);
    const sessionExists = (await this.getItem(keys.evalSession(sessionId))) !== undefined;
    try {
      await this.dynamodb.send(
        new TransactWriteCommand({
          TransactItems: [
            this.finishEntry(runId, sessionId, "failed", at, { error: message }),
            this.countOnRun(runId, "failed"),
            ...(sessionExists
              ? [
                  {
                    Update: {
                      TableName: this.tableName,
                      Key: keys.evalSession(sessionId),
                      UpdateExpression: "SET #failure = :failure",
                      ConditionExpression: "attribute_exists(#pk)",
                      ExpressionAttributeNames: { "#failure": "last_failure", "#pk": TABLE.partitionKey },
                      ExpressionAttributeValues: { ":failure": { run_id: runId, at, error: message } },
                    },
                  },
                ]
              : []),
          ],
        }),
      );
      return "recorded";
    } catch (cause) {
      if (
        cause instanceof TransactionCanceledException &&
        cause.CancellationReasons?.[0]?.Code === "ConditionalCheckFailed"
      ) {
        return "already_finished";
      }
      throw cause;
    }
  }

  async completeIfFinished(runId: string, at: string): Promise<void> {
    const item = await this.getItem(keys.judgeRun(runId));
    if (!item || item.completed_at) return;
    const run = runFromItem(item);
    if (run.done + run.failed < run.total) return;
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.judgeRun(runId),
          UpdateExpression: "SET #status = :completed, #completedAt = :at",
          ConditionExpression:
            "attribute_exists(#pk) AND (attribute_not_exists(#completedAt) OR #completedAt = :null)",
          ExpressionAttributeNames: {
            "#status": "status",
            "#completedAt": "completed_at",
            "#pk": TABLE.partitionKey,
          },
          ExpressionAttributeValues: { ":completed": "completed", ":at": at, ":null": null },
        }),
      );
    } catch (error) {
      // Another instance finished the last session at the same moment and stamped it first.
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  /** Makes `latest` the session's latest evaluation and moves it to that version pair's partition. */
  private newestEvaluationUpdate(
    summary: ReturnType<typeof summaryFromItem>,
    latest: ReturnType<typeof evaluationSummary>,
  ) {
    const { names, values, sets } = setClauses({
      latest_evaluation: latest,
      version: summary.version + 1,
      ...evalSessionIndexKeys(summary, evalVersionsKey(latest)),
    });
    return [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.evalSession(summary.id),
          UpdateExpression: `SET ${sets.join(", ")} REMOVE #failure`,
          ConditionExpression: "#version = :expected",
          ExpressionAttributeNames: { ...names, "#failure": "last_failure", "#version": "version" },
          ExpressionAttributeValues: { ...values, ":expected": summary.version },
        },
      },
    ];
  }

  private finishEntry(
    runId: string,
    sessionId: string,
    status: "done" | "failed",
    at: string,
    fields: Record<string, unknown>,
  ) {
    const { names, values, sets } = setClauses({ ...fields, finished_at: at }, "e");
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.judgeRunSession(runId, sessionId),
        UpdateExpression: `SET #status = :to, ${sets.join(", ")}`,
        ConditionExpression: isUnfinished,
        ExpressionAttributeNames: { ...names, "#status": "status" },
        ExpressionAttributeValues: { ...values, ...UNFINISHED, ":to": status },
      },
    };
  }

  private countOnRun(runId: string, counter: "done" | "failed") {
    return {
      Update: {
        TableName: this.tableName,
        Key: keys.judgeRun(runId),
        UpdateExpression: "ADD #counter :one",
        ConditionExpression: "attribute_exists(#pk)",
        ExpressionAttributeNames: { "#counter": counter, "#pk": TABLE.partitionKey },
        ExpressionAttributeValues: { ":one": 1 },
      },
    };
  }

  private async getItem(key: Record<string, string>): Promise<Item | undefined> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
    );
    return Item;
  }
}

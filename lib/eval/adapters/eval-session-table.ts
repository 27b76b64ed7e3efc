import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { MAX_INLINE_ITEM_BYTES } from "../../common/adapters/candidate-table.ts";
import { queryAll } from "../../common/adapters/partition-reads.ts";
import {
  EVAL_SORT_PREFIXES,
  evalSessionIndexKeys,
  evalVersionsKey,
  keys,
} from "../../common/adapters/table-keys.ts";
import { RETRY, transactConditionally } from "../../common/adapters/transactions.ts";
import { NotFoundError } from "../../common/domain/errors.ts";
import { TABLE } from "../../common/resources.ts";
import { checkMessageIndex } from "../domain/eval-candidate.ts";
import {
  type EvalStatus,
  type Evaluation,
  type Feedback,
  feedbackCountDelta,
  type Rating,
  raterKey,
  type SessionInput,
  type SessionMessage,
  type SessionSummary,
} from "../domain/eval-session.ts";
import type { StatsSample } from "../domain/eval-stats.ts";
import type { AxisScores, JudgeVersions } from "../domain/rubric.ts";
import type { EvalSessionStore, SessionUpsert } from "../ports.ts";
import type { EvalSessionIndex } from "./eval-session-index.ts";
import type { SessionMessageBlobs } from "./session-blobs.ts";

type Item = Record<string, unknown>;

/** `SET a = :a, …` over `fields`, with the names and values it uses. */
export function setClauses(fields: Record<string, unknown>, prefix = "f") {
  const names: Record<string, string> = {};
  const values: Record<string, unknown> = {};
  const sets = Object.entries(fields).map(([name, value], i) => {
    names[`#${prefix}${i}`] = name;
    values[`:${prefix}${i}`] = value;
    return `#${prefix}${i} = :${prefix}${i}`;
  });
  return { names, values, sets };
}

export function summaryFromItem(item: Item): SessionSummary {
  return {
    id: item.id as string,
    profile_id: item.profile_id as string,
    name: (item.name as string | undefined) ?? "",
    created_at: item.created_at as string,
    last_active: item.last_active as string,
    pinned: item.pinned === true,
    message_count: Number(item.message_count ?? 0),
    likes: Number(item.likes ?? 0),
    dislikes: Number(item.dislikes ?? 0),
    latest_evaluation: (item.latest_evaluation as SessionSummary["latest_evaluation"]) ?? null,
    last_failure: (item.last_failure as SessionSummary["last_failure"]) ?? null,
    version: Number(item.version ?? 0),
  };
}

function feedbackFromItem(item: Item): Feedback {
  return {
    session_id: item.session_id as string,
    message_index: Number(item.message_index),
    rating: Number(item.rating) as Rating,
    comment: (item.comment as string | null | undefined) ?? null,
    rater: item.rater as string,
    ...(typeof item.sent_by === "string" ? { sent_by: item.sent_by } : {}),
    created_at: item.created_at as string,
    updated_at: item.updated_at as string,
  };
}

export function evaluationFromItem(item: Item): Evaluation {
  return {
    session_id: item.session_id as string,
    run_id: item.run_id as string,
    evaluated_at: item.evaluated_at as string,
    judge_version: item.judge_version as string,
    rubric_version: item.rubric_version as string,
    model: item.model as string,
    backend: item.backend as string,
    scores: item.scores as AxisScores,
    experts: (item.experts as Evaluation["experts"]) ?? [],
  };
}

/**
 * Eval sessions in the single table. Under `EVALSESSION#<id>`: the summary (`SESSION`, the only
 * item in the eval-session indexes), the messages (`MESSAGES`, or a pointer to S3 when too big),
 * one `FEEDBACK#<index>#<rater>` per rating and one `EVALUATION#<at>#<run>` per evaluation.
 */
export class EvalSessionTable implements EvalSessionStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly blobs: SessionMessageBlobs,
    private readonly index: EvalSessionIndex,
  ) {}

  /** Long on purpose: the session's update expression and its version condition are one statement, read and written together. */
  async upsert(session: SessionInput, now: string): Promise<SessionUpsert> {
    const messagesJson = JSON.stringify(session.messages);
    const inline = Buffer.byteLength(messagesJson) <= MAX_INLINE_ITEM_BYTES;
    const messagesItem: Item = {
      ...keys.evalSessionMessages(session.id),
      type: "eval_session_messages",
      session_id: session.id,
      message_count: session.messages.length,
      ...(inline
        ? { messages: session.messages }
        : {
            messages_ref: {
              key: await this.blobs.put(session.id, messagesJson),
              bytes: Buffer.byteLength(messagesJson),
            },
          }),
    };
    let current: SessionSummary | null = null;
    await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => {
        current = await this.summary(session.id);
        const { names, values, sets } = setClauses({
          type: "eval_session",
          id: session.id,
          profile_id: session.profile_id,
          name: session.name,
          created_at: session.created_at,
          last_active: session.last_active,
          pinned: session.pinned,
          message_count: session.messages.length,
          updated_at: now,
          version: (current?.version ?? 0) + 1,
          ...evalSessionIndexKeys(session, evalVersionsKey(current?.latest_evaluation)),
        });
        return {
          items: [
            {
              Update: {
                TableName: this.tableName,
                Key: keys.evalSession(session.id),
                UpdateExpression: `SET ${sets.join(", ")}, #likes = if_not_exists(#likes, :zero), #dislikes = if_not_exists(#dislikes, :zero)`,
                ConditionExpression: current ? "#version = :expected" : "attribute_not_exists(#pk)",
                ExpressionAttributeNames: {
                  ...names,
                  "#likes": "likes",
                  "#dislikes": "dislikes",
                  ...(current ? { "#version": "version" } : { "#pk": TABLE.partitionKey }),
                },
                ExpressionAttributeValues: {
                  ...values,
                  ":zero": 0,
                  ...(current ? { ":expected": current.version } : {}),
                },
              },
            },
            { Put: { TableName: this.tableName, Item: messagesItem } },
          ],
        };
      },
      // A concurrent write of the same session moved its version: read again and retry.
      onConditionFailed: () => RETRY,
    });
    return {
      created: current === null,
      message_count: session.messages.length,
      messages_stored: inline ? "table" : "s3",
    };
  }

  async summary(id: string): Promise<SessionSummary | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.evalSession(id), ConsistentRead: true }),
    );
    return Item ? summaryFromItem(Item) : null;
  }

  async messages(id: string): Promise<SessionMessage[] | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: keys.evalSessionMessages(id), ConsistentRead: true }),
    );
    if (!Item) return null;
    const ref = Item.messages_ref as { key?: unknown } | undefined;
    if (typeof ref?.key === "string") return this.blobs.get(ref.key);
    return (Item.messages as SessionMessage[] | undefined) ?? [];
  }

  /** Long on purpose: the rating and the session's like/dislike counts move in one transaction, spelled out together. */
  async putFeedback(feedback: Feedback): Promise<{ created: boolean; feedback: Feedback }> {
    const key = keys.evalFeedback(feedback.session_id, feedback.message_index, raterKey(feedback));
    let existing: Record<string, unknown> | undefined;
    let stored: Feedback = feedback;
    await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => {
        ({ Item: existing } = await this.dynamodb.send(
          new GetCommand({ TableName: this.tableName, Key: key, ConsistentRead: true }),
        ));
        const previous = existing ? (Number(existing.rating) as Rating) : null;
        stored = {
          ...feedback,
          created_at: (existing?.created_at as string | undefined) ?? feedback.created_at,
        };
        const delta = feedbackCountDelta(previous, feedback.rating);
        return {
          items: [
            {
              Put: {
                TableName: this.tableName,
                Item: { ...key, type: "eval_feedback", ...stored },
                ConditionExpression: existing ? "#rating = :previous" : "attribute_not_exists(#pk)",
                ExpressionAttributeNames: (existing
                  ? { "#rating": "rating" }
                  : { "#pk": TABLE.partitionKey }) as Record<string, string>,
                ExpressionAttributeValues: existing ? { ":previous": previous } : undefined,
              },
            },
            {
              Update: {
                TableName: this.tableName,
                Key: keys.evalSession(feedback.session_id),
                UpdateExpression: "ADD #likes :likes, #dislikes :dislikes",
                ConditionExpression: "attribute_exists(#pk) AND #count > :index",
                ExpressionAttributeNames: {
                  "#pk": TABLE.partitionKey,
                  "#likes": "likes",
                  "#dislikes": "dislikes",
                  "#count": "message_count",
                },
                ExpressionAttributeValues: {
                  ":likes": delta.likes,
                  ":dislikes": delta.dislikes,
                  ":index": feedback.message_index,
                },
              },
            },
          ],
        };
      },
      onConditionFailed: async (failed) => {
        if (failed.includes(1)) {
          const summary = await this.summary(feedback.session_id);
          if (!summary) throw new NotFoundError(`Session ${feedback.session_id} not found`);
          checkMessageIndex(feedback.message_index, summary.message_count);
        }
        // The rating changed under us (same rater, two requests): read it again.
        return RETRY;
      },
    });
    return { created: existing === undefined, feedback: stored };
  }

  async feedback(sessionId: string): Promise<Feedback[]> {
    const items = await this.queryPrefix(sessionId, EVAL_SORT_PREFIXES.feedback, true);
    return items.map(feedbackFromItem);
  }

  async evaluations(sessionId: string): Promise<Evaluation[]> {
    const items = await this.queryPrefix(sessionId, EVAL_SORT_PREFIXES.evaluation, false);
    return items.map(evaluationFromItem);
  }

  async overview(
    query: { limit: number; offset: number; profile?: string; status?: EvalStatus },
    current: JudgeVersions,
  ): Promise<{ sessions: SessionSummary[]; hasMore: boolean }> {
    const versionKeys = await this.index.versionKeys(query.status ?? "all", current);
    const { items, hasMore } = await this.index.read(versionKeys, {
      profile: query.profile,
      skip: query.offset,
      take: query.limit,
    });
    return { sessions: items.map(summaryFromItem), hasMore };
  }

  async statsSamples(since: string, current: JudgeVersions): Promise<StatsSample[]> {
    const { items } = await this.index.read([evalVersionsKey(current)], {
      since,
      skip: 0,
      take: Number.POSITIVE_INFINITY,
    });
    return items.flatMap((item) => {
      const { last_active, latest_evaluation } = summaryFromItem(item);
      return latest_evaluation ? [{ last_active, scores: latest_evaluation.scores }] : [];
    });
  }

  private async queryPrefix(sessionId: string, prefix: string, forward: boolean): Promise<Item[]> {
    return queryAll(this.dynamodb, {
      TableName: this.tableName,
      KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
      ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
      ExpressionAttributeValues: {
        ":pk": keys.evalSession(sessionId)[TABLE.partitionKey],
        ":prefix": prefix,
      },
      ScanIndexForward: forward,
      ConsistentRead: true,
    });
  }
}

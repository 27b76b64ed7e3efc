import { type DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateViews } from "../../common/adapters/candidate-view.ts";
import { candidateIndexKeys, keys } from "../../common/adapters/table-keys.ts";
import { transactConditionally } from "../../common/adapters/transactions.ts";
import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import { deltaForChange } from "../../common/domain/stats.ts";
import { TABLE } from "../../common/resources.ts";
import {
  EMPTY_POLICY,
  type ReviewPolicy,
  type ReviewPolicyRule,
  type ReviewRound,
  type Vote,
} from "../domain/double-review.ts";
import type { ReviewEvent, ReviewSubject, Transition } from "../domain/review.ts";
import { staleConflict } from "../domain/review.ts";
import type { LogEvent } from "../domain/reviewer-numbers.ts";
import type { VoteStore } from "../ports.ts";
import { QueueTable } from "./queue-table.ts";
import { historyEventPut, LEASE_FREE, LEASE_NAMES, LEASE_REMOVED, type ReviewTable } from "./review-table.ts";
import {
  adjudicationIndexKeys,
  adjudicationPartition,
  REVIEW_ROUNDS_PARTITION,
  reviewLogPartition,
  roundIndexKeys,
  voteKeys,
  votingIndexKeys,
} from "./vote-keys.ts";

const POLICY_KEY = keys.settings("review-policy");

const { byStatus, evalSessions } = TABLE.indexes;

/**
 * Double review in the single table. A vote that does not settle the candidate is one
 * transaction: the candidate's update (conditional on its status, version, no vote of this
 * reviewer, no adjudication and no one else's lease), the put of the vote (conditional on no vote
 * of this reviewer in the round) and of its history event; no status counter moves, only
 * `awaiting_votes` / `awaiting_adjudication`. A settling vote or an
 * adjudication is a review transition (`ReviewTable.apply`) with the vote and the round's record
 * in the same transaction, so the counters move exactly once.
 */
export class VoteTable implements VoteStore {
  private readonly adjudicationQueue: QueueTable;

  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    views: CandidateViews,
    private readonly review: ReviewTable,
  ) {
    this.adjudicationQueue = new QueueTable(
      dynamodb,
      tableName,
      views,
      "needs_review",
      adjudicationPartition,
    );
  }

  async readPolicy(): Promise<ReviewPolicy> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({ TableName: this.tableName, Key: POLICY_KEY, ConsistentRead: true }),
    );
    if (!Item) return EMPTY_POLICY;
    return {
      rules: (Item.rules ?? []) as ReviewPolicyRule[],
      updated_by: (Item.updated_by ?? null) as string | null,
      updated_at: (Item.updated_at ?? null) as string | null,
    };
  }

  async writePolicy(rules: readonly ReviewPolicyRule[], by: string, at: string): Promise<ReviewPolicy> {
    await this.dynamodb.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...POLICY_KEY, type: "settings", rules, updated_by: by, updated_at: at },
      }),
    );
    return { rules, updated_by: by, updated_at: at };
  }

  async votes(id: string, round: number): Promise<Vote[]> {
    const result = await this.dynamodb.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: "#pk = :pk AND begins_with(#sk, :prefix)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#sk": TABLE.sortKey },
        ExpressionAttributeValues: {
          ":pk": keys.candidate(id)[TABLE.partitionKey],
          ":prefix": voteKeys.votePrefix(round),
        },
        ConsistentRead: true,
      }),
    );
    return ((result.Items ?? []) as (Vote & Record<string, unknown>)[])
      .map(({ [TABLE.partitionKey]: _pk, [TABLE.sortKey]: _sk, type: _type, ...vote }) => vote as Vote)
      .sort((a, b) => a.at.localeCompare(b.at) || a.reviewer.localeCompare(b.reviewer));
  }

  async castVote(
    subject: ReviewSubject,
    vote: Vote,
    event: ReviewEvent,
    round: ReviewRound | null,
  ): Promise<void> {
    const adjudicate = round !== null;
    const indexKeys = adjudicate ? adjudicationIndexKeys(subject) : votingIndexKeys(subject);
    const names: Record<string, string> = {
      "#pk": TABLE.partitionKey,
      "#status": "status",
      "#version": "version",
      "#votes": "votes",
      "#voters": "voters",
      "#round": "vote_round",
      "#adj": "adjudication",
      "#gpk": byStatus.partitionKey,
      "#gsk": byStatus.sortKey,
      ...LEASE_NAMES,
    };
    const values: Record<string, unknown> = {
      ":needs": "needs_review",
      ":expected": subject.version,
      ":version": event.version,
      ":votes": (subject.votes ?? 0) + 1,
      ":me": vote.reviewer,
      ":meList": [vote.reviewer],
      ":empty": [],
      ":round": vote.round,
      ":gpk": indexKeys[byStatus.partitionKey],
      ":gsk": indexKeys[byStatus.sortKey],
      ":now": vote.at,
    };
    const sets = [
      "#version = :version",
      "#votes = :votes",
      "#voters = list_append(if_not_exists(#voters, :empty), :meList)",
      "#round = :round",
      "#gpk = :gpk",
      "#gsk = :gsk",
    ];
    if (adjudicate) {
      values[":true"] = true;
      sets.push("#adj = :true");
    }
    const items = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.candidate(subject.id),
          UpdateExpression: `SET ${sets.join(", ")} REMOVE ${LEASE_REMOVED.join(", ")}`,
          ConditionExpression: [
            "attribute_exists(#pk)",
            "#status = :needs",
            "#version = :expected",
            "NOT contains(#voters, :me)",
            "attribute_not_exists(#adj)",
            LEASE_FREE,
          ].join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
      this.putVote(vote),
      historyEventPut(this.tableName, event),
      ...(round ? [this.putRound(round)] : []),
    ];
    // The status counters stay; the first vote and a vote that sends it to adjudication move
    // `awaiting_votes` / `awaiting_adjudication`.
    const counters = deltaForChange(subject, {
      ...subject,
      votes: (subject.votes ?? 0) + 1,
      adjudication: adjudicate || null,
    });
    await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => ({ items, counters }),
      onConditionFailed: async () => {
        const current = await this.review.findSubject(subject.id);
        if (!current) throw new NotFoundError(`Candidate ${subject.id} not found`);
        if ((current.voters ?? []).includes(vote.reviewer)) throw alreadyVoted(subject.id);
        throw staleConflict(current, { leaseGuard: { holder: vote.reviewer, at: vote.at } } as Transition);
      },
      idempotent: true,
    });
  }

  async retract(subject: ReviewSubject, reviewer: string, event: ReviewEvent): Promise<void> {
    const round = subject.vote_round ?? 0;
    const voters = (subject.voters ?? []).filter((voter) => voter !== reviewer);
    // The last vote taken back: the candidate is back in the queue as if nobody had voted.
    const indexKeys =
      voters.length > 0 ? votingIndexKeys(subject) : candidateIndexKeys(subject, "needs_review");
    // Any lease (the caller's own, or an expired one) ends with it, as with a decision.
    const leases = LEASE_REMOVED.join(", ");
    const update =
      voters.length > 0
        ? `SET #version = :version, #votes = :votes, #voters = :voters, #gpk = :gpk, #gsk = :gsk REMOVE ${leases}`
        : `SET #version = :version, #gpk = :gpk, #gsk = :gsk REMOVE #votes, #voters, ${leases}`;
    const items = [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.candidate(subject.id),
          UpdateExpression: update,
          ConditionExpression: [
            "attribute_exists(#pk)",
            "#status = :needs",
            "#version = :expected",
            "contains(#voters, :me)",
            "attribute_not_exists(#adj)",
            "#round = :round",
            LEASE_FREE,
          ].join(" AND "),
          ExpressionAttributeNames: {
            "#pk": TABLE.partitionKey,
            "#status": "status",
            "#version": "version",
            "#votes": "votes",
            "#voters": "voters",
            "#adj": "adjudication",
            "#round": "vote_round",
            "#gpk": byStatus.partitionKey,
            "#gsk": byStatus.sortKey,
            ...LEASE_NAMES,
          },
          ExpressionAttributeValues: {
            ":needs": "needs_review",
            ":expected": subject.version,
            ":version": event.version,
            ":me": reviewer,
            ":now": event.at,
            ":round": round,
            ":gpk": indexKeys[byStatus.partitionKey],
            ":gsk": indexKeys[byStatus.sortKey],
            ...(voters.length > 0 ? { ":votes": voters.length, ":voters": voters } : {}),
          },
        },
      },
      {
        Delete: {
          TableName: this.tableName,
          Key: voteKeys.vote(subject.id, round, reviewer),
          ConditionExpression: "attribute_exists(#pk)",
          ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
        },
      },
      historyEventPut(this.tableName, event),
    ];
    // The last vote taken back: the candidate no longer counts as awaiting votes.
    const counters = deltaForChange(subject, { ...subject, votes: voters.length });
    await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => ({ items, counters }),
      onConditionFailed: async () => {
        const current = await this.review.findSubject(subject.id);
        if (!current) throw new NotFoundError(`Candidate ${subject.id} not found`);
        throw staleConflict(current, { leaseGuard: { holder: reviewer, at: event.at } } as Transition);
      },
      idempotent: true,
    });
  }

  async settle(transition: Transition, vote: Vote, round: ReviewRound): Promise<void> {
    await this.review.apply(transition, undefined, [this.putVote(vote), this.putRound(round)]);
  }

  async adjudicate(transition: Transition, round: number): Promise<void> {
    const { event } = transition;
    await this.review.apply(transition, undefined, [
      {
        Update: {
          TableName: this.tableName,
          Key: voteKeys.round(transition.subject.id, round),
          UpdateExpression: "SET #adjudication = :adjudication",
          ConditionExpression: "attribute_exists(#pk)",
          ExpressionAttributeNames: { "#pk": TABLE.partitionKey, "#adjudication": "adjudication" },
          ExpressionAttributeValues: {
            ":adjudication": { action: event.action, reviewer: event.reviewer, at: event.at },
          },
        },
      },
    ]);
  }

  async awaitingAdjudication(after: readonly ([string, string] | null)[] | null, limit: number) {
    return this.adjudicationQueue.walk({ filters: {}, after, skip: 0, limit });
  }

  async rounds(from: string | null, to: string | null): Promise<ReviewRound[]> {
    return (await this.queryIndex(REVIEW_ROUNDS_PARTITION, from, to)) as unknown as ReviewRound[];
  }

  async log(days: readonly string[], from: string, to: string): Promise<LogEvent[]> {
    const pages = await Promise.all(days.map((day) => this.queryIndex(reviewLogPartition(day), from, to)));
    return pages.flat() as unknown as LogEvent[];
  }

  private async queryIndex(partition: string, from: string | null, to: string | null) {
    const items: Record<string, unknown>[] = [];
    const values: Record<string, unknown> = { ":pk": partition };
    let range = "";
    if (from && to) {
      range = " AND #sk BETWEEN :from AND :to";
      values[":from"] = from;
      values[":to"] = to;
    } else if (from) {
      range = " AND #sk >= :from";
      values[":from"] = from;
    } else if (to) {
      range = " AND #sk < :to";
      values[":to"] = to;
    }
    let start: Record<string, unknown> | undefined;
    do {
      const result = await this.dynamodb.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: evalSessions.name,
          KeyConditionExpression: `#pk = :pk${range}`,
          ExpressionAttributeNames: {
            "#pk": evalSessions.partitionKey,
            ...(range ? { "#sk": evalSessions.sortKey } : {}),
          },
          ExpressionAttributeValues: values,
          ExclusiveStartKey: start,
        }),
      );
      items.push(...(result.Items ?? []));
      start = result.LastEvaluatedKey;
    } while (start);
    return items;
  }

  private putVote(vote: Vote) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...voteKeys.vote(vote.candidate_id, vote.round, vote.reviewer),
          type: "review_vote",
          ...vote,
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      },
    };
  }

  private putRound(round: ReviewRound) {
    return {
      Put: {
        TableName: this.tableName,
        Item: {
          ...voteKeys.round(round.candidate_id, round.round),
          type: "review_round",
          ...roundIndexKeys(round.candidate_id, round.round, round.at),
          ...round,
        },
        ConditionExpression: "attribute_not_exists(#pk)",
        ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
      },
    };
  }
}

export function alreadyVoted(id: string): ConflictError {
  return new ConflictError(
    `You have already voted on candidate ${id}: a second review needs another reviewer (current status: needs_review)`,
    "needs_review",
  );
}

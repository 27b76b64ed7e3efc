import { type DynamoDBDocumentClient, GetCommand, type TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateViews } from "../../common/adapters/candidate-view.ts";
import { readPartition } from "../../common/adapters/partition-reads.ts";
import { candidateIndexKeys, keys } from "../../common/adapters/table-keys.ts";
import { transactConditionally } from "../../common/adapters/transactions.ts";
import { NotFoundError } from "../../common/domain/errors.ts";
import { TABLE } from "../../common/resources.ts";
import { type ReviewEvent, type ReviewSubject, staleConflict, type Transition } from "../domain/review.ts";
import type { BulkMark, CandidateView, ReviewStore } from "../ports.ts";
import { reviewLogKeys } from "./vote-keys.ts";

const EVENT_PREFIX = "EVENT#";

type TransactItem = NonNullable<
  ConstructorParameters<typeof TransactWriteCommand>[0]["TransactItems"]
>[number];

/** The names of a candidate's lease attributes in an expression. */
export const LEASE_NAMES = {
  "#leaseHolder": "lease_holder",
  "#leaseName": "lease_holder_name",
  "#leaseExpires": "lease_expires_at",
  "#leaseStarted": "lease_started_at",
};
/** What removes a lease: every change of a candidate's review state ends any. */
export const LEASE_REMOVED = ["#leaseHolder", "#leaseName", "#leaseExpires", "#leaseStarted"] as const;
/** Nobody else holds the candidate: no lease, the caller's own (`:me`), or one expired by `:now`. */
export const LEASE_FREE =
  "(attribute_not_exists(#leaseHolder) OR #leaseHolder = :me OR attribute_not_exists(#leaseExpires) OR #leaseExpires <= :now)";

/** The sort key suffix of an event: the candidate's version after it, so two events never share a key. */
export const eventSequence = (version: number) => String(version).padStart(10, "0");

/**
 * The put of a history event beside its candidate, conditional on no event at its key. It is
 * also indexed in the day's review log (reviewer numbers), but for a bulk job's: a bulk of any
 * size then adds nothing for the reviewers' page to read.
 */
export function historyEventPut(tableName: string, event: ReviewEvent) {
  const sequence = eventSequence(event.version);
  return {
    Put: {
      TableName: tableName,
      Item: {
        ...keys.candidateEvent(event.candidate_id, event.at, sequence),
        type: "candidate_event",
        ...(event.bulk_id ? {} : reviewLogKeys(event.candidate_id, event.at, sequence)),
        ...event,
      },
      ConditionExpression: "attribute_not_exists(#pk)",
      ExpressionAttributeNames: { "#pk": TABLE.partitionKey },
    },
  };
}

/**
 * Review decisions in the single table. A transition is one TransactWriteItems: the conditional
 * update of the candidate (expected status and version), the put of its history event and the
 * update of one counter shard, so the three never disagree.
 */
export class ReviewTable implements ReviewStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly views: CandidateViews,
  ) {}

  async findSubject(id: string): Promise<ReviewSubject | null> {
    const { Item } = await this.dynamodb.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.candidate(id),
        ConsistentRead: true,
        ProjectionExpression:
          "id, #status, #version, corrected_response, failure_category, #timestamp, task_type, provenance, prompt_ready, lease_holder, lease_holder_name, lease_expires_at, lease_started_at, suggestion, votes, voters, vote_round, adjudication",
        ExpressionAttributeNames: { "#status": "status", "#version": "version", "#timestamp": "timestamp" },
      }),
    );
    return Item ? (Item as ReviewSubject) : null;
  }

  /**
   * `extra`: items written in the same transaction (a settling vote and its round record); a
   * failed condition among them reads as the candidate having moved on.
   */
  async apply(transition: Transition, bulk?: BulkMark, extra: readonly TransactItem[] = []): Promise<void> {
    const mark = bulk
      ? [
          {
            Put: {
              TableName: this.tableName,
              Item: {
                ...keys.bulkItem(bulk.bulkId, transition.subject.id),
                type: "bulk_item",
                candidate_id: transition.subject.id,
                version: transition.version,
              },
            },
          },
        ]
      : [];
    await transactConditionally(this.dynamodb, this.tableName, {
      build: async () => ({
        items: [...this.transactItems(transition), ...mark, ...extra],
        counters: transition.counterDelta,
      }),
      // The candidate moved on (or its event exists): answer with the state it is in now.
      onConditionFailed: async () => {
        const current = await this.findSubject(transition.subject.id);
        if (!current) throw new NotFoundError(`Candidate ${transition.subject.id} not found`);
        throw staleConflict(current, transition);
      },
      idempotent: true,
    });
  }

  async detail(id: string): Promise<{ candidate: CandidateView; history: ReviewEvent[] } | null> {
    const items = await readPartition(
      this.dynamodb,
      this.tableName,
      keys.candidate(id)[TABLE.partitionKey] as string,
    );
    const sortKey = (item: Record<string, unknown>) => String(item[TABLE.sortKey]);
    const candidate = items.find((item) => sortKey(item) === keys.candidate(id)[TABLE.sortKey]);
    if (!candidate) return null;
    const history = items
      .filter((item) => sortKey(item).startsWith(EVENT_PREFIX))
      .map(
        (item): ReviewEvent => ({
          candidate_id: item.candidate_id as string,
          action: item.action as ReviewEvent["action"],
          from: item.from as ReviewEvent["from"],
          to: item.to as ReviewEvent["to"],
          failure_category: (item.failure_category ?? null) as ReviewEvent["failure_category"],
          reviewer: item.reviewer as string,
          ...(typeof item.reviewer_name === "string" ? { reviewer_name: item.reviewer_name } : {}),
          ...(typeof item.bulk_id === "string" ? { bulk_id: item.bulk_id } : {}),
          ...(typeof item.correction_origin === "string"
            ? { correction_origin: item.correction_origin as ReviewEvent["correction_origin"] }
            : {}),
          ...(item.vote === true ? { vote: true } : {}),
          ...(item.to_adjudication === true ? { to_adjudication: true } : {}),
          ...(item.policy_override === true ? { policy_override: true } : {}),
          ...(typeof item.reviews_required === "number" ? { reviews_required: item.reviews_required } : {}),
          ...(item.settled_by === "agreement" || item.settled_by === "adjudication"
            ? { settled_by: item.settled_by }
            : {}),
          ...(typeof item.lease_started_at === "string" ? { lease_started_at: item.lease_started_at } : {}),
          at: item.at as string,
          version: item.version as number,
          // Events written before these fields existed hold no text.
          corrected_response: (item.corrected_response ?? null) as string | null,
          replaced_correction: (item.replaced_correction ?? null) as string | null,
        }),
      );
    return { candidate: await this.views.toView(candidate), history };
  }

  /** Long on purpose: every attribute a decision sets is named once here, beside the condition it must agree with. */
  private transactItems(transition: Transition) {
    const { subject, event } = transition;
    const { byStatus } = TABLE.indexes;
    const indexKeys = candidateIndexKeys(subject, transition.to);
    const names: Record<string, string> = {
      "#pk": TABLE.partitionKey,
      "#status": "status",
      "#version": "version",
      "#corrected": "corrected_response",
      "#draft": "draft_correction",
      "#category": "failure_category",
      "#reviewer": "reviewer",
      "#reviewerName": "reviewer_name",
      "#decidedAt": "decided_at",
      "#updatedBy": "updated_by",
      "#updatedAt": "updated_at",
      "#gpk": byStatus.partitionKey,
      "#gsk": byStatus.sortKey,
      "#prov": "provenance",
      ...LEASE_NAMES,
    };
    const values: Record<string, unknown> = {
      ":from": transition.from,
      ":expected": transition.expectedVersion,
      ":to": transition.to,
      ":version": transition.version,
      ":corrected": transition.corrected_response,
      ":draft": transition.draft_correction,
      ":category": transition.failure_category,
      ":reviewer": transition.reviewer,
      ":reviewerName": transition.reviewer_name,
      ":decidedAt": transition.decided_at,
      ":updatedBy": transition.updated_by,
      ":updatedAt": transition.updated_at,
      ":gpk": indexKeys[byStatus.partitionKey],
      ":gsk": indexKeys[byStatus.sortKey],
    };
    const sets = [
      "#status = :to",
      "#version = :version",
      "#corrected = :corrected",
      "#draft = :draft",
      "#category = :category",
      "#reviewer = :reviewer",
      "#reviewerName = :reviewerName",
      "#decidedAt = :decidedAt",
      "#updatedBy = :updatedBy",
      "#updatedAt = :updatedAt",
      "#gpk = :gpk",
      "#gsk = :gsk",
    ];
    // Review facts go into provenance field by field, so whatever it already holds stays. A
    // record stored without provenance gets a block holding the facts alone (backfill can then
    // fill in its origin); the condition makes sure no block appeared in the meantime.
    const hasProvenance = subject.provenance !== null && typeof subject.provenance === "object";
    // Any lease ends with the transition; the index keys above take the candidate out of its lease partition.
    const removes: string[] = [...LEASE_REMOVED];
    const conditions = [
      "attribute_exists(#pk)",
      "#status = :from",
      "#version = :expected",
      hasProvenance ? "attribute_exists(#prov)" : "attribute_not_exists(#prov)",
    ];
    // Double review: only an adjudication decides a candidate in adjudication, and nothing else
    // does. A settlement ends the round: its votes go, and the next round (after an undo) is new.
    if (transition.settled_by || transition.to !== "needs_review") names["#adj"] = "adjudication";
    if (transition.settled_by === "adjudication") {
      values[":true"] = true;
      conditions.push("#adj = :true");
    } else if (transition.to !== "needs_review") {
      conditions.push("attribute_not_exists(#adj)");
    }
    if (transition.settled_by) {
      names["#votes"] = "votes";
      names["#voters"] = "voters";
      names["#round"] = "vote_round";
      values[":nextRound"] = (subject.vote_round ?? 0) + 1;
      sets.push("#round = :nextRound");
      removes.push("#votes", "#voters", "#adj");
    }
    if (transition.leaseGuard) {
      values[":me"] = transition.leaseGuard.holder;
      values[":now"] = transition.leaseGuard.at;
      conditions.push(LEASE_FREE);
    }
    if (hasProvenance) {
      Object.entries(transition.provenance.set).forEach(([name, value], i) => {
        names[`#ps${i}`] = name;
        values[`:ps${i}`] = value;
        sets.push(`#prov.#ps${i} = :ps${i}`);
      });
      transition.provenance.remove.forEach((name, i) => {
        names[`#pr${i}`] = name;
        removes.push(`#prov.#pr${i}`);
      });
    } else {
      values[":prov"] = transition.provenance.set;
      sets.push("#prov = :prov");
    }
    return [
      {
        Update: {
          TableName: this.tableName,
          Key: keys.candidate(subject.id),
          UpdateExpression: `SET ${sets.join(", ")} REMOVE ${removes.join(", ")}`,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
        },
      },
      historyEventPut(this.tableName, event),
    ];
  }
}

import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import { type DynamoDBDocumentClient, QueryCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import type { CandidateViews } from "../../common/adapters/candidate-view.ts";
import {
  candidateIndexKeys,
  keys,
  leaseIndexKeys,
  leasePartition,
} from "../../common/adapters/table-keys.ts";
import type { Candidate } from "../../common/domain/candidate.ts";
import { NotFoundError } from "../../common/domain/errors.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../common/resources.ts";
import type { Lease } from "../domain/lease.ts";
import type { QueueFilters } from "../domain/queue.ts";
import type { CandidateView, LeaseStore, QueuedItem } from "../ports.ts";
import { filterExpression, type QueueTable } from "./queue-table.ts";
import type { ReviewTable } from "./review-table.ts";
import { votingIndexKeys, votingPartition } from "./vote-keys.ts";

const { byStatus } = TABLE.indexes;

const NAMES = {
  "#pk": TABLE.partitionKey,
  "#status": "status",
  "#leaseHolder": "lease_holder",
  "#leaseName": "lease_holder_name",
  "#leaseExpires": "lease_expires_at",
  "#leaseStarted": "lease_started_at",
  "#gpk": byStatus.partitionKey,
  "#gsk": byStatus.sortKey,
};

type IndexInput = Pick<Candidate, "id" | "timestamp" | "provenance"> & { readonly votes?: number | null };

/**
 * Leases in the single table. A leased candidate stays `needs_review` but moves, in the same
 * conditional update that records its holder, from its queue partition of the status index to
 * a lease partition keyed by expiry (`LEASE#<shard>`, `<expires_at>#<id>`). The queue's
 * partitions therefore hold only what nobody holds, so taking the next candidate reads the same
 * few items however many are leased, and the expired leases are the first keys of their
 * partitions. Every write is one UpdateItem; no counter moves.
 */
export class LeaseTable implements LeaseStore {
  constructor(
    private readonly dynamodb: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly views: CandidateViews,
    private readonly queue: QueueTable,
    private readonly review: Pick<ReviewTable, "findSubject">,
  ) {}

  async expired(now: string, perShard: number): Promise<QueuedItem[]> {
    const shards = await Promise.all(
      Array.from({ length: STATUS_INDEX_SHARDS }, async (_, shard) => {
        const result = await this.dynamodb.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: byStatus.name,
            // Sort keys are `<expires_at>#<id>`: every key of a lease over by `now` sorts before it.
            KeyConditionExpression: "#gpk = :gpk AND #gsk < :now",
            ExpressionAttributeNames: { "#gpk": byStatus.partitionKey, "#gsk": byStatus.sortKey },
            ExpressionAttributeValues: { ":gpk": leasePartition(shard), ":now": now },
            Limit: perShard,
          }),
        );
        return (result.Items ?? []) as QueuedItem[];
      }),
    );
    return shards
      .flat()
      .sort((a, b) => String(a[byStatus.sortKey]).localeCompare(String(b[byStatus.sortKey])));
  }

  async awaitingVotes(filters: QueueFilters, voter: string, perShard: number): Promise<QueuedItem[]> {
    const filter = filterExpression(filters);
    const shards = await Promise.all(
      Array.from({ length: STATUS_INDEX_SHARDS }, async (_, shard) => {
        // `Limit` bounds what is read; the filter then drops what this voter voted on already.
        const result = await this.dynamodb.send(
          new QueryCommand({
            TableName: this.tableName,
            IndexName: byStatus.name,
            KeyConditionExpression: "#gpk = :gpk",
            FilterExpression: `NOT contains(#voters, :voter)${filter ? ` AND ${filter.expression}` : ""}`,
            ExpressionAttributeNames: {
              "#gpk": byStatus.partitionKey,
              "#voters": "voters",
              ...filter?.names,
            },
            ExpressionAttributeValues: { ":gpk": votingPartition(shard), ":voter": voter, ...filter?.values },
            Limit: perShard,
          }),
        );
        return (result.Items ?? []) as QueuedItem[];
      }),
    );
    return shards
      .flat()
      .sort((a, b) => String(a[byStatus.sortKey]).localeCompare(String(b[byStatus.sortKey])));
  }

  async queued(filters: QueueFilters, limit: number): Promise<QueuedItem[]> {
    return (await this.queue.walkItems({ filters, after: null, skip: 0, limit })).items;
  }

  async claim(item: QueuedItem, lease: Lease, now: string): Promise<CandidateView | null> {
    try {
      const { Attributes } = await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.candidate(item.id),
          UpdateExpression:
            "SET #leaseHolder = :holder, #leaseName = :name, #leaseExpires = :expires, #leaseStarted = :now, #gpk = :gpk, #gsk = :gsk",
          // Never a candidate the caller voted on, nor one waiting for adjudication (double review).
          ConditionExpression:
            "attribute_exists(#pk) AND #status = :needs AND (attribute_not_exists(#leaseExpires) OR #leaseExpires <= :now) AND NOT contains(#voters, :holder) AND attribute_not_exists(#adj)",
          ExpressionAttributeNames: { ...NAMES, "#voters": "voters", "#adj": "adjudication" },
          ExpressionAttributeValues: {
            ":holder": lease.holder,
            ":name": lease.holder_name,
            ":expires": lease.expires_at,
            ":needs": "needs_review",
            ":now": now,
            ":gpk": leaseIndexKeys(item, lease.expires_at)[byStatus.partitionKey],
            ":gsk": leaseIndexKeys(item, lease.expires_at)[byStatus.sortKey],
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return Attributes ? this.views.toView(Attributes) : null;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return null;
      throw error;
    }
  }

  async release(id: string, holder: string) {
    const current = await this.review.findSubject(id);
    if (!current) throw new NotFoundError(`Candidate ${id} not found`);
    if (current.status !== "needs_review" || current.lease_holder !== holder) {
      return { released: false as const, current };
    }
    const released = await this.backToQueue(current, "#leaseHolder = :holder", { ":holder": holder });
    if (released) return { released: true as const };
    const now = await this.review.findSubject(id);
    if (!now) throw new NotFoundError(`Candidate ${id} not found`);
    return { released: false as const, current: now };
  }

  async expire(item: QueuedItem, now: string): Promise<boolean> {
    return this.backToQueue(
      item as unknown as IndexInput,
      "#leaseExpires = :seen AND #leaseExpires <= :now",
      {
        ":seen": item.lease_expires_at ?? "",
        ":now": now,
      },
    );
  }

  /** Ends a lease under `condition`: the lease attributes go, the queue partition's keys come back. */
  private async backToQueue(
    candidate: IndexInput,
    condition: string,
    values: Record<string, string>,
  ): Promise<boolean> {
    // A candidate with votes goes back to the voting partition it was taken from (double review).
    const indexKeys =
      (candidate.votes ?? 0) > 0 ? votingIndexKeys(candidate) : candidateIndexKeys(candidate, "needs_review");
    try {
      await this.dynamodb.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.candidate(candidate.id),
          UpdateExpression:
            "SET #gpk = :gpk, #gsk = :gsk REMOVE #leaseHolder, #leaseName, #leaseExpires, #leaseStarted",
          ConditionExpression: `attribute_exists(#pk) AND #status = :needs AND ${condition}`,
          ExpressionAttributeNames: NAMES,
          ExpressionAttributeValues: {
            ":needs": "needs_review",
            ":gpk": indexKeys[byStatus.partitionKey],
            ":gsk": indexKeys[byStatus.sortKey],
            ...values,
          },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}

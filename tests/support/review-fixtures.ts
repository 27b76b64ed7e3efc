import { PutObjectCommand } from "@aws-sdk/client-s3";
import { readCounters } from "../../lib/common/adapters/counters.ts";
import { readPartition } from "../../lib/common/adapters/partition-reads.ts";
import { leasePartition } from "../../lib/common/adapters/table-keys.ts";
import { CANDIDATE_STATUSES } from "../../lib/common/domain/candidate.ts";
import { type CounterDelta, mergeDeltas, reviewStateCounters } from "../../lib/common/domain/stats.ts";
import { STATUS_INDEX_SHARDS, TABLE } from "../../lib/common/resources.ts";
import { adjudicationPartition, votingPartition } from "../../lib/review/adapters/vote-keys.ts";
import { candidatesWithStatus, type TestAws } from "./aws.ts";

/** Names the shared fixtures do not use, so counts over synthetic runs are easy to predict. */
export const MODELS = ["model-a", "model-b", "model-c"] as const;
export const TASK_TYPES = ["arithmetic", "coding", "summary"] as const;
export const SOURCE = "synthetic-rig";

/** `count` candidate lines of run `runId`, one second apart from `start`, models and task types in turn. */
export function candidateLines(runId: string, count: number, start = Date.UTC(2026, 0, 1)): string {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      id: `${runId}-${String(i).padStart(5, "0")}`,
      source: SOURCE,
      benchmark_run_id: runId,
      timestamp: new Date(start + i * 1000).toISOString(),
      status: "needs_review",
      prompt_messages: [{ role: "user", content: `question ${i}` }],
      model_response: `wrong answer ${i}`,
      corrected_response: null,
      quality_score: 0.25,
      failure_reason: "numeric_match: off",
      task_type: TASK_TYPES[i % TASK_TYPES.length],
      model_name: MODELS[i % MODELS.length],
    }),
  ).join("\n");
}

export async function uploadRun(aws: TestAws, runId: string, body: string | Buffer, prefix = "runs/") {
  await aws.clients.s3.send(
    new PutObjectCommand({
      Bucket: aws.resources.bucket,
      Key: `${prefix}${runId}/sft_candidates.jsonl`,
      Body: body,
    }),
  );
}

/** Every candidate leased to a reviewer at the moment, read through the lease partitions. */
export async function leasedCandidates(aws: TestAws): Promise<Record<string, unknown>[]> {
  return heldCandidates(aws, leasePartition);
}

/** Every candidate in one kind of status-index partition kept beside the queue's (leases, votes, adjudication). */
async function heldCandidates(
  aws: TestAws,
  partitionOf: (shard: number) => string,
): Promise<Record<string, unknown>[]> {
  const shards = await Promise.all(
    Array.from({ length: STATUS_INDEX_SHARDS }, (_, shard) =>
      readPartition(
        aws.clients.dynamodb,
        aws.resources.tableName,
        partitionOf(shard),
        TABLE.indexes.byStatus,
      ),
    ),
  );
  return shards.flat();
}

/**
 * Counts every candidate by walking every partition of the status index (leased candidates sit
 * in lease partitions, still `needs_review`), and derives from them the review-state counters
 * the stats keep: the truth the counters must equal.
 */
export async function recount(aws: TestAws): Promise<CounterDelta> {
  const deltas: CounterDelta[] = [];
  const count = (item: Record<string, unknown>) =>
    deltas.push(reviewStateCounters(item as unknown as Parameters<typeof reviewStateCounters>[0]));
  for (const status of CANDIDATE_STATUSES) {
    for (const item of await candidatesWithStatus(aws, status)) {
      if (item.status !== status) throw new Error(`${item.id} is ${item.status} in the ${status} index`);
      count(item);
    }
  }
  // Leased, awaiting another vote or awaiting adjudication: `needs_review`, out of the queue's partitions.
  for (const partitionOf of [leasePartition, votingPartition, adjudicationPartition]) {
    for (const item of await heldCandidates(aws, partitionOf)) {
      if (item.status !== "needs_review")
        throw new Error(`${item.id} is ${item.status} in ${partitionOf(0)}`);
      count(item);
    }
  }
  return mergeDeltas(deltas);
}

/** The stored counters that depend on review state (the ones `recount` derives), zeros left out. */
export async function reviewStateCountersStored(aws: TestAws): Promise<CounterDelta> {
  const counters = await readCounters(aws.clients.dynamodb, aws.resources.tableName);
  return Object.fromEntries(
    Object.entries(counters).filter(
      ([name, value]) =>
        value !== 0 &&
        (name.startsWith("status#") ||
          name.startsWith("needs_review#") ||
          name.startsWith("correction_origin#") ||
          name === "export_ready" ||
          name === "awaiting_votes" ||
          name === "awaiting_adjudication"),
    ),
  );
}

import { createHash } from "node:crypto";
import type { Candidate, CandidateStatus } from "../domain/candidate.ts";
import { COUNTER_SHARDS, STATUS_INDEX_SHARDS, TABLE } from "../resources.ts";

/** Key layout of the single table. Every item carries `type` so a reader never guesses. */
export const keys = {
  candidate: (id: string) => ({ [TABLE.partitionKey]: `CAND#${id}`, [TABLE.sortKey]: "CAND" }),
  candidateEvent: (id: string, at: string, seq: string) => ({
    [TABLE.partitionKey]: `CAND#${id}`,
    [TABLE.sortKey]: `EVENT#${at}#${seq}`,
  }),
  run: (runId: string) => ({ [TABLE.partitionKey]: `RUN#${runId}`, [TABLE.sortKey]: "RUN" }),
  counterShard: (shard: number) => ({ [TABLE.partitionKey]: "STATS", [TABLE.sortKey]: `SHARD#${shard}` }),
  /** Settings changed at run time, one item per area (`review`: the runs prefix). */
  settings: (area: string) => ({ [TABLE.partitionKey]: "SETTINGS", [TABLE.sortKey]: area }),
  /** An eval session's summary: the fields the overview lists, feedback counts, latest evaluation. */
  evalSession: (id: string) => ({ [TABLE.partitionKey]: `EVALSESSION#${id}`, [TABLE.sortKey]: "SESSION" }),
  /** Its messages (or the pointer to them in S3), apart so the overview never reads them. */
  evalSessionMessages: (id: string) => ({
    [TABLE.partitionKey]: `EVALSESSION#${id}`,
    [TABLE.sortKey]: "MESSAGES",
  }),
  /** One rating per message and rater. */
  evalFeedback: (sessionId: string, messageIndex: number, rater: string) => ({
    [TABLE.partitionKey]: `EVALSESSION#${sessionId}`,
    [TABLE.sortKey]: `${EVAL_SORT_PREFIXES.feedback}${String(messageIndex).padStart(6, "0")}#${rater}`,
  }),
  /** Every evaluation of a session, in time order. */
  evalEvaluation: (sessionId: string, evaluatedAt: string, runId: string) => ({
    [TABLE.partitionKey]: `EVALSESSION#${sessionId}`,
    [TABLE.sortKey]: `${EVAL_SORT_PREFIXES.evaluation}${evaluatedAt}#${runId}`,
  }),
  /** The judge/rubric version pairs any evaluation was made with: the overview's partitions. */
  evalVersions: () => ({ [TABLE.partitionKey]: "EVAL", [TABLE.sortKey]: "VERSIONS" }),
  evalProfile: (id: string) => ({ [TABLE.partitionKey]: "EVAL", [TABLE.sortKey]: `PROFILE#${id}` }),
  judgeRun: (runId: string) => ({ [TABLE.partitionKey]: `JUDGERUN#${runId}`, [TABLE.sortKey]: "RUN" }),
  exportJob: (exportId: string) => ({
    [TABLE.partitionKey]: `EXPORT#${exportId}`,
    [TABLE.sortKey]: "EXPORT",
  }),
  /** A named dataset: the last version number handed out; its versions and pins sit beside it. */
  dataset: (name: string) => ({ [TABLE.partitionKey]: `DATASET#${name}`, [TABLE.sortKey]: "DATASET" }),
  /** One pinned version, zero-padded so the versions list in order. */
  datasetVersion: (name: string, version: number) => ({
    [TABLE.partitionKey]: `DATASET#${name}`,
    [TABLE.sortKey]: `${DATASET_VERSION_PREFIX}${String(version).padStart(9, "0")}`,
  }),
  /** Which version an export was pinned as under this name: a second pin finds it. */
  datasetPin: (name: string, exportId: string) => ({
    [TABLE.partitionKey]: `DATASET#${name}`,
    [TABLE.sortKey]: `PIN#${exportId}`,
  }),
  /** A bulk decision job of the review queue, and one marker per candidate it decided (for its undo). */
  bulkJob: (id: string) => ({ [TABLE.partitionKey]: `BULK#${id}`, [TABLE.sortKey]: "JOB" }),
  bulkItem: (id: string, candidateId: string) => ({
    [TABLE.partitionKey]: `BULK#${id}`,
    [TABLE.sortKey]: `ITEM#${candidateId}`,
  }),
  /** A suggestion job, and one marker per candidate it counted (so a redelivery counts nothing twice). */
  suggestionJob: (id: string) => ({ [TABLE.partitionKey]: `SUGGEST#${id}`, [TABLE.sortKey]: "JOB" }),
  suggestionItem: (id: string, candidateId: string) => ({
    [TABLE.partitionKey]: `SUGGEST#${id}`,
    [TABLE.sortKey]: `ITEM#${candidateId}`,
  }),
  /** One part of the candidates a suggestion job selected (parts keep each item under the size limit). */
  suggestionSelection: (id: string, part: number) => ({
    [TABLE.partitionKey]: `SUGGEST#${id}`,
    [TABLE.sortKey]: `SELECTION#${String(part).padStart(4, "0")}`,
  }),
  /** A session's progress within a judge run. */
  judgeRunSession: (runId: string, sessionId: string) => ({
    [TABLE.partitionKey]: `JUDGERUN#${runId}`,
    [TABLE.sortKey]: `${EVAL_SORT_PREFIXES.runSession}${sessionId}`,
  }),
} as const;

export const EVAL_SORT_PREFIXES = {
  feedback: "FEEDBACK#",
  evaluation: "EVALUATION#",
  runSession: "SESSION#",
} as const;

/** The eval-session partition of sessions never evaluated. */
export const EVAL_PENDING_KEY = "pending";

/** Which eval-session partition a session is in: `pending`, or the versions of its latest evaluation. */
export function evalVersionsKey(
  latest: { readonly judge_version: string; readonly rubric_version: string } | null | undefined,
): string {
  return latest
    ? `judge=${encodeURIComponent(latest.judge_version)}&rubric=${encodeURIComponent(latest.rubric_version)}`
    : EVAL_PENDING_KEY;
}

/** The partition of the eval-session index (or, given a profile, of the per-profile index). */
export function evalSessionPartition(versionsKey: string, profileId?: string): string {
  return profileId === undefined
    ? `EVALSESSIONS#${versionsKey}`
    : `EVALSESSIONS#${encodeURIComponent(profileId)}#${versionsKey}`;
}

/**
 * Sorted descending: pinned (`1`) before unpinned (`0`), then the most recent activity, then
 * the id for a total order. A time range is a key condition on `<flag>#<time>`.
 */
export function evalSessionSortKey(session: {
  readonly pinned: boolean;
  readonly last_active: string;
  readonly id: string;
}): string {
  return `${session.pinned ? "1" : "0"}#${session.last_active}#${session.id}`;
}

export function evalSessionIndexKeys(
  session: {
    readonly id: string;
    readonly profile_id: string;
    readonly pinned: boolean;
    readonly last_active: string;
  },
  versionsKey: string,
): Record<string, string> {
  const { evalSessions, evalSessionsByProfile } = TABLE.indexes;
  const sortKey = evalSessionSortKey(session);
  return {
    [evalSessions.partitionKey]: evalSessionPartition(versionsKey),
    [evalSessions.sortKey]: sortKey,
    [evalSessionsByProfile.partitionKey]: evalSessionPartition(versionsKey, session.profile_id),
    [evalSessionsByProfile.sortKey]: sortKey,
  };
}

/** Judge runs share the eval-session index in a partition of their own, newest first. */
export const JUDGE_RUNS_PARTITION = "JUDGERUNS";

export function judgeRunIndexKeys(run: { readonly id: string; readonly created_at: string }) {
  const { evalSessions } = TABLE.indexes;
  return {
    [evalSessions.partitionKey]: JUDGE_RUNS_PARTITION,
    [evalSessions.sortKey]: `${run.created_at}#${run.id}`,
  };
}

/** The sort-key prefix of a dataset's versions. */
export const DATASET_VERSION_PREFIX = "VERSION#";

/** Datasets are listed by name from a partition of their own of the eval-session index. */
export const DATASETS_PARTITION = "DATASETS";

export function datasetIndexKeys(name: string) {
  const { evalSessions } = TABLE.indexes;
  return { [evalSessions.partitionKey]: DATASETS_PARTITION, [evalSessions.sortKey]: name };
}

/** Export jobs also live in a partition of their own of the eval-session index, newest first. */
export const EXPORT_JOBS_PARTITION = "EXPORTS";

export function exportJobIndexKeys(job: { readonly id: string; readonly created_at: string }) {
  const { evalSessions } = TABLE.indexes;
  return {
    [evalSessions.partitionKey]: EXPORT_JOBS_PARTITION,
    [evalSessions.sortKey]: `${job.created_at}#${job.id}`,
  };
}

/**
 * Suggestion jobs are listed in a partition of their own of the eval-session index, newest first,
 * so the local runtime's start-up check finds those left unfinished without a scan.
 */
export const SUGGESTION_JOBS_PARTITION = "SUGGESTIONS";

export function suggestionJobIndexKeys(job: { readonly id: string; readonly created_at: string }) {
  const { evalSessions } = TABLE.indexes;
  return {
    [evalSessions.partitionKey]: SUGGESTION_JOBS_PARTITION,
    [evalSessions.sortKey]: `${job.created_at}#${job.id}`,
  };
}

export function shardOf(id: string, shards: number): number {
  return createHash("md5").update(id).digest().readUInt32BE(0) % shards;
}

export function statusPartition(status: CandidateStatus, shard: number): string {
  return `STATUS#${status}#${shard}`;
}

/**
 * The status-index partition of candidates leased to a reviewer (still `needs_review`), sharded
 * like the status partitions: a lease moves a candidate here, keyed by when the lease expires, so
 * the queue's partitions hold only what nobody holds and expired leases are the first keys.
 */
export function leasePartition(shard: number): string {
  return `LEASE#${shard}`;
}

/** Status-index attributes of a candidate leased until `expiresAt` (an ISO time). */
export function leaseIndexKeys(candidate: Pick<Candidate, "id">, expiresAt: string): Record<string, string> {
  const { byStatus } = TABLE.indexes;
  return {
    [byStatus.partitionKey]: leasePartition(shardOf(candidate.id, STATUS_INDEX_SHARDS)),
    [byStatus.sortKey]: `${expiresAt}#${candidate.id}`,
  };
}

/** Queue order: the time the answer was produced (or captured), then the id for a total order. */
export function queueSortKey(candidate: Pick<Candidate, "id" | "timestamp" | "provenance">): string {
  // A record stored without provenance (or stripped of it) still has a place in the index.
  const capturedAt = candidate.provenance?.captured_at ?? "";
  const when = candidate.timestamp ? new Date(candidate.timestamp) : new Date(capturedAt);
  const iso = Number.isNaN(when.getTime()) ? capturedAt : when.toISOString();
  return `${iso}#${candidate.id}`;
}

/** Index attributes for a candidate in `status`: the status index always, the run index when it has a run. */
export function candidateIndexKeys(
  candidate: Pick<Candidate, "id" | "timestamp" | "provenance">,
  status: CandidateStatus,
): Record<string, string> {
  const { byStatus, byRun } = TABLE.indexes;
  const indexKeys: Record<string, string> = {
    [byStatus.partitionKey]: statusPartition(status, shardOf(candidate.id, STATUS_INDEX_SHARDS)),
    [byStatus.sortKey]: queueSortKey(candidate),
  };
  const { source_run_id: runId, line } = candidate.provenance ?? {};
  if (runId) {
    indexKeys[byRun.partitionKey] = `RUN#${runId}`;
    indexKeys[byRun.sortKey] = `${String(line ?? 0).padStart(10, "0")}#${candidate.id}`;
  }
  return indexKeys;
}

export function randomCounterShard(): number {
  return Math.floor(Math.random() * COUNTER_SHARDS);
}

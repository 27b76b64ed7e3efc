/**
 * The one declaration of Flywheel's stateful resources. The CDK stack (`infra/`) and the local
 * runtime (`local/`) both build the table, the bucket layout and the queues from these values,
 * so what runs on a laptop is keyed and wired exactly like what runs in AWS.
 */

export const TABLE = {
  partitionKey: "pk",
  sortKey: "sk",
  /** Epoch seconds; DynamoDB deletes the item some time after it passes. */
  ttlAttribute: "expires_at",
  indexes: {
    /** Candidates by status, oldest first; sharded so a big import never heats one partition. */
    byStatus: { name: "gsi1", partitionKey: "gsi1pk", sortKey: "gsi1sk" },
    /** Candidates by run, in line order. */
    byRun: { name: "gsi2", partitionKey: "gsi2pk", sortKey: "gsi2sk" },
    /**
     * Eval sessions partitioned by the judge and rubric versions of their latest evaluation
     * (`pending` before any), pinned first then most recently active; also judge runs by creation.
     */
    evalSessions: { name: "gsi3", partitionKey: "gsi3pk", sortKey: "gsi3sk" },
    /** The same eval session partitions, per profile. */
    evalSessionsByProfile: { name: "gsi4", partitionKey: "gsi4pk", sortKey: "gsi4sk" },
  },
} as const;

export type IndexName = (typeof TABLE.indexes)[keyof typeof TABLE.indexes]["name"];

/** Partition-key shards of the status index; a queue page merges one query per shard. */
export const STATUS_INDEX_SHARDS = 4;
/** Shards of the stats counters, so concurrent transitions rarely touch the same counter item. */
export const COUNTER_SHARDS = 8;

export const BUCKET_PREFIXES = {
  runs: "runs/",
  quarantine: "quarantine/",
  exports: "exports/",
  blobs: "blobs/",
  /** Registered eval sets: `evalsets/<name>/*.jsonl`, uploaded or written by the API. */
  evalsets: "evalsets/",
  /** Each eval set version's n-gram index, built once: `evalset-index/<name>/<version>/n<N>.*`. */
  evalsetIndex: "evalset-index/",
  /** Pinned dataset versions: copies of finished exports, with no lifecycle rule (never expire). */
  datasets: "datasets/",
} as const;

/** Uploads that start an import: `runs/<run_id>/sft_candidates.jsonl`. */
export const RUN_UPLOAD = {
  prefix: BUCKET_PREFIXES.runs,
  suffix: "/sft_candidates.jsonl",
  fileName: "sft_candidates.jsonl",
} as const;

/** Exported datasets are deleted by a lifecycle rule after this many days. */
export const EXPORT_RETENTION_DAYS = 30;

/** What an export writes under `exports/<export id>/`. */
export const EXPORT_FILES = {
  dataset: "dataset.jsonl",
  quarantine: "quarantine.jsonl",
  /** Dataset line → record id → candidate, for every format (some trainers refuse extra keys). */
  records: "records.jsonl",
  manifest: "manifest.json",
  /** RAG only: one text file and one Bedrock Knowledge Bases `.metadata.json` sidecar per document. */
  documents: "documents/",
} as const;

export const exportPrefix = (exportId: string): string => `${BUCKET_PREFIXES.exports}${exportId}/`;

export interface QueueDeclaration {
  /** Logical name; the deployed name gets a stack-specific prefix. */
  readonly name: string;
  /**
   * Six times the consuming function's timeout, as AWS advises for a Lambda event source: room for
   * the function's own retries of a throttled invocation before the message shows again.
   */
  readonly visibilityTimeoutSeconds: number;
  /** Receives before a message moves to the queue's dead-letter queue. */
  readonly maxReceiveCount: number;
  /** Messages per handler invocation. */
  readonly batchSize: number;
  /** The consuming function's timeout. */
  readonly handlerTimeoutSeconds: number;
  /** Most concurrent invocations the queue feeds (unbounded when absent). */
  readonly maxConcurrency?: number;
}

export const QUEUES = {
  runUploads: {
    name: "run-uploads",
    handlerTimeoutSeconds: 900,
    visibilityTimeoutSeconds: 5_400,
    maxReceiveCount: 3,
    batchSize: 1,
  },
  /** Corrections that products publish; one message is one record, so a batch is cheap. */
  corrections: {
    name: "corrections",
    handlerTimeoutSeconds: 30,
    visibilityTimeoutSeconds: 180,
    maxReceiveCount: 5,
    batchSize: 10,
  },
  /** One message per session of a judge run; a session calls the judge model a few times. */
  judge: {
    name: "judge",
    handlerTimeoutSeconds: 300,
    visibilityTimeoutSeconds: 1800,
    maxReceiveCount: 3,
    batchSize: 5,
    // The judge is a shared model endpoint: four invocations of five sessions, each process
    // holding at most four requests in flight, keep a run of any size within 16 at once.
    maxConcurrency: 4,
  },
  /**
   * One message per candidate of a suggestion job; each calls the LLM once (twice for a malformed
   * reply). Bounded like the judge: the model endpoint is shared.
   */
  suggestions: {
    name: "suggestions",
    handlerTimeoutSeconds: 300,
    visibilityTimeoutSeconds: 1800,
    maxReceiveCount: 3,
    batchSize: 5,
    maxConcurrency: 4,
  },
  /**
   * One message per export job. A job streams its whole dataset, so it gets Lambda's longest
   * timeout and is handled alone; a failed attempt is retried once the message is visible again,
   * and a redelivery rebuilds the same bytes.
   */
  exports: {
    name: "exports",
    handlerTimeoutSeconds: 900,
    visibilityTimeoutSeconds: 5_400,
    maxReceiveCount: 3,
    batchSize: 1,
  },
} as const satisfies Record<string, QueueDeclaration>;

export type QueueKey = keyof typeof QUEUES;

export const dlqName = (queueName: string): string => `${queueName}-dlq`;

/** DLQs keep messages for the maximum SQS retention, 14 days, so nothing expires unnoticed. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;

/** Correction messages that can never be ingested: one object per message, by day. */
export const INGEST_QUARANTINE_PREFIX = `${BUCKET_PREFIXES.quarantine}ingest/`;

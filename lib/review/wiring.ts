import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateViews } from "../common/adapters/candidate-view.ts";
import { readCounters } from "../common/adapters/counters.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import { ReviewSettingsTable } from "../import/adapters/review-settings-table.ts";
import { RunRecords, S3RunFolders } from "../import/adapters/run-catalog.ts";
import type { RunFolderDeps } from "../import/usecases/run-folders.ts";
import { importRunDeps } from "../import/wiring.ts";
import { BulkTable } from "./adapters/bulk-table.ts";
import { LeaseTable } from "./adapters/lease-table.ts";
import { QueueTable } from "./adapters/queue-table.ts";
import { ReviewTable } from "./adapters/review-table.ts";
import { VoteTable } from "./adapters/vote-table.ts";
import type { CounterReader } from "./ports.ts";
import type { BulkDeps } from "./usecases/bulk.ts";
import type { DoubleReviewDeps } from "./usecases/double-review.ts";
import type { LeaseDeps } from "./usecases/leases.ts";
import type { ReviewDeps } from "./usecases/review.ts";
import type { ReviewQueueDeps } from "./usecases/review-queue.ts";

/** Everything the review routes call, wired to DynamoDB and S3. */
export interface ReviewApiDeps {
  readonly review: ReviewDeps;
  readonly queue: ReviewQueueDeps;
  readonly leases: LeaseDeps;
  readonly bulk: BulkDeps;
  /** Double review: the policy, votes, adjudication and the agreement and reviewer numbers. */
  readonly votes: DoubleReviewDeps;
  readonly counters: CounterReader;
  readonly runs: RunFolderDeps;
}

export function reviewApiDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string; runsPrefix: string; runUploadsQueueUrl?: string | undefined },
): ReviewApiDeps {
  const { dynamodb, s3 } = clients;
  const views = new CandidateViews(new S3Bodies(s3, names.bucket));
  const counters: CounterReader = { read: () => readCounters(dynamodb, names.tableName) };
  const folders = new S3RunFolders(s3, names.bucket);
  const store = new ReviewTable(dynamodb, names.tableName, views);
  const queue = new QueueTable(dynamodb, names.tableName, views);
  const votes = new VoteTable(dynamodb, names.tableName, views, store);
  return {
    review: { store },
    queue: { queue, counters },
    leases: { leases: new LeaseTable(dynamodb, names.tableName, views, queue, store) },
    bulk: { bulk: new BulkTable(dynamodb, names.tableName), store, queue, policy: votes },
    votes: { store, votes },
    counters,
    runs: {
      bucket: names.bucket,
      runsArea: names.runsPrefix,
      folders,
      lines: folders,
      records: new RunRecords(dynamodb, names.tableName),
      settings: new ReviewSettingsTable(dynamodb, names.tableName),
      importer: importRunDeps(clients, {
        tableName: names.tableName,
        bucket: names.bucket,
        runUploadsQueueUrl: names.runUploadsQueueUrl,
      }),
    },
  };
}

import type { ReviewDeps } from "../usecases/review.ts";
import type { CounterReader, ReviewQueueDeps } from "../usecases/review-queue.ts";
import type { RunFolderDeps } from "../usecases/run-folders.ts";
import type { AwsClients } from "./aws-clients.ts";
import { CandidateViews } from "./candidate-view.ts";
import { readCounters } from "./counters.ts";
import { importRunDeps } from "./import-run-deps.ts";
import { QueueTable } from "./queue-table.ts";
import { ReviewSettingsTable } from "./review-settings-table.ts";
import { ReviewTable } from "./review-table.ts";
import { RunRecords, S3RunFolders } from "./run-catalog.ts";
import { S3Bodies } from "./s3-objects.ts";

/** Everything the review routes call, wired to DynamoDB and S3. */
export interface ReviewApiDeps {
  readonly review: ReviewDeps;
  readonly queue: ReviewQueueDeps;
  readonly counters: CounterReader;
  readonly runs: RunFolderDeps;
}

export function reviewApiDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string; runsPrefix: string },
): ReviewApiDeps {
  const { dynamodb, s3 } = clients;
  const views = new CandidateViews(new S3Bodies(s3, names.bucket));
  const counters: CounterReader = { read: () => readCounters(dynamodb, names.tableName) };
  return {
    review: { store: new ReviewTable(dynamodb, names.tableName, views) },
    queue: { queue: new QueueTable(dynamodb, names.tableName, views), counters },
    counters,
    runs: {
      bucket: names.bucket,
      runsArea: names.runsPrefix,
      folders: new S3RunFolders(s3, names.bucket),
      records: new RunRecords(dynamodb, names.tableName),
      settings: new ReviewSettingsTable(dynamodb, names.tableName),
      importer: importRunDeps(clients, { tableName: names.tableName, bucket: names.bucket }),
    },
  };
}

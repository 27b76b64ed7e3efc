import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateTable } from "../common/adapters/candidate-table.ts";
import { S3Bodies, S3Quarantine, S3RunObjects } from "../common/adapters/s3-objects.ts";
import { SqsContinuationQueue } from "./adapters/continuation-queue.ts";
import { ReviewSettingsTable } from "./adapters/review-settings-table.ts";
import { RunQuarantineFiles } from "./adapters/run-quarantine-files.ts";
import { RunTable } from "./adapters/run-table.ts";
import type { ImportRunDeps } from "./usecases/import-run.ts";
import type { RunQuarantineDeps } from "./usecases/run-quarantine.ts";

/**
 * The import use case wired to DynamoDB and S3, and to the run-uploads queue when its URL is
 * known, so an import running short of time can hand the rest on.
 */
export function importRunDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string; runUploadsQueueUrl?: string | undefined },
): ImportRunDeps {
  return {
    objects: new S3RunObjects(clients.s3),
    candidates: new CandidateTable(clients.dynamodb, names.tableName, new S3Bodies(clients.s3, names.bucket)),
    runs: new RunTable(clients.dynamodb, names.tableName),
    quarantine: new S3Quarantine(clients.s3, names.bucket),
    ...(names.runUploadsQueueUrl
      ? { continuations: new SqsContinuationQueue(clients.sqs, names.runUploadsQueueUrl) }
      : {}),
  };
}

/** Where the reviewers' configured runs prefix is read, for uploads below `runs/<folder>/`. */
export function runsPrefixSettings(clients: AwsClients, names: { tableName: string }): ReviewSettingsTable {
  return new ReviewSettingsTable(clients.dynamodb, names.tableName);
}

/** The run quarantine route: a run's file found through its record, read in ranges, linked signed. */
export function runQuarantineDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string },
  links: { urlExpirySeconds: number; maxUrlExpirySeconds: number },
): RunQuarantineDeps {
  return {
    quarantine: new RunQuarantineFiles(clients.dynamodb, names.tableName, clients.s3, names.bucket),
    ...links,
  };
}

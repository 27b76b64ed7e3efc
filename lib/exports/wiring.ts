import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateViews } from "../common/adapters/candidate-view.ts";
import { readCounters } from "../common/adapters/counters.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import { codeVersion } from "../common/code-version.ts";
import type { ExportApiConfig, ExportConfig, ExportRunConfig } from "../common/config.ts";
import { CANDIDATE_STATUSES } from "../common/domain/candidate.ts";
import { counterName } from "../common/domain/stats.ts";
import { QueueTable } from "../review/adapters/queue-table.ts";
import { S3EvalSetStore } from "./adapters/evalset-store.ts";
import { ExportCheckpointTable } from "./adapters/export-checkpoints.ts";
import { ExportJobTable } from "./adapters/export-job-table.ts";
import { S3ExportObjects } from "./adapters/export-objects.ts";
import { S3ExportParts } from "./adapters/export-parts.ts";
import { SqsExportQueue } from "./adapters/export-queue.ts";
import { type EvalSetDeps, storedEvalIndexes } from "./usecases/evalsets.ts";
import type { ExportApiDeps, ExportBuildDeps } from "./usecases/exports.ts";

/** What an export run needs: jobs in the table, candidates through the status index, files in S3. */
export function exportBuildDeps(clients: AwsClients, config: ExportConfig): ExportBuildDeps {
  const { dynamodb, s3 } = clients;
  const views = new CandidateViews(new S3Bodies(s3, config.BUCKET_NAME));
  return {
    jobs: new ExportJobTable(dynamodb, config.TABLE_NAME),
    candidates: new QueueTable(dynamodb, config.TABLE_NAME, views),
    objects: new S3ExportObjects(s3, config.BUCKET_NAME),
    codeVersion: codeVersion(config.CODE_VERSION),
    evalIndexes: storedEvalIndexes(evalSetDeps(clients, config)),
    statusCounts: async () => {
      const counters = await readCounters(dynamodb, config.TABLE_NAME);
      return Object.fromEntries(
        CANDIDATE_STATUSES.map((status) => [status, counters[counterName.status(status)] ?? 0]),
      );
    },
  };
}

/**
 * The export function's: the above and, given its own queue, checkpoints — an export that runs
 * short of time saves where it stands on its job and in S3 and goes on in a new invocation.
 */
export function exportRunDeps(clients: AwsClients, config: ExportRunConfig): ExportBuildDeps {
  const deps = exportBuildDeps(clients, config);
  if (!config.EXPORTS_QUEUE_URL) return deps;
  return {
    ...deps,
    continuation: {
      queue: new SqsExportQueue(clients.sqs, config.EXPORTS_QUEUE_URL),
      checkpoints: new ExportCheckpointTable(clients.dynamodb, config.TABLE_NAME),
      parts: new S3ExportParts(clients.s3, config.BUCKET_NAME),
    },
  };
}

/** What the export routes call: the above, the exports queue, the counters and the link settings. */
export function exportApiDeps(clients: AwsClients, config: ExportApiConfig): ExportApiDeps {
  return {
    ...exportBuildDeps(clients, config),
    queue: config.EXPORTS_QUEUE_URL ? new SqsExportQueue(clients.sqs, config.EXPORTS_QUEUE_URL) : undefined,
    approvedCount: async () =>
      (await readCounters(clients.dynamodb, config.TABLE_NAME))[counterName.status("approved")] ?? 0,
    urlExpirySeconds: config.EXPORT_URL_EXPIRY_SECONDS,
    maxUrlExpirySeconds: config.EXPORT_URL_MAX_EXPIRY_SECONDS,
    syncMaxRecords: config.SFT_EXPORT_SYNC_MAX_RECORDS,
  };
}

/** The registered eval sets and their n-gram indexes in the bucket. */
export function evalSetDeps(clients: AwsClients, config: ExportConfig): EvalSetDeps {
  return { evalSets: new S3EvalSetStore(clients.s3, config.BUCKET_NAME) };
}

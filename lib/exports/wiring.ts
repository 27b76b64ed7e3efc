import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateViews } from "../common/adapters/candidate-view.ts";
import { readCounters } from "../common/adapters/counters.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import { codeVersion } from "../common/code-version.ts";
import type { ExportApiConfig, ExportConfig } from "../common/config.ts";
import { CANDIDATE_STATUSES } from "../common/domain/candidate.ts";
import { counterName } from "../common/domain/stats.ts";
import { QueueTable } from "../review/adapters/queue-table.ts";
import { ExportJobTable } from "./adapters/export-job-table.ts";
import { S3ExportObjects } from "./adapters/export-objects.ts";
import { SqsExportQueue } from "./adapters/export-queue.ts";
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
    statusCounts: async () => {
      const counters = await readCounters(dynamodb, config.TABLE_NAME);
      return Object.fromEntries(
        CANDIDATE_STATUSES.map((status) => [status, counters[counterName.status(status)] ?? 0]),
      );
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

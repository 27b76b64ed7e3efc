import type { AwsClients } from "../common/adapters/aws-clients.ts";
import type { ExportApiConfig } from "../common/config.ts";
import { ExportJobTable } from "../exports/adapters/export-job-table.ts";
import { S3DatasetObjects } from "./adapters/dataset-objects.ts";
import { DatasetTable } from "./adapters/dataset-table.ts";
import type { DatasetDeps } from "./usecases/datasets.ts";

/** What the dataset routes call: versions in the table, their files in the bucket, the export jobs. */
export function datasetDeps(clients: AwsClients, config: ExportApiConfig): DatasetDeps {
  return {
    datasets: new DatasetTable(clients.dynamodb, config.TABLE_NAME),
    objects: new S3DatasetObjects(clients.s3, config.BUCKET_NAME),
    exports: new ExportJobTable(clients.dynamodb, config.TABLE_NAME),
    urlExpirySeconds: config.EXPORT_URL_EXPIRY_SECONDS,
    maxUrlExpirySeconds: config.EXPORT_URL_MAX_EXPIRY_SECONDS,
  };
}

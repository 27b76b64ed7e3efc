import type { IngestCorrectionDeps } from "../usecases/ingest-correction.ts";
import type { AwsClients } from "./aws-clients.ts";
import { CorrectionTable } from "./correction-table.ts";
import { S3IngestQuarantine } from "./ingest-quarantine.ts";
import { S3Bodies } from "./s3-objects.ts";

/** The ingest use case wired to DynamoDB and S3. */
export function ingestCorrectionDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string },
): IngestCorrectionDeps {
  return {
    corrections: new CorrectionTable(
      clients.dynamodb,
      names.tableName,
      new S3Bodies(clients.s3, names.bucket),
    ),
    quarantine: new S3IngestQuarantine(clients.s3, names.bucket),
  };
}

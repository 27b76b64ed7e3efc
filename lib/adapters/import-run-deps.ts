import type { ImportRunDeps } from "../usecases/import-run.ts";
import type { AwsClients } from "./aws-clients.ts";
import { CandidateTable } from "./candidate-table.ts";
import { RunTable } from "./run-table.ts";
import { S3Bodies, S3Quarantine, S3RunObjects } from "./s3-objects.ts";

/** The import use case wired to DynamoDB and S3. */
export function importRunDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string },
): ImportRunDeps {
  return {
    objects: new S3RunObjects(clients.s3),
    candidates: new CandidateTable(clients.dynamodb, names.tableName, new S3Bodies(clients.s3, names.bucket)),
    runs: new RunTable(clients.dynamodb, names.tableName),
    quarantine: new S3Quarantine(clients.s3, names.bucket),
  };
}

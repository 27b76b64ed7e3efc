import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { readCounters } from "../common/adapters/counters.ts";
import { ProvenanceTable } from "./adapters/provenance-table.ts";
import type { ProvenanceDeps } from "./usecases/provenance.ts";

/** The provenance routes' use cases wired to DynamoDB. */
export function provenanceApiDeps(clients: AwsClients, config: { TABLE_NAME: string }): ProvenanceDeps {
  const tableName = config.TABLE_NAME;
  return {
    store: new ProvenanceTable(clients.dynamodb, tableName),
    counters: { read: () => readCounters(clients.dynamodb, tableName) },
  };
}

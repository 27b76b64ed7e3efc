import type { ProvenanceDeps } from "../usecases/provenance.ts";
import type { AwsClients } from "./aws-clients.ts";
import { readCounters } from "./counters.ts";
import { ProvenanceTable } from "./provenance-table.ts";

/** The provenance routes' use cases wired to DynamoDB. */
export function provenanceApiDeps(clients: AwsClients, config: { TABLE_NAME: string }): ProvenanceDeps {
  const tableName = config.TABLE_NAME;
  return {
    store: new ProvenanceTable(clients.dynamodb, tableName),
    counters: { read: () => readCounters(clients.dynamodb, tableName) },
  };
}

import type { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateScanTable, CounterShardTable } from "./adapters/recount-table.ts";
import type { RecountDeps } from "./usecases/recount.ts";

/** API Gateway gives up on a request after 29 s; a recount stops in time to answer why. */
export const API_RECOUNT_BUDGET_MS = 25_000;

/** The recount wired to the table, without a time limit (the CLI's `--direct`, the benchmark). */
export function recountDeps(dynamodb: DynamoDBDocumentClient, tableName: string): RecountDeps {
  return {
    candidates: new CandidateScanTable(dynamodb, tableName),
    counters: new CounterShardTable(dynamodb, tableName),
  };
}

/** The admin routes' use cases wired to DynamoDB, within one request's time. */
export function adminApiDeps(clients: AwsClients, config: { TABLE_NAME: string }): RecountDeps {
  return { ...recountDeps(clients.dynamodb, config.TABLE_NAME), timeBudgetMs: API_RECOUNT_BUDGET_MS };
}

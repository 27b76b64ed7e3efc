import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { IngestApiConfig } from "../config.ts";
import type { IngestRouteDeps } from "../http/ingest-routes.ts";
import type { AwsClients } from "./aws-clients.ts";
import { ingestCorrectionDeps } from "./ingest-correction-deps.ts";
import { SecretsManagerIngestTokens, staticIngestTokens } from "./ingest-tokens.ts";

/** The ingest endpoint wired to its token source, DynamoDB and S3. */
export function ingestApiDeps(clients: AwsClients, config: IngestApiConfig): IngestRouteDeps {
  const tokens = config.INGEST_TOKENS_SECRET_ARN
    ? new SecretsManagerIngestTokens(
        new SecretsManagerClient({ region: config.AWS_REGION }),
        config.INGEST_TOKENS_SECRET_ARN,
        config.INGEST_TOKENS_CACHE_SECONDS,
      )
    : staticIngestTokens(config.INGEST_TOKENS);
  return {
    tokens,
    ingest: ingestCorrectionDeps(clients, { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME }),
  };
}

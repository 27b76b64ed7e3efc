import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import type { IngestApiConfig } from "../common/config.ts";
import { CorrectionTable } from "./adapters/correction-table.ts";
import { CognitoIngestJwt } from "./adapters/ingest-jwt.ts";
import { S3IngestQuarantine, S3IngestQuarantineReader } from "./adapters/ingest-quarantine.ts";
import { SecretsManagerIngestTokens, staticIngestTokens } from "./adapters/ingest-tokens.ts";
import { LEGACY_SECRET_KEY } from "./edge/ingest-auth.ts";
import type { IngestRouteDeps } from "./edge/ingest-routes.ts";
import type { IngestCorrectionDeps } from "./usecases/ingest-correction.ts";
import type { IngestQuarantineListingDeps } from "./usecases/quarantine-listing.ts";

/**
 * The ingest use case wired to DynamoDB and S3; queue senders bound to their sources and the
 * sources' defaults when given.
 */
export function ingestCorrectionDeps(
  clients: AwsClients,
  names: { tableName: string; bucket: string },
  policy: Pick<IngestCorrectionDeps, "senders" | "sourceDefaults"> = {},
): IngestCorrectionDeps {
  return {
    ...(policy.senders ? { senders: policy.senders } : {}),
    ...(policy.sourceDefaults ? { sourceDefaults: policy.sourceDefaults } : {}),
    corrections: new CorrectionTable(
      clients.dynamodb,
      names.tableName,
      new S3Bodies(clients.s3, names.bucket),
    ),
    quarantine: new S3IngestQuarantine(clients.s3, names.bucket),
  };
}

/** The ingest endpoint wired to its token source, DynamoDB and S3. */
export function ingestApiDeps(clients: AwsClients, config: IngestApiConfig): IngestRouteDeps {
  const tokens = config.INGEST_TOKENS_SECRET_ARN
    ? new SecretsManagerIngestTokens(
        new SecretsManagerClient({ region: config.AWS_REGION }),
        config.INGEST_TOKENS_SECRET_ARN,
        config.INGEST_TOKENS_CACHE_SECONDS,
      )
    : staticIngestTokens({
        ...config.INGEST_TOKENS,
        ...(config.INGEST_LEGACY_SECRET ? { [LEGACY_SECRET_KEY]: config.INGEST_LEGACY_SECRET } : {}),
      });
  const sources = config.INGEST_CLIENT_SOURCES ?? {};
  const machineClients =
    config.INGEST_USER_POOL_ID && Object.keys(sources).length > 0
      ? { verifier: new CognitoIngestJwt(config.INGEST_USER_POOL_ID, Object.keys(sources)), sources }
      : undefined;
  return {
    tokens,
    ...(machineClients ? { clients: machineClients } : {}),
    legacySources: config.INGEST_LEGACY_SOURCES ?? [],
    ingest: ingestCorrectionDeps(
      clients,
      { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME },
      { sourceDefaults: config.INGEST_SOURCE_DEFAULTS },
    ),
  };
}

/** The ingest quarantine route: the refused messages read back from S3, each linked signed. */
export function ingestQuarantineListingDeps(
  clients: AwsClients,
  names: { bucket: string },
  links: { urlExpirySeconds: number; maxUrlExpirySeconds: number },
): IngestQuarantineListingDeps {
  return { quarantine: new S3IngestQuarantineReader(clients.s3, names.bucket), ...links };
}

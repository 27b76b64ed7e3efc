import type { AwsClients } from "../../common/adapters/aws-clients.ts";
import type {
  EvalApiConfig,
  ExportApiConfig,
  IngestApiConfig,
  ReviewApiConfig,
  SuggestApiConfig,
} from "../../common/config.ts";
import type { ReviewerAuthenticator } from "../../common/http/auth.ts";

/** What a capability's routes are wired with: the clients, the configuration, who signs in. */
export interface SliceContext {
  readonly clients: AwsClients;
  readonly config: ReviewApiConfig;
  readonly reviewer: ReviewerAuthenticator;
  readonly exportConfig: ExportApiConfig;
  readonly ingestConfig: IngestApiConfig;
  readonly evalConfig: EvalApiConfig;
  readonly suggestConfig: SuggestApiConfig;
}

/** Quarantine files are handed out as signed links that last as long as an export's. */
export const quarantineLinks = (config: ExportApiConfig) => ({
  urlExpirySeconds: config.EXPORT_URL_EXPIRY_SECONDS,
  maxUrlExpirySeconds: config.EXPORT_URL_MAX_EXPIRY_SECONDS,
});

export const storeNames = (config: ReviewApiConfig) => ({
  tableName: config.TABLE_NAME,
  bucket: config.BUCKET_NAME,
});

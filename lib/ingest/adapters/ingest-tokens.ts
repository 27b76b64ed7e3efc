import { SecretsProvider } from "@aws-lambda-powertools/parameters/secrets";
import { ResourceNotFoundException, type SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { IngestTokens } from "../../common/config.ts";
import type { IngestTokenSource } from "../edge/ingest-auth.ts";

/** Tokens fixed at start-up (the local runtime's, from `INGEST_TOKENS`). */
export function staticIngestTokens(tokens: IngestTokens = {}): IngestTokenSource {
  return { tokens: async () => tokens };
}

/**
 * Tokens in a Secrets Manager secret (a JSON object of source → token), read through Powertools'
 * cache: at most one read per `maxAgeSeconds` per warm function, so rotating a token needs no
 * deploy and takes effect within that time. A secret that does not exist reads as no tokens.
 */
export class SecretsManagerIngestTokens implements IngestTokenSource {
  private readonly provider: SecretsProvider;

  constructor(
    client: SecretsManagerClient,
    private readonly secretArn: string,
    private readonly maxAgeSeconds: number,
  ) {
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
  }

  async tokens(): Promise<IngestTokens> {
    let value: unknown;
    try {
      value = await this.provider.get(this.secretArn, { maxAge: this.maxAgeSeconds, transform: "json" });
    } catch (error) {
      if ((error as Error).cause instanceof ResourceNotFoundException) return {};
      throw error;
    }
    const parsed = IngestTokens.safeParse(value ?? {});
    if (!parsed.success) throw new Error(`ingest token secret is not a JSON object of source → token`);
    return parsed.data;
  }
}

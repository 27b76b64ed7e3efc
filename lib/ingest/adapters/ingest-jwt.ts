import { CognitoJwtVerifier } from "aws-jwt-verify";
import type { JwksCache } from "aws-jwt-verify/jwk";
import { SCOPES, scopeName } from "../../common/http/access.ts";
import type { IngestClientToken, IngestJwtVerifier } from "../edge/ingest-auth.ts";

/**
 * Client-credentials access tokens of the user pool's machine clients, verified in the function
 * (the ingest route has no authorizer at the gateway: products may also send their per-source
 * tokens). A token counts only when signed by the pool, unexpired, an access token, issued to one
 * of `clientIds` and carrying the ingest scope; anything else is no client token at all.
 */
export class CognitoIngestJwt implements IngestJwtVerifier {
  private readonly verifier;

  constructor(userPoolId: string, clientIds: readonly string[], jwksCache?: JwksCache) {
    this.verifier = CognitoJwtVerifier.create(
      {
        userPoolId,
        tokenUse: "access",
        clientId: [...clientIds],
        scope: scopeName(SCOPES.ingest),
      },
      jwksCache ? { jwksCache } : undefined,
    );
  }

  /** Preloads the pool's signing keys (tests; a cold start fetches and caches them). */
  cacheJwks(jwks: Parameters<typeof this.verifier.cacheJwks>[0]): void {
    this.verifier.cacheJwks(jwks);
  }

  async verify(token: string): Promise<IngestClientToken | null> {
    try {
      const payload = await this.verifier.verify(token);
      return { clientId: String(payload.client_id), subject: String(payload.sub) };
    } catch {
      return null;
    }
  }
}

import type { IngestTokens } from "../../common/config.ts";
import { ForbiddenError, NotConfiguredError, UnauthorizedError } from "../../common/domain/errors.ts";
import { bearerToken, sameSecret } from "../../common/http/auth.ts";

/** Where the ingest tokens come from (environment locally, Secrets Manager in AWS). */
export interface IngestTokenSource {
  tokens(): Promise<IngestTokens>;
}

/** The product a valid ingest token belongs to. */
export interface IngestCaller {
  readonly source: string;
  /** How provenance names the sender. */
  readonly principal: string;
}

/**
 * Checks an ingest request's `Authorization` header against the product tokens, from headers
 * alone so that a caller who fails learns nothing about the body's schema: 503 when no token is
 * configured, 401 without a bearer token (the scheme is case-insensitive), 403 for a token that
 * matches none. Every configured token is compared, in constant time, whatever matches first.
 */
export function authenticateIngest(authorization: string | null, tokens: IngestTokens): IngestCaller {
  const configured = Object.entries(tokens);
  if (configured.length === 0)
    throw new NotConfiguredError("Ingest is not configured: no ingest token is set");
  const token = bearerToken(authorization);
  if (token === null) throw new UnauthorizedError("Not authenticated: a bearer token is required");
  let source: string | null = null;
  for (const [candidate, expected] of configured) {
    if (sameSecret(token, expected) && source === null) source = candidate;
  }
  if (source === null) throw new ForbiddenError("Invalid ingest token");
  return { source, principal: `ingest-token:${source}` };
}

import type { IngestTokens } from "../../common/config.ts";
import { ForbiddenError, NotConfiguredError, UnauthorizedError } from "../../common/domain/errors.ts";
import { bearerToken, sameSecret } from "../../common/http/auth.ts";

/** Where the ingest tokens come from (environment locally, Secrets Manager in AWS). */
export interface IngestTokenSource {
  tokens(): Promise<IngestTokens>;
}

/**
 * The product a valid ingest token belongs to. The legacy shared secret belongs to no one
 * product: `source` is `null` and `sources` lists those it may ingest for.
 */
export interface IngestCaller {
  readonly source: string | null;
  /** How provenance names the sender. */
  readonly principal: string;
  readonly sources?: readonly string[];
}

/**
 * The key, in the ingest tokens' JSON, of Avocet's shared ingest secret (`AVOCET_INGESTION_SECRET`):
 * not a source. It is honoured only for the sources `legacySources` names (`INGEST_LEGACY_SOURCES`),
 * so old products keep posting while they move to tokens of their own.
 */
export const LEGACY_SECRET_KEY = "_legacy";

/** May this caller ingest a correction of `source`? */
export function mayIngestFor(caller: IngestCaller, source: string): boolean {
  return caller.source === null ? (caller.sources ?? []).includes(source) : caller.source === source;
}

/** A verified client-credentials token: the app client it was issued to. */
export interface IngestClientToken {
  readonly clientId: string;
  readonly subject: string;
}

/** Verifies machine clients' access tokens; `null` for anything that is not a valid one. */
export interface IngestJwtVerifier {
  verify(token: string): Promise<IngestClientToken | null>;
}

/** Machine clients that may ingest: the verifier of their tokens and each client's one source. */
export interface IngestClients {
  readonly verifier: IngestJwtVerifier;
  /** App client id → the source it may ingest for. */
  readonly sources: Readonly<Record<string, string>>;
}

/** Three base64url parts: worth verifying as a JWT (a per-source token never looks like one). */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/**
 * Checks an ingest request's `Authorization` header, from headers alone so that a caller who
 * fails learns nothing about the body's schema: 503 when neither a product token nor a machine
 * client is configured, 401 without a bearer token (the scheme is case-insensitive), 403 for a
 * token that matches none. A product's per-source token is compared against every configured one
 * in constant time; otherwise a machine client's access token (client credentials, the ingest
 * scope) is accepted for the one source its client is bound to; last, Avocet's shared secret
 * (`LEGACY_SECRET_KEY`), when configured, for the sources it is allowed.
 */
export async function authenticateIngest(
  authorization: string | null,
  tokens: IngestTokens,
  clients?: IngestClients,
  legacySources: readonly string[] = [],
): Promise<IngestCaller> {
  const configured = Object.entries(tokens).filter(([key]) => key !== LEGACY_SECRET_KEY);
  const legacySecret = legacySources.length > 0 ? tokens[LEGACY_SECRET_KEY] : undefined;
  const clientCount = Object.keys(clients?.sources ?? {}).length;
  if (configured.length === 0 && clientCount === 0 && legacySecret === undefined)
    throw new NotConfiguredError("Ingest is not configured: no ingest token is set");
  const token = bearerToken(authorization);
  if (token === null) throw new UnauthorizedError("Not authenticated: a bearer token is required");
  let source: string | null = null;
  for (const [candidate, expected] of configured) {
    if (sameSecret(token, expected) && source === null) source = candidate;
  }
  if (source !== null) return { source, principal: `ingest-token:${source}` };
  if (legacySecret !== undefined && sameSecret(token, legacySecret)) {
    return { source: null, sources: [...legacySources], principal: "ingest-legacy-secret" };
  }
  if (clients && clientCount > 0 && JWT_SHAPE.test(token)) {
    const verified = await clients.verifier.verify(token);
    const bound =
      verified && Object.hasOwn(clients.sources, verified.clientId)
        ? clients.sources[verified.clientId]
        : undefined;
    if (verified && bound) return { source: bound, principal: `oauth-client:${verified.clientId}` };
  }
  throw new ForbiddenError("Invalid ingest token");
}

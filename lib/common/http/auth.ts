import { createHash, timingSafeEqual } from "node:crypto";
import type { Middleware, RequestContext } from "@aws-lambda-powertools/event-handler/types";
import { ForbiddenError, UnauthorizedError } from "../domain/errors.ts";
import { ALL_SCOPES, RESOURCE_SERVER, type Role, type Scope, scopeName, scopesOfRoles } from "./access.ts";

/** Who is making a change, as history events and candidates record it. */
export type ReviewerId = string;

/** The reviewer identity of every request authenticated with the local dev token. */
export const LOCAL_REVIEWER: ReviewerId = "local-reviewer";

export interface AuthenticationInput {
  readonly event: unknown;
  readonly headers: Headers;
}

/** The token of an `Authorization: Bearer <token>` header; `null` when absent or of another scheme. */
export function bearerToken(authorization: string | null): string | null {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? "");
  return match?.[1] ?? null;
}

/** Compares two secrets in time independent of where they differ (and of their lengths). */
export function sameSecret(given: string, expected: string): boolean {
  const digest = (value: string) => createHash("sha256").update(value).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * Who is calling: the immutable id recorded on every decision, event and provenance fact (a
 * token's `sub`; locally `local-<role>`), a display name for people to read beside it (never
 * used to decide anything), and the scopes the call may use.
 */
export interface Principal {
  readonly id: ReviewerId;
  readonly name: string;
  readonly scopes: ReadonlySet<Scope>;
  /** A person signed in through the user pool, a machine's client-credentials token, or a local dev token. */
  readonly kind: "person" | "machine" | "local";
  /** Machines: the app client the token was issued to. */
  readonly clientId?: string;
}

/** Returns the principal behind a request, or throws `UnauthorizedError`. */
export type ReviewerAuthenticator = (request: AuthenticationInput) => Principal;

/** The dev tokens of the local runtime: the operator's (every person's scope) and one per role. */
export interface LocalTokens {
  /** `REVIEWER_TOKEN`: the operator of the local runtime, with every scope a person can hold. */
  readonly operator?: string | undefined;
  /** `LOCAL_ROLE_TOKENS`: role → token, each reaching exactly its role's routes. */
  readonly roles?: Readonly<Partial<Record<Role, string>>> | undefined;
}

/** Locally (no API Gateway in front) the bearer token must be one of the dev tokens. */
export function localTokenAuthenticator(tokens: string | LocalTokens): ReviewerAuthenticator {
  const { operator, roles = {} } = typeof tokens === "string" ? { operator: tokens } : tokens;
  if (operator !== undefined && operator.length === 0) throw new Error("the local reviewer token is empty");
  const known: { token: string; principal: Principal }[] = [];
  if (operator) {
    known.push({
      token: operator,
      principal: {
        id: LOCAL_REVIEWER,
        name: LOCAL_REVIEWER,
        scopes: scopesOfRoles(["admin"]),
        kind: "local",
      },
    });
  }
  for (const [role, token] of Object.entries(roles) as [Role, string | undefined][]) {
    if (!token) continue;
    if (token.length < 16) throw new Error(`the local ${role} token is shorter than 16 characters`);
    const id = `local-${role}`;
    known.push({ token, principal: { id, name: id, scopes: scopesOfRoles([role]), kind: "local" } });
  }
  if (known.length === 0) throw new Error("no local token is configured");
  return ({ headers }) => {
    const token = bearerToken(headers.get("authorization"));
    if (token === null) throw new UnauthorizedError("Not authenticated: a bearer token is required");
    // Every token is compared, so the time taken does not say which one matched.
    let found: Principal | null = null;
    for (const entry of known) if (sameSecret(token, entry.token)) found ??= entry.principal;
    if (!found) throw new UnauthorizedError("Invalid bearer token");
    return found;
  };
}

type Claims = Record<string, unknown>;

function authorizerOf(event: unknown): { claims: Claims | null; scopes: unknown } {
  const jwt = (
    event as { requestContext?: { authorizer?: { jwt?: { claims?: unknown; scopes?: unknown } } } }
  )?.requestContext?.authorizer?.jwt;
  const claims = jwt?.claims;
  return {
    claims: claims !== null && typeof claims === "object" ? (claims as Claims) : null,
    scopes: jwt?.scopes,
  };
}

/**
 * A list claim as the HTTP API hands it over: an array, or flattened to text (`[a b]`, `a,b`).
 */
function listClaim(value: unknown): string[] {
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === "string");
  if (typeof value !== "string") return [];
  return value
    .replace(/^\[|\]$/g, "")
    .split(/[\s,]+/)
    .filter(Boolean);
}

const text = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value : null);

/**
 * In AWS the HTTP API's JWT authorizer has verified the token (and the route's scope) before the
 * function runs. The principal is the token's `sub`; its scopes are the `flywheel/…` scopes the
 * token carries, and those of the roles its `cognito:groups` name. A request without verified
 * claims never reaches a route.
 */
export function jwtClaimsAuthenticator(): ReviewerAuthenticator {
  return ({ event }) => {
    const { claims, scopes: granted } = authorizerOf(event);
    const sub = text(claims?.sub);
    if (!claims || !sub) throw new UnauthorizedError("Not authenticated: no verified token claims");
    const prefix = `${RESOURCE_SERVER}/`;
    const scopes = scopesOfRoles(listClaim(claims["cognito:groups"]));
    for (const name of [...listClaim(granted), ...listClaim(claims.scope)]) {
      const scope = name.startsWith(prefix) ? name.slice(prefix.length) : null;
      if (scope && (ALL_SCOPES as readonly string[]).includes(scope)) scopes.add(scope as Scope);
    }
    const username = text(claims.username) ?? text(claims["cognito:username"]);
    const clientId = text(claims.client_id) ?? undefined;
    // A client-credentials token names no user: its subject is the app client.
    const machine = !username && clientId !== undefined;
    return {
      id: sub,
      name: text(claims.email) ?? username ?? clientId ?? sub,
      scopes,
      kind: machine ? "machine" : "person",
      ...(clientId ? { clientId } : {}),
    };
  };
}

/** The local dev tokens when any is configured (the local runtime sets them), the JWT claims otherwise. */
export function reviewerAuthenticator(config: {
  REVIEWER_TOKEN?: string | undefined;
  LOCAL_ROLE_TOKENS?: LocalTokens["roles"] | undefined;
}): ReviewerAuthenticator {
  const local = { operator: config.REVIEWER_TOKEN, roles: config.LOCAL_ROLE_TOKENS };
  return local.operator || Object.values(local.roles ?? {}).some(Boolean)
    ? localTokenAuthenticator(local)
    : jwtClaimsAuthenticator();
}

const PRINCIPAL = "principal";

/**
 * Route middleware: authenticates the request and checks it holds `scope` before its handler
 * runs; 401 without credentials, 403 naming the scope when they do not allow the route.
 */
export function requireScope(authenticate: ReviewerAuthenticator, scope: Scope): Middleware {
  return async ({ reqCtx, next }) => {
    const principal = authenticate({ event: reqCtx.event, headers: reqCtx.req.headers });
    if (!principal.scopes.has(scope)) {
      throw new ForbiddenError(
        `This route needs the scope ${scopeName(scope)}, which ${principal.name} does not hold`,
      );
    }
    reqCtx.set(PRINCIPAL, principal);
    await next();
  };
}

/** The principal `requireScope` authenticated for this request. */
export function principalOf(reqCtx: Pick<RequestContext, "get">): Principal {
  const principal = reqCtx.get(PRINCIPAL) as Principal | undefined;
  if (!principal || typeof principal.id !== "string") throw new UnauthorizedError("Not authenticated");
  return principal;
}

/** The id of the principal `requireScope` authenticated: what decisions and events record. */
export function reviewerOf(reqCtx: Pick<RequestContext, "get">): ReviewerId {
  return principalOf(reqCtx).id;
}

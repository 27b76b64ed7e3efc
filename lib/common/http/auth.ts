import { createHash, timingSafeEqual } from "node:crypto";
import type { Middleware, RequestContext } from "@aws-lambda-powertools/event-handler/types";
import { UnauthorizedError } from "../domain/errors.ts";

/** Who is making a change, as history events and candidates record it. */
export type ReviewerId = string;

/** The reviewer identity of every request authenticated with the local dev token. */
export const LOCAL_REVIEWER: ReviewerId = "local-reviewer";

export interface AuthenticationInput {
  readonly event: unknown;
  readonly headers: Headers;
}

/** Returns the reviewer behind a request, or throws `UnauthorizedError`. */
export type ReviewerAuthenticator = (request: AuthenticationInput) => ReviewerId;

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

/** Locally (no API Gateway in front) the bearer token must equal the dev reviewer token. */
export function localTokenAuthenticator(expectedToken: string): ReviewerAuthenticator {
  if (expectedToken.length === 0) throw new Error("the local reviewer token is empty");
  return ({ headers }) => {
    const token = bearerToken(headers.get("authorization"));
    if (token === null) throw new UnauthorizedError("Not authenticated: a bearer token is required");
    if (!sameSecret(token, expectedToken)) throw new UnauthorizedError("Invalid bearer token");
    return LOCAL_REVIEWER;
  };
}

type Claims = Record<string, unknown>;

function claimsOf(event: unknown): Claims | null {
  const claims = (event as { requestContext?: { authorizer?: { jwt?: { claims?: unknown } } } })
    ?.requestContext?.authorizer?.jwt?.claims;
  return claims !== null && typeof claims === "object" ? (claims as Claims) : null;
}

/**
 * In AWS the HTTP API's JWT authorizer has verified the token before the function runs; the
 * reviewer is read from its claims (an ID token carries `email`, an access token `username`,
 * both `sub`). A request without verified claims never reaches a route.
 */
export function jwtClaimsAuthenticator(): ReviewerAuthenticator {
  return ({ event }) => {
    const claims = claimsOf(event);
    for (const name of ["email", "username", "cognito:username", "sub"]) {
      const value = claims?.[name];
      if (typeof value === "string" && value.trim() !== "") return value;
    }
    throw new UnauthorizedError("Not authenticated: no verified token claims");
  };
}

/** The local dev token when one is configured (the local runtime sets it), the JWT claims otherwise. */
export function reviewerAuthenticator(config: {
  REVIEWER_TOKEN?: string | undefined;
}): ReviewerAuthenticator {
  return config.REVIEWER_TOKEN ? localTokenAuthenticator(config.REVIEWER_TOKEN) : jwtClaimsAuthenticator();
}

const REVIEWER = "reviewer";

/** Route middleware: authenticates the request before its handler runs, or answers 401 without running it. */
export function requireReviewer(authenticate: ReviewerAuthenticator): Middleware {
  return async ({ reqCtx, next }) => {
    reqCtx.set(REVIEWER, authenticate({ event: reqCtx.event, headers: reqCtx.req.headers }));
    await next();
  };
}

/** The reviewer `requireReviewer` authenticated for this request. */
export function reviewerOf(reqCtx: Pick<RequestContext, "get">): ReviewerId {
  const reviewer = reqCtx.get(REVIEWER);
  if (typeof reviewer !== "string") throw new UnauthorizedError("Not authenticated");
  return reviewer;
}

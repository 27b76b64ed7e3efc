import { ALL_SCOPES, scopeName, scopesOfRoles } from "./access.ts";

/** What the user pool's pre-token-generation trigger does to a person's access token scopes. */
export interface AccessTokenScopes {
  /** `flywheel/<scope>` for every scope the user's groups (roles) grant. */
  readonly scopesToAdd: string[];
  /** Every other `flywheel/<scope>`: a client may ask for any of them, a person holds only their roles'. */
  readonly scopesToSuppress: string[];
}

/**
 * A person's access token carries exactly the scopes of their groups, whatever the app client
 * asked for: API Gateway checks each route's scope on the token, and the API reads them again.
 * Group names that are not roles grant nothing.
 */
export function accessTokenScopes(groups: Iterable<string>): AccessTokenScopes {
  const granted = scopesOfRoles(groups);
  return {
    scopesToAdd: ALL_SCOPES.filter((scope) => granted.has(scope)).map(scopeName),
    scopesToSuppress: ALL_SCOPES.filter((scope) => !granted.has(scope)).map(scopeName),
  };
}

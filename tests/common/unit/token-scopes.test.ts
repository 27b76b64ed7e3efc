import { describe, expect, it } from "vitest";
import { handler } from "../../../functions/pre-token.ts";
import { ALL_ROLES, ALL_SCOPES, ROLES, scopeName } from "../../../lib/common/http/access.ts";
import { accessTokenScopes } from "../../../lib/common/http/token-scopes.ts";

const every = ALL_SCOPES.map(scopeName);

describe("a person's access token scopes", () => {
  it.each(ALL_ROLES)("carry exactly the scopes of the %s group, and suppress the rest", (role) => {
    const { scopesToAdd, scopesToSuppress } = accessTokenScopes([role]);
    expect([...scopesToAdd].sort()).toEqual(ROLES[role].map(scopeName).sort());
    expect([...scopesToAdd, ...scopesToSuppress].sort()).toEqual([...every].sort());
    expect(scopesToAdd.filter((scope) => scopesToSuppress.includes(scope))).toEqual([]);
  });

  it("are the union of several groups' scopes", () => {
    const { scopesToAdd } = accessTokenScopes(["reviewer", "exporter"]);
    expect([...scopesToAdd].sort()).toEqual(
      [...new Set([...ROLES.reviewer, ...ROLES.exporter])].map(scopeName).sort(),
    );
  });

  it("are none for no group, or groups that are not roles", () => {
    for (const groups of [[], ["Admins"], ["__proto__", "constructor"]]) {
      expect(accessTokenScopes(groups)).toEqual({ scopesToAdd: [], scopesToSuppress: every });
    }
  });
});

describe("the pre-token-generation trigger", () => {
  it("answers Cognito's V2_0 event with the access token's scopes for the user's groups", async () => {
    const event = {
      version: "2",
      triggerSource: "TokenGeneration_HostedAuth",
      region: "eu-west-1",
      userPoolId: "eu-west-1_abc",
      userName: "0f1e2d3c",
      callerContext: { awsSdkVersion: "aws-sdk-unknown-unknown", clientId: "client" },
      request: {
        userAttributes: { sub: "0f1e2d3c", email: "reviewer@example.test" },
        groupConfiguration: { groupsToOverride: ["reviewer"], iamRolesToOverride: [], preferredRole: null },
        scopes: ["openid", "flywheel/admin"],
      },
      response: { claimsAndScopeOverrideDetails: null },
    };
    // biome-ignore lint/suspicious/noExplicitAny: Cognito's event as it arrives, nulls included
    const result = await handler(event as any);
    expect(result.response.claimsAndScopeOverrideDetails).toEqual({
      accessTokenGeneration: {
        ...accessTokenScopes(["reviewer"]),
        // The name shown beside the sub, as the ID token carries it.
        claimsToAddOrOverride: { email: "reviewer@example.test" },
      },
    });
    expect(result.response.claimsAndScopeOverrideDetails.accessTokenGeneration?.scopesToSuppress).toContain(
      "flywheel/admin",
    );
  });

  it("grants nothing to a user in no group", async () => {
    const event = {
      request: { userAttributes: {}, groupConfiguration: {} },
      response: { claimsAndScopeOverrideDetails: null },
    };
    // biome-ignore lint/suspicious/noExplicitAny: a minimal event
    const result = await handler(event as any);
    const details = result.response.claimsAndScopeOverrideDetails.accessTokenGeneration;
    expect(details?.scopesToAdd).toEqual([]);
    expect(details?.claimsToAddOrOverride).toBeUndefined();
  });
});

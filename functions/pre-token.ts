import type { PreTokenGenerationV2TriggerEvent } from "aws-lambda";
import { accessTokenScopes } from "../lib/common/http/token-scopes.ts";

/**
 * The user pool's pre-token-generation trigger (V2_0 event: people's sign-ins and refreshes,
 * never client credentials): the access token gets the `flywheel/…` scopes of the user's groups
 * and loses every other one. It also carries the user's email, the name shown beside the `sub`
 * that decisions record (display only; the ID token has it, the access token otherwise not).
 */
export const handler = async (event: PreTokenGenerationV2TriggerEvent) => {
  const groups = event.request.groupConfiguration?.groupsToOverride ?? [];
  const email = event.request.userAttributes?.email;
  event.response = {
    claimsAndScopeOverrideDetails: {
      accessTokenGeneration: {
        ...accessTokenScopes(groups),
        ...(typeof email === "string" && email !== "" ? { claimsToAddOrOverride: { email } } : {}),
      },
    },
  };
  return event;
};

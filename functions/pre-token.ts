import type { PreTokenGenerationV2TriggerEvent } from "aws-lambda";
import { accessTokenScopes } from "../lib/common/http/token-scopes.ts";

/**
 * The user pool's pre-token-generation trigger (V2_0 event: people's sign-ins and refreshes,
 * never client credentials): the access token gets the `flywheel/…` scopes of the user's groups
 * and loses every other one.
 */
export const handler = async (event: PreTokenGenerationV2TriggerEvent) => {
  const groups = event.request.groupConfiguration?.groupsToOverride ?? [];
  event.response = {
    claimsAndScopeOverrideDetails: { accessTokenGeneration: accessTokenScopes(groups) },
  };
  return event;
};

import { ValidationError } from "../../common/domain/errors.ts";
import { type EvalProfile, MAX_PROFILES, type ProfileInput } from "../domain/eval-profile.ts";
import type { EvalProfileStore } from "../ports.ts";

export interface EvalProfileDeps {
  readonly profiles: EvalProfileStore;
  readonly now?: () => Date;
}

/** `POST /api/eval/profiles`: creates or replaces a profile; the registry holds `MAX_PROFILES`. */
export async function putProfile(deps: EvalProfileDeps, input: ProfileInput, by: string) {
  if (!(await deps.profiles.get(input.id)) && (await deps.profiles.list()).length >= MAX_PROFILES) {
    throw new ValidationError(`The profile registry holds at most ${MAX_PROFILES} profiles`);
  }
  const profile: EvalProfile = {
    ...input,
    updated_at: (deps.now ?? (() => new Date()))().toISOString(),
    updated_by: by,
  };
  const { created } = await deps.profiles.put(profile);
  return { created, profile };
}

export async function listProfiles(deps: EvalProfileDeps) {
  return { profiles: await deps.profiles.list() };
}

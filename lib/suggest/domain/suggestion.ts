import * as z from "zod";
import { CORRECTION_ORIGINS, type CorrectionOrigin } from "../../common/domain/vocabulary.ts";
import { normalizeText } from "./prompt.ts";

/**
 * A suggested correction, stored beside the candidate it corrects (`suggestion`). `id` is the
 * job that wrote it: a reviewer's client names it when the correction started from it.
 */
export const Suggestion = z.object({
  id: z.string().min(1),
  text: z.string().min(1),
  /** The model that wrote it and the backend it was asked through. */
  model: z.string().min(1),
  backend: z.string().min(1),
  prompt_version: z.string().min(1),
  suggested_at: z.string().min(1),
});
export type Suggestion = z.infer<typeof Suggestion>;

/** A stored value read as a suggestion only when it has the shape one is written with. */
export function suggestionOf(value: unknown): Suggestion | null {
  const parsed = Suggestion.safeParse(value);
  return parsed.success ? parsed.data : null;
}

export { CORRECTION_ORIGINS, type CorrectionOrigin };

export interface CorrectionSource {
  readonly origin: CorrectionOrigin;
  /** The suggestion it was compared with; `null` for `written`. */
  readonly suggestion: Suggestion | null;
}

/**
 * Decides where a correction came from. The client says which suggestion it started from
 * (`startedFrom`, its id, or `null`); the server trusts only what it stores: a correction equal
 * to the stored suggestion (line endings and surrounding blanks aside) is `accepted`, a different
 * one `edited`. A client naming a suggestion that a later job replaced is compared with the one
 * stored now. No suggestion named, or none stored: `written`.
 */
export function correctionSource(
  correction: string,
  startedFrom: string | null,
  stored: unknown,
): CorrectionSource {
  const suggestion = suggestionOf(stored);
  if (startedFrom === null || suggestion === null) return { origin: "written", suggestion: null };
  const same = normalizeText(correction) === normalizeText(suggestion.text);
  return { origin: same ? "accepted" : "edited", suggestion };
}

/** The provenance facts a correction's origin adds (`correction_origin` and the suggestion's makers). */
export function originFacts(source: CorrectionSource): Record<string, string> {
  if (!source.suggestion) return { correction_origin: source.origin };
  return {
    correction_origin: source.origin,
    suggestion_id: source.suggestion.id,
    suggestion_model: source.suggestion.model,
    suggestion_prompt_version: source.suggestion.prompt_version,
  };
}

/** Every provenance field `originFacts` may set: all are removed when a decision is undone. */
export const ORIGIN_FACTS = [
  "correction_origin",
  "suggestion_id",
  "suggestion_model",
  "suggestion_prompt_version",
] as const;

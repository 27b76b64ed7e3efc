import { diffWordsWithSpace } from "diff";
import type { Candidate, Suggestion } from "./types.ts";

/** One run of a word diff: text both have, text only the suggestion has, text only the answer had. */
export interface DiffPart {
  readonly kind: "same" | "added" | "removed";
  readonly text: string;
}

/**
 * The suggestion against the model's answer, word by word (jsdiff's `diffWordsWithSpace`, so
 * line breaks and spacing stay as the reviewer reads them).
 */
export function wordDiff(answer: string, suggestion: string): DiffPart[] {
  return diffWordsWithSpace(answer, suggestion).map((change) => ({
    kind: change.added ? "added" : change.removed ? "removed" : "same",
    text: change.value,
  }));
}

/** How much the suggestion changes: words added and removed. */
export function changeCount(parts: readonly DiffPart[]): { added: number; removed: number } {
  const words = (text: string) => text.split(/\s+/).filter((word) => word !== "").length;
  let added = 0;
  let removed = 0;
  for (const part of parts) {
    if (part.kind === "added") added += words(part.text);
    if (part.kind === "removed") removed += words(part.text);
  }
  return { added, removed };
}

/** The candidate's suggested correction, when it holds one in the shape a suggestion job writes. */
export function suggestionOf(candidate: Pick<Candidate, "suggestion"> | null | undefined): Suggestion | null {
  const value = candidate?.suggestion as Partial<Suggestion> | null | undefined;
  if (!value || typeof value !== "object") return null;
  const { id, text, model, prompt_version } = value;
  if (typeof id !== "string" || typeof text !== "string" || text.trim() === "") return null;
  if (typeof model !== "string" || typeof prompt_version !== "string") return null;
  return value as Suggestion;
}

import { CandidateLine } from "../../common/domain/candidate.ts";
import { storageProblem } from "../../common/domain/storable.ts";

export const QUARANTINE_REASONS = [
  "blank_line",
  "invalid_json",
  "not_an_object",
  "missing_id",
  "invalid_field",
  "duplicate_id",
  "line_too_large",
  "item_too_large",
  "id_conflict",
] as const;
export type QuarantineReason = (typeof QUARANTINE_REASONS)[number];

export type LineVerdict =
  | { readonly ok: true; readonly line: CandidateLine }
  | { readonly ok: false; readonly reason: QuarantineReason; readonly detail: string };

/** Validates one line of a run file (without its line ending). */
export function classifyRunLine(text: string): LineVerdict {
  if (text.trim() === "") return { ok: false, reason: "blank_line", detail: "the line is empty" };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, reason: "invalid_json", detail: (error as Error).message };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return { ok: false, reason: "not_an_object", detail: `expected a JSON object, got ${kind}` };
  }
  if (!("id" in value) || (value as { id: unknown }).id === null) {
    return { ok: false, reason: "missing_id", detail: "the candidate has no id" };
  }
  const unstorable = storageProblem(value);
  if (unstorable)
    return { ok: false, reason: "invalid_field", detail: `${unstorable.path}: ${unstorable.detail}` };
  const parsed = CandidateLine.safeParse(value);
  if (!parsed.success) {
    const detail = parsed.error.issues.map(
      (issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`,
    );
    return { ok: false, reason: "invalid_field", detail: detail.join("; ") };
  }
  return { ok: true, line: parsed.data };
}

/** Cuts a raw line for a quarantine entry: enough to recognise it, never a whole huge body. */
export function excerpt(text: string, maxChars = 2_000): string {
  return text.length <= maxChars ? text : `${text.slice(0, maxChars)}…[${text.length - maxChars} more chars]`;
}

import { createHash } from "node:crypto";
import * as z from "zod";

/**
 * Registered eval sets: JSONL files under `evalsets/<name>/`, one item a line, each with a prompt
 * and (or) an answer under the field names the common eval sets use. What an export is checked
 * against is every `.jsonl` object under the prefix; its version is a hash of their keys, ETags
 * and sizes, so any change to a file makes a new version (and a new n-gram index).
 */

/** A set's name: a path segment of letters, digits, `.`, `_`, `-`. */
export const EvalSetName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "letters, digits, '.', '_' and '-' only, at most 64");

/** The fields an item's id is read from, first present wins (else `<file>:<line>`). */
export const ID_FIELDS = ["id", "item_id", "task_id", "question_id", "uid", "idx"] as const;
/** The fields read as the item's prompt; each present one is indexed. */
export const PROMPT_FIELDS = [
  "prompt",
  "question",
  "input",
  "problem",
  "query",
  "instruction",
  "context",
  "messages",
] as const;
/** The fields read as the item's answer; each present one is indexed. */
export const ANSWER_FIELDS = [
  "answer",
  "answers",
  "output",
  "completion",
  "response",
  "solution",
  "target",
  "reference",
  "canonical_solution",
  "ideal",
] as const;

export interface EvalSetItem {
  readonly id: string;
  /** The prompt's and the answer's texts, each indexed apart. */
  readonly texts: readonly string[];
}

export type EvalLine = { readonly item: EvalSetItem } | { readonly error: string } | { readonly blank: true };

/** The text of a field: a string, a number, strings, chat turns (`{content}`), joined by lines. */
function textOf(value: unknown): string | null {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) {
    const parts = value.map((part) =>
      part && typeof part === "object" && !Array.isArray(part)
        ? textOf((part as { content?: unknown }).content)
        : textOf(part),
    );
    const texts = parts.filter((part): part is string => part !== null);
    return texts.length > 0 ? texts.join("\n") : null;
  }
  return null;
}

/** One line of an eval set's JSONL: its item, an error saying why it is not one, or blank. */
export function parseEvalLine(line: string, where: string): EvalLine {
  if (line.trim() === "") return { blank: true };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: "not JSON" };
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) return { error: "not a JSON object" };
  const record = value as Record<string, unknown>;
  const idField = ID_FIELDS.find(
    (field) => typeof record[field] === "string" || typeof record[field] === "number",
  );
  const id = idField ? String(record[idField]) : where;
  if (id.length === 0 || id.length > 256) return { error: "an id of 1 to 256 characters" };
  const texts = [...PROMPT_FIELDS, ...ANSWER_FIELDS]
    .map((field) => textOf(record[field]))
    .filter((text): text is string => text !== null && text.trim() !== "");
  if (texts.length === 0) {
    return { error: `no prompt (${PROMPT_FIELDS.join(", ")}) or answer (${ANSWER_FIELDS.join(", ")})` };
  }
  return { item: { id, texts } };
}

/** An object of a set, as listed. */
export interface EvalSetObject {
  readonly key: string;
  readonly etag: string;
  readonly bytes: number;
  readonly last_modified?: string | undefined;
}

/** A registered set: its objects and its version. */
export interface EvalSetListing {
  readonly name: string;
  readonly version: string;
  readonly bytes: number;
  readonly objects: readonly EvalSetObject[];
}

/** The version of a set: 16 hex characters of sha256 over its objects' keys, ETags and sizes. */
export function evalSetVersion(objects: readonly EvalSetObject[]): string {
  const hash = createHash("sha256");
  for (const object of [...objects].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))) {
    hash.update(`${object.key}\0${object.etag}\0${object.bytes}\n`);
  }
  return hash.digest("hex").slice(0, 16);
}

/** What is stored beside an index's grams: enough to name every hit and to list the set. */
export interface EvalIndexMeta {
  readonly index_version: 1;
  readonly set: string;
  readonly version: string;
  readonly ngram: number;
  readonly items: number;
  /** Items with a text long enough to index (at least 8 words). */
  readonly indexed_items: number;
  readonly grams: number;
  readonly short_lengths: readonly number[];
  readonly bytes: number;
  readonly skipped_lines: number;
  /** The first lines that were not items, and why. */
  readonly skipped: readonly { readonly where: string; readonly reason: string }[];
  readonly built_at: string;
  readonly item_ids: readonly string[];
}

/** `POST /api/evalsets/{name}` as JSON: the items, each in the JSONL line shape. */
export const EvalSetUpload = z.strictObject({
  items: z
    .array(z.record(z.string(), z.unknown()))
    .min(1)
    .max(200_000)
    .describe("each item as one line of the JSONL shape: an id, a prompt and/or an answer (docs/exports.md)"),
});

/**
 * What the API answers for a set. `indexed` says whether its version has an index for the default
 * n-gram length; reading a set never builds one (registration and exports do), so until then
 * the counts the index holds are `null`.
 */
export interface EvalSetView {
  readonly name: string;
  readonly version: string;
  readonly indexed: boolean;
  readonly items: number | null;
  readonly indexed_items: number | null;
  readonly bytes: number;
  readonly skipped_lines: number | null;
  readonly skipped: readonly { readonly where: string; readonly reason: string }[];
  readonly files: readonly { readonly key: string; readonly bytes: number }[];
  readonly ngram: number;
  readonly grams: number | null;
  readonly indexed_at: string | null;
}

export function evalSetView(listing: EvalSetListing, meta: EvalIndexMeta | null, ngram: number): EvalSetView {
  return {
    name: listing.name,
    version: listing.version,
    indexed: meta !== null,
    items: meta?.items ?? null,
    indexed_items: meta?.indexed_items ?? null,
    bytes: listing.bytes,
    skipped_lines: meta?.skipped_lines ?? null,
    skipped: meta?.skipped ?? [],
    files: listing.objects.map((object) => ({ key: object.key, bytes: object.bytes })),
    ngram: meta?.ngram ?? ngram,
    grams: meta?.grams ?? null,
    indexed_at: meta?.built_at ?? null,
  };
}

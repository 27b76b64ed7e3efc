import * as z from "zod";
import { QUARANTINE_REASONS, type QuarantineReason } from "./run-line.ts";

/** Entries per page unless the request asks for another number. */
export const DEFAULT_QUARANTINE_LIMIT = 50;
export const MAX_QUARANTINE_LIMIT = 500;
/** Characters of an entry's raw line an answer carries (the file keeps up to 2,000). */
export const RAW_EXCERPT_CHARS = 300;

const integer = (name: string, min: number, max?: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, `${name} must be an integer`)
    .transform(Number)
    .pipe(max === undefined ? z.number().int().min(min) : z.number().int().min(min).max(max));

/**
 * `GET /api/sft/runs/{run_id}/quarantine`: one page of a run's quarantine entries, in line order.
 * The cursor is a byte offset into the quarantine file (where the next entry begins); `import_id`
 * pins the page to one import's file, so paging carries on in the file it began in even if the
 * run is imported again meanwhile.
 */
export const RunQuarantineQuery = z.object({
  reason: z.enum(QUARANTINE_REASONS).optional(),
  limit: integer("limit", 1, MAX_QUARANTINE_LIMIT).default(DEFAULT_QUARANTINE_LIMIT),
  cursor: integer("cursor", 0).optional(),
  import_id: z
    .string()
    .regex(/^[0-9a-f]{32}$/, "import_id is the 32 hexadecimal digits of an import")
    .optional(),
  expires_in: integer("expires_in", 1).optional(),
});
export type RunQuarantineQuery = z.infer<typeof RunQuarantineQuery>;

/** What an answer says of one quarantined line. */
export interface RunQuarantineItem {
  readonly line: number;
  readonly reason: string;
  readonly detail: string;
  /** The start of the raw line, at most `RAW_EXCERPT_CHARS` characters. */
  readonly raw_excerpt: string;
  /** Characters of the raw line as the quarantine file keeps it (cut to 2,000 there). */
  readonly raw_chars: number;
  readonly raw_truncated: boolean;
}

/** The page view of one stored entry, or `null` for a line that is not an entry. */
export function runQuarantineItem(text: string | null): RunQuarantineItem | null {
  if (text === null || text.trim() === "") return null;
  let entry: Record<string, unknown>;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) return null;
    entry = parsed as Record<string, unknown>;
  } catch {
    return null;
  }
  const raw = typeof entry.raw === "string" ? entry.raw : "";
  return {
    line: typeof entry.line === "number" ? entry.line : 0,
    reason: typeof entry.reason === "string" ? entry.reason : "unknown",
    detail: typeof entry.detail === "string" ? entry.detail : "",
    ...rawExcerpt(raw),
  };
}

export function rawExcerpt(raw: string) {
  const chars = [...raw];
  return {
    raw_excerpt: chars.length > RAW_EXCERPT_CHARS ? chars.slice(0, RAW_EXCERPT_CHARS).join("") : raw,
    raw_chars: chars.length,
    raw_truncated: chars.length > RAW_EXCERPT_CHARS,
  };
}

/** The download's file name: `<run id>.<first 8 of the import id>.quarantine.jsonl`. */
export function runQuarantineFileName(runId: string, importId: string): string {
  return `${runId.replace(/[^A-Za-z0-9._-]/g, "_")}.${importId.slice(0, 8)}.quarantine.jsonl`;
}

export type { QuarantineReason };

import * as z from "zod";
import { ValidationError } from "../../common/domain/errors.ts";
import { rawExcerpt } from "../../import/domain/run-quarantine.ts";
import { CORRECTION_FAULTS } from "./correction.ts";

export const DEFAULT_INGEST_QUARANTINE_LIMIT = 50;
export const MAX_INGEST_QUARANTINE_LIMIT = 200;

const integer = (name: string, min: number, max?: number) =>
  z
    .string()
    .regex(/^\s*\d+\s*$/, `${name} must be an integer`)
    .transform(Number)
    .pipe(max === undefined ? z.number().int().min(min) : z.number().int().min(min).max(max));

/** A day's folder of refused messages: a UTC date, or `undated`. */
const QuarantineDay = z.string().regex(/^(\d{4}-\d{2}-\d{2}|undated)$/, "day is a date, yyyy-mm-dd");

/**
 * `GET /api/sft/ingest/quarantine`: one page of one day's refused messages (the newest day that
 * has any unless `day` names one), in message id order. The cursor is opaque: the day and the
 * last entry read.
 */
export const IngestQuarantineQuery = z.object({
  day: QuarantineDay.optional(),
  reason: z.enum(CORRECTION_FAULTS).optional(),
  limit: integer("limit", 1, MAX_INGEST_QUARANTINE_LIMIT).default(DEFAULT_INGEST_QUARANTINE_LIMIT),
  cursor: z.string().min(1).max(2048).optional(),
  expires_in: integer("expires_in", 1).optional(),
});
export type IngestQuarantineQuery = z.infer<typeof IngestQuarantineQuery>;

export interface IngestQuarantineCursor {
  readonly day: string;
  /** The key of the last entry read. */
  readonly after: string;
}

const CursorBody = z.object({
  v: z.literal(1),
  // The day names the folder listed: a forged cursor may not name any other prefix.
  d: QuarantineDay,
  a: z.string().min(1).max(1024),
});

export function encodeIngestQuarantineCursor(cursor: IngestQuarantineCursor): string {
  return Buffer.from(JSON.stringify({ v: 1, d: cursor.day, a: cursor.after })).toString("base64url");
}

/** The cursor's position; a 422 for a cursor that is not one, or is of another day than `day`. */
export function decodeIngestQuarantineCursor(
  cursor: string,
  day: string | undefined,
): IngestQuarantineCursor {
  const invalid = (msg: string) =>
    new ValidationError([{ loc: ["query", "cursor"], msg, type: "value_error" }]);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("invalid cursor");
  }
  const parsed = CursorBody.safeParse(body);
  if (!parsed.success) throw invalid("invalid cursor");
  if (day !== undefined && parsed.data.d !== day) throw invalid("the cursor belongs to another day");
  return { day: parsed.data.d, after: parsed.data.a };
}

/** What an answer says of one refused message. */
export interface IngestQuarantineItem {
  readonly message_id: string;
  readonly reason: string;
  readonly detail: string;
  readonly received_at: string | null;
  readonly quarantined_at: string | null;
  readonly raw_excerpt: string;
  readonly raw_chars: number;
  readonly raw_truncated: boolean;
  /** Bytes of the body as it arrived. */
  readonly raw_bytes: number | null;
}

export function ingestQuarantineItem(entry: Record<string, unknown>, key: string): IngestQuarantineItem {
  const text = (name: string) => (typeof entry[name] === "string" ? (entry[name] as string) : null);
  return {
    message_id: text("message_id") ?? key.replace(/^.*\//, "").replace(/\.json$/, ""),
    reason: text("reason") ?? "unknown",
    detail: text("detail") ?? "",
    received_at: text("received_at"),
    quarantined_at: text("quarantined_at"),
    ...rawExcerpt(text("raw") ?? ""),
    raw_bytes: typeof entry.raw_bytes === "number" ? entry.raw_bytes : null,
  };
}

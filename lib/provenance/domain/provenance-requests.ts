import * as z from "zod";
import {
  CANDIDATE_STATUSES,
  type CandidateStatus,
  CandidateStatus as Status,
} from "../../common/domain/candidate.ts";
import { ValidationError } from "../../common/domain/errors.ts";

export const MAX_VALIDATE_LIMIT = 200;
export const DEFAULT_VALIDATE_LIMIT = 50;

const filterValue = z.string().trim().min(1).max(512);

/** `GET /api/provenance/validate`: invalid records of one status (or of every status), paged. */
export const ValidateQuery = z.object({
  status: Status.optional(),
  source: filterValue.optional(),
  cursor: z.string().min(1).max(4096).optional(),
  limit: z
    .string()
    .regex(/^\s*\d+\s*$/, "limit must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(1).max(MAX_VALIDATE_LIMIT))
    .default(DEFAULT_VALIDATE_LIMIT),
});
export type ValidateQuery = z.infer<typeof ValidateQuery>;

/** Which records a backfill looks at; every field narrows it. */
export const BackfillFilter = z.strictObject({
  status: Status.optional(),
  run_id: filterValue.optional(),
  source: filterValue.optional(),
});
export type BackfillFilter = z.infer<typeof BackfillFilter>;

/** `POST /api/provenance/backfill`. */
export const BackfillRequest = z.strictObject({
  filter: BackfillFilter.default({}),
  /** Filled in as the source of records that name none. */
  source: z.string().trim().min(1).max(128),
  /** Filled in as the model of records that name none. */
  model: z.string().trim().min(1).max(256),
  /** Continues a backfill that stopped at its per-request budget. */
  cursor: z.string().min(1).max(4096).optional(),
  /** Plans the fill and says what it would change, writing nothing. */
  dry_run: z.boolean().optional(),
});
export type BackfillRequest = z.infer<typeof BackfillRequest>;

/** A place in the status index: the sort key and id of the last record read. */
export type IndexPosition = readonly [sortKey: string, id: string];

/**
 * Where a walk over the status index stopped: the partition (statuses in order, each split in
 * its shards) and the last record read in it. Tied to the status it walks.
 */
export interface WalkCursor {
  readonly status: CandidateStatus | null;
  readonly partition: number;
  readonly after: IndexPosition | null;
}

const CursorBody = z.object({
  v: z.literal(1),
  s: Status.nullable(),
  p: z.number().int().min(0),
  a: z.tuple([z.string().min(1).max(1024), z.string().min(1).max(512)]).nullable(),
});

/** An opaque cursor: base64url of the position. */
export function encodeWalkCursor(cursor: WalkCursor): string {
  return Buffer.from(
    JSON.stringify({ v: 1, s: cursor.status, p: cursor.partition, a: cursor.after }),
  ).toString("base64url");
}

/** Reads a cursor back; a 422 naming `location` for one that is not ours or is for another status. */
export function decodeWalkCursor(
  cursor: string,
  status: CandidateStatus | null,
  location: readonly (string | number)[],
): WalkCursor {
  const invalid = (msg: string) => new ValidationError([{ loc: location, msg, type: "value_error" }]);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid("invalid cursor");
  }
  const parsed = CursorBody.safeParse(body);
  if (!parsed.success) throw invalid("invalid cursor");
  if (parsed.data.s !== status) throw invalid("the cursor belongs to another status filter");
  return { status: parsed.data.s, partition: parsed.data.p, after: parsed.data.a };
}

/** The statuses a walk covers: the one asked for, or all of them in their usual order. */
export function statusesOf(status: CandidateStatus | undefined): readonly CandidateStatus[] {
  return status ? [status] : CANDIDATE_STATUSES;
}

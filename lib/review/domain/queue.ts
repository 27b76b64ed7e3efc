import * as z from "zod";
import { ValidationError } from "../../common/domain/errors.ts";

export const MAX_PER_PAGE = 200;
export const DEFAULT_PER_PAGE = 20;

const filterValue = z.string().trim().min(1).max(512).optional();
const integer = (name: string) =>
  z
    .string()
    .regex(/^\s*[+-]?\d+\s*$/, `${name} must be an integer`)
    .transform(Number);

/**
 * The deepest a page number reaches, in candidates skipped: a page is read by walking the queue
 * from its start, so a bound keeps one request's reads bounded; `next_cursor` pages on from there
 * at the cost of one page each.
 */
export const MAX_PAGE_OFFSET = 10_000;

/** `GET /api/sft/queue` query string: Avocet's `page`/`per_page`, plus a cursor and filters. */
export const QueueQuery = z
  .object({
    page: integer("page").pipe(z.number().int().min(1)).default(1),
    per_page: integer("per_page").pipe(z.number().int().min(1).max(MAX_PER_PAGE)).default(DEFAULT_PER_PAGE),
    cursor: z.string().min(1).max(4096).optional(),
    model: filterValue,
    task_type: filterValue,
    run_id: filterValue,
    source: filterValue,
  })
  // Checked only once page and per_page are numbers: zod runs this even after a field's own issue.
  .refine(
    (query) =>
      query.cursor !== undefined ||
      !Number.isInteger(query.page) ||
      !Number.isInteger(query.per_page) ||
      (query.page - 1) * query.per_page <= MAX_PAGE_OFFSET,
    {
      path: ["page"],
      message: `reaches past the first ${MAX_PAGE_OFFSET} candidates: page on with next_cursor`,
    },
  );
export type QueueQuery = z.infer<typeof QueueQuery>;

export interface QueueFilters {
  readonly model?: string;
  readonly task_type?: string;
  readonly run_id?: string;
  readonly source?: string;
}

export function filtersOf(query: QueueQuery): QueueFilters {
  const filters: Record<string, string> = {};
  for (const name of ["model", "task_type", "run_id", "source"] as const) {
    const value = query[name];
    if (value !== undefined) filters[name] = value;
  }
  return filters;
}

/**
 * Where a walk of the queue stopped, per shard of the status index: the sort key and id of the
 * last item it consumed from that shard, or `null` when it consumed none yet.
 */
export type QueuePosition = readonly ([sortKey: string, id: string] | null)[];

const CursorBody = z.object({
  v: z.literal(1),
  p: z.array(z.union([z.null(), z.tuple([z.string().min(1).max(1024), z.string().min(1).max(512)])])),
});

/** An opaque cursor: base64url of the per-shard positions. */
export function encodeCursor(position: QueuePosition): string {
  return Buffer.from(JSON.stringify({ v: 1, p: position })).toString("base64url");
}

export function decodeCursor(cursor: string, shards: number): QueuePosition {
  const invalid = () =>
    new ValidationError([{ loc: ["query", "cursor"], msg: "invalid cursor", type: "value_error" }]);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  const parsed = CursorBody.safeParse(body);
  if (!parsed.success || parsed.data.p.length !== shards) throw invalid();
  return parsed.data.p;
}

/** `GET /api/sft/queue` reply. `total` counts every match, not only this page; see `reviewQueue`. */
export interface QueuePage<Item> {
  readonly items: readonly Item[];
  readonly total: number | null;
  readonly page: number;
  readonly per_page: number;
  readonly next_cursor: string | null;
}

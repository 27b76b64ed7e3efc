import { checkExpiry } from "../../common/domain/link-expiry.ts";
import {
  decodeIngestQuarantineCursor,
  encodeIngestQuarantineCursor,
  type IngestQuarantineItem,
  type IngestQuarantineQuery,
  ingestQuarantineItem,
} from "../domain/quarantine-listing.ts";
import type { IngestQuarantineLink, IngestQuarantineReader } from "../ports.ts";

export interface IngestQuarantineListingDeps {
  readonly quarantine: IngestQuarantineReader;
  readonly urlExpirySeconds: number;
  readonly maxUrlExpirySeconds: number;
  /** Entries the first page of a day reads to count them by reason. */
  readonly countCap?: number;
  /** Entries a later page reads at most before it answers with a cursor. */
  readonly pageBudget?: number;
}

/** The first page of a day counts up to this many entries by reason (each entry is one object). */
export const INGEST_QUARANTINE_COUNT_CAP = 1_000;
export const INGEST_QUARANTINE_PAGE_BUDGET = 500;
/** Days listed in an answer, newest first. */
export const INGEST_QUARANTINE_DAYS_LISTED = 90;
const READS_IN_FLIGHT = 16;

export type IngestQuarantineEntryView = IngestQuarantineItem & { readonly download: IngestQuarantineLink };

export interface IngestQuarantinePage {
  /** The day listed; `null` when nothing was ever quarantined. */
  readonly day: string | null;
  readonly days: readonly string[];
  readonly reason: string | null;
  readonly items: readonly IngestQuarantineEntryView[];
  /** Entries read for this page. */
  readonly examined: number;
  readonly next_cursor: string | null;
  /**
   * The day's entries by reason, on a day's first page (`null` on the pages after): over the
   * first `counted` entries, all of them when `counts_complete`.
   */
  readonly by_reason: Readonly<Record<string, number>> | null;
  readonly counted: number | null;
  readonly counts_complete: boolean | null;
}

/**
 * One page of the refused messages of one day. Each message is an object of its own, so the
 * first page of a day reads up to `countCap` of them to count them by reason and serves its
 * entries from those; a later page (with a cursor) reads on from the cursor's entry, at most
 * `pageBudget` entries, and stops at `limit` entries of `reason`.
 */
export async function listIngestQuarantine(
  deps: IngestQuarantineListingDeps,
  query: IngestQuarantineQuery,
): Promise<IngestQuarantinePage> {
  const expiresIn = checkExpiry(query.expires_in ?? deps.urlExpirySeconds, deps.maxUrlExpirySeconds);
  const cursor = query.cursor ? decodeIngestQuarantineCursor(query.cursor, query.day) : null;
  const days = await deps.quarantine.days();
  const day = cursor?.day ?? query.day ?? days[0] ?? null;
  const base = { day, days: days.slice(0, INGEST_QUARANTINE_DAYS_LISTED), reason: query.reason ?? null };
  if (day === null) {
    return {
      ...base,
      items: [],
      examined: 0,
      next_cursor: null,
      by_reason: null,
      counted: null,
      counts_complete: null,
    };
  }
  const max = cursor
    ? (deps.pageBudget ?? INGEST_QUARANTINE_PAGE_BUDGET)
    : (deps.countCap ?? INGEST_QUARANTINE_COUNT_CAP);
  const listed = await deps.quarantine.keys(day, cursor?.after ?? null, max);

  const items: IngestQuarantineEntryView[] = [];
  const byReason: Record<string, number> = {};
  let examined = 0;
  let lastKey: string | null = null;
  let stoppedEarly = false;
  for (let i = 0; i < listed.keys.length; i += READS_IN_FLIGHT) {
    const batch = listed.keys.slice(i, i + READS_IN_FLIGHT);
    const entries = await Promise.all(batch.map((key) => deps.quarantine.read(key)));
    for (const [j, entry] of entries.entries()) {
      const key = batch[j] as string;
      examined += 1;
      const item = entry ? ingestQuarantineItem(entry, key) : null;
      if (item) byReason[item.reason] = (byReason[item.reason] ?? 0) + 1;
      if (items.length < query.limit) {
        lastKey = key;
        if (item && (!query.reason || item.reason === query.reason)) {
          const name = `${item.message_id.replace(/[^A-Za-z0-9._-]/g, "_")}.quarantine.json`;
          items.push({ ...item, download: await deps.quarantine.signedLink(key, name, expiresIn) });
        }
      } else if (!cursor) {
        // Counting goes on; the page is full, and the entry after its last is where the next begins.
        stoppedEarly = true;
      } else {
        stoppedEarly = true;
        break;
      }
    }
    if (cursor && stoppedEarly) break;
  }
  const more = stoppedEarly || listed.more;
  return {
    ...base,
    day,
    items,
    examined,
    next_cursor: more && lastKey ? encodeIngestQuarantineCursor({ day, after: lastKey }) : null,
    by_reason: cursor ? null : byReason,
    counted: cursor ? null : examined,
    counts_complete: cursor ? null : !listed.more,
  };
}

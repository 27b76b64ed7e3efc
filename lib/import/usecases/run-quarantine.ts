import { NotFoundError } from "../../common/domain/errors.ts";
import { checkExpiry } from "../../common/domain/link-expiry.ts";
import {
  type RunQuarantineItem,
  type RunQuarantineQuery,
  runQuarantineFileName,
  runQuarantineItem,
} from "../domain/run-quarantine.ts";
import { isRunId } from "../domain/run-upload.ts";
import type { QuarantineFileLink, RunQuarantineReader } from "../ports.ts";

export interface RunQuarantineDeps {
  readonly quarantine: RunQuarantineReader;
  /** Signed links last this long unless the request asks otherwise, and never longer than the max. */
  readonly urlExpirySeconds: number;
  readonly maxUrlExpirySeconds: number;
  /** Bytes of the file one page reads at most before it answers with a cursor. */
  readonly pageBudgetBytes?: number;
}

/** A page reads at most this much of the file: a filter that matches rarely still answers quickly. */
export const QUARANTINE_PAGE_BUDGET_BYTES = 4 * 1024 * 1024;

export interface RunQuarantinePage {
  readonly run_id: string;
  readonly import_id: string | null;
  readonly state: string;
  /** Lines the import quarantined, and by reason (`null` for an import other than the run's latest). */
  readonly quarantined: number | null;
  readonly by_reason: Readonly<Record<string, number>> | null;
  readonly reason: string | null;
  readonly items: readonly RunQuarantineItem[];
  /** Where the next page starts: a byte offset into the file, `null` at its end. */
  readonly next_cursor: string | null;
  readonly scanned_bytes: number;
  readonly file_bytes: number;
  /** The whole file, through a signed link that expires; `null` when there is no file. */
  readonly download: QuarantineFileLink | null;
}

/**
 * One page of a run's quarantine entries, in line order, read from the import's quarantine file
 * from the cursor's byte on. A page ends at `limit` entries (of `reason`, when asked) or after
 * `pageBudgetBytes` of the file, whichever comes first, so a page may hold fewer entries than
 * `limit` and still have a cursor.
 */
export async function listRunQuarantine(
  deps: RunQuarantineDeps,
  runId: string,
  query: RunQuarantineQuery,
): Promise<RunQuarantinePage> {
  const expiresIn = checkExpiry(query.expires_in ?? deps.urlExpirySeconds, deps.maxUrlExpirySeconds);
  if (!isRunId(runId)) throw new NotFoundError(`Run ${runId} not found`);
  const record = await deps.quarantine.readRun(runId);
  if (!record) throw new NotFoundError(`Run ${runId} has not been imported`);
  const latest = query.import_id === undefined || query.import_id === record.import_id;
  const importId = query.import_id ?? record.import_id;
  const key = latest ? record.quarantine_key : deps.quarantine.keyOf(runId, importId);
  const base = {
    run_id: runId,
    import_id: importId || null,
    state: latest ? record.state : "completed",
    quarantined: latest ? record.quarantined : null,
    by_reason: latest ? (record.quarantined_by_reason ?? {}) : null,
    reason: query.reason ?? null,
  };
  if (!key) {
    return { ...base, items: [], next_cursor: null, scanned_bytes: 0, file_bytes: 0, download: null };
  }

  const budget = deps.pageBudgetBytes ?? QUARANTINE_PAGE_BUDGET_BYTES;
  const from = query.cursor ?? 0;
  const { size, lines } = await deps.quarantine.openLines(key, from);
  const items: RunQuarantineItem[] = [];
  let position = from;
  for await (const line of lines) {
    position = line.end;
    const item = runQuarantineItem(line.text);
    if (item && (!query.reason || item.reason === query.reason)) items.push(item);
    if (items.length >= query.limit || position - from >= budget) break;
  }
  const download = await deps.quarantine.signedLink(key, runQuarantineFileName(runId, importId), expiresIn);
  return {
    ...base,
    items,
    next_cursor: position < size ? String(position) : null,
    scanned_bytes: position - from,
    file_bytes: size,
    download,
  };
}

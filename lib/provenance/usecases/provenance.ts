import type { CandidateStatus } from "../../common/domain/candidate.ts";
import { planProvenanceFill, validateProvenance } from "../../common/domain/provenance.ts";
import { deltaForChange, type ProvenanceReport, provenanceReport } from "../../common/domain/stats.ts";
import type { CounterReader } from "../../review/ports.ts";
import {
  type BackfillFilter,
  type BackfillRequest,
  decodeWalkCursor,
  encodeWalkCursor,
  statusesOf,
  type ValidateQuery,
  type WalkCursor,
} from "../domain/provenance-requests.ts";
import { HELD_LISTS, type ProvenanceRecord, type ProvenanceStore } from "../ports.ts";

export interface ProvenanceLimits {
  /** Records read from the index per query. */
  readonly pageSize: number;
  /** Records one validate request looks at before it answers with a cursor. */
  readonly validateBudget: number;
  /** Records one backfill request looks at before it answers with a cursor. */
  readonly backfillBudget: number;
  /** Records filled at once. */
  readonly parallelFills: number;
  /** Reads and tries again this many times when a record changes under a fill. */
  readonly fillAttempts: number;
}

export const DEFAULT_PROVENANCE_LIMITS: ProvenanceLimits = {
  pageSize: 250,
  validateBudget: 2_000,
  backfillBudget: 2_000,
  parallelFills: 8,
  fillAttempts: 3,
};

export interface ProvenanceDeps {
  readonly store: ProvenanceStore;
  readonly counters: CounterReader;
  readonly now?: () => Date;
  readonly limits?: Partial<ProvenanceLimits>;
}

/** The report, from the counters alone: a fixed number of reads whatever the size of the store. */
export async function readProvenanceReport(
  deps: Pick<ProvenanceDeps, "counters">,
): Promise<ProvenanceReport> {
  return provenanceReport(await deps.counters.read());
}

/** One record whose provenance fails validation, with what it misses. */
export interface InvalidProvenance {
  readonly id: string;
  readonly status: CandidateStatus;
  readonly source: string | null;
  readonly model: string | null;
  readonly run_id: string | null;
  readonly missing: readonly string[];
  readonly errors: readonly string[];
}

export interface InvalidProvenancePage {
  readonly items: readonly InvalidProvenance[];
  /** Records looked at for this page. */
  readonly examined: number;
  /** `null` once every partition was read. */
  readonly next_cursor: string | null;
}

/**
 * Lists the records whose provenance fails validation, walking the status index (one status, or
 * each in turn). A page ends at `limit` invalid records or at the read budget, whichever comes
 * first, so a page can hold fewer than `limit` and still have a cursor.
 */
export async function listInvalidProvenance(
  deps: ProvenanceDeps,
  query: ValidateQuery,
): Promise<InvalidProvenancePage> {
  const limits = { ...DEFAULT_PROVENANCE_LIMITS, ...deps.limits };
  const status = query.status ?? null;
  const start = query.cursor
    ? decodeWalkCursor(query.cursor, status, ["query", "cursor"])
    : { status, partition: 0, after: null };
  const items: InvalidProvenance[] = [];
  let examined = 0;
  const walk = walkRecords(deps.store, start, Math.min(limits.pageSize, limits.validateBudget));
  for await (const { record } of walk) {
    examined += 1;
    if (!matches(record, { source: query.source })) continue;
    const verdict = validateProvenance(record);
    if (!verdict.valid) {
      items.push({
        id: record.id,
        status: record.status,
        source: sourceOf(record),
        model: textField(record.provenance, "model") ?? record.model_name ?? null,
        run_id: runIdOf(record),
        missing: verdict.missing,
        errors: verdict.errors,
      });
    }
    if (items.length >= query.limit || examined >= limits.validateBudget) break;
  }
  return { items, examined, next_cursor: walk.cursor() };
}

export interface BackfillOutcome {
  /** Records the filter matched (in this request, when it stopped with a cursor). */
  readonly matched: number;
  /** Records whose provenance was filled in. */
  readonly changed: number;
  /** Matched records still invalid after the fill: they miss an origin backfill cannot know. */
  readonly still_invalid: number;
  /** Records that kept changing under the fill; running the backfill again picks them up. */
  readonly conflicts: number;
  readonly next_cursor: string | null;
}

/** What a dry run says it would fill in one record. */
export interface PlannedFill {
  readonly id: string;
  readonly status: CandidateStatus;
  readonly source: string | null;
  /** Each field it would fill, with the value. */
  readonly fill: Readonly<Record<string, unknown>>;
  /** Fields still missing after the fill (an origin backfill cannot know). */
  readonly still_missing: readonly string[];
}

/** Records of a dry run listed with their planned fill; the counts cover every record. */
export const DRY_RUN_LISTED = 50;

export interface BackfillPreview extends BackfillOutcome {
  readonly dry_run: true;
  /** Records the backfill would fill in (`changed` stays 0: nothing is written). */
  readonly would_change: number;
  /** The first `DRY_RUN_LISTED` of them. */
  readonly changes: readonly PlannedFill[];
}

/**
 * What `backfillProvenance` would do over the same records, writing nothing: the records it
 * would fill, the fields and values of the first few, and those that would stay invalid. Pages
 * with the same cursor as the backfill itself.
 */
export async function previewBackfill(
  deps: ProvenanceDeps,
  request: BackfillRequest,
  principal: string,
): Promise<BackfillPreview> {
  const { plan, walk, budget } = backfillRun(deps, request, principal);
  let examined = 0;
  let matched = 0;
  let wouldChange = 0;
  let stillInvalid = 0;
  const changes: PlannedFill[] = [];
  for await (const { record } of walk) {
    examined += 1;
    if (matches(record, request.filter)) {
      matched += 1;
      const fill = plan(record);
      const after = fill ? { ...record, provenance: fill.provenance } : record;
      const verdict = validateProvenance(after);
      if (!verdict.valid) stillInvalid += 1;
      if (fill) {
        wouldChange += 1;
        if (changes.length < DRY_RUN_LISTED) {
          changes.push({
            id: record.id,
            status: record.status,
            source: sourceOf(record),
            fill: Object.fromEntries(fill.filled.map((field) => [field, fill.fields[field]])),
            still_missing: verdict.valid ? [] : verdict.missing,
          });
        }
      }
    }
    if (examined >= budget) break;
  }
  return {
    dry_run: true,
    matched,
    changed: 0,
    would_change: wouldChange,
    still_invalid: stillInvalid,
    conflicts: 0,
    changes,
    next_cursor: walk.cursor(),
  };
}

/**
 * Fills in the provenance that records are missing, never a field they have: each fill is one
 * conditional write with its counter delta, so a record changed meanwhile is read again and
 * planned again. Idempotent: a second run over the same records changes nothing.
 */
export async function backfillProvenance(
  deps: ProvenanceDeps,
  request: BackfillRequest,
  principal: string,
): Promise<BackfillOutcome> {
  const { plan, walk, budget, fillAttempts, parallelFills } = backfillRun(deps, request, principal);
  let examined = 0;
  let matched = 0;
  let changed = 0;
  let stillInvalid = 0;
  let conflicts = 0;

  const fillOne = async (found: ProvenanceRecord) => {
    let record: ProvenanceRecord | null = found;
    for (let attempt = 0; record && attempt < fillAttempts; attempt++) {
      const fill = plan(record);
      if (!fill) break;
      const after = { ...record, provenance: fill.provenance };
      if ((await deps.store.fill(record, fill, deltaForChange(record, after))) === "filled") {
        changed += 1;
        if (!validateProvenance(after).valid) stillInvalid += 1;
        return;
      }
      record = await deps.store.find(record.id);
      if (record && !matches(record, request.filter)) return;
    }
    if (record && plan(record)) conflicts += 1;
    else if (record && !validateProvenance(record).valid) stillInvalid += 1;
  };

  let batch: Promise<void>[] = [];
  for await (const { record } of walk) {
    examined += 1;
    if (matches(record, request.filter)) {
      matched += 1;
      batch.push(fillOne(record));
      if (batch.length >= parallelFills) {
        await Promise.all(batch);
        batch = [];
      }
    }
    if (examined >= budget) break;
  }
  await Promise.all(batch);
  return { matched, changed, still_invalid: stillInvalid, conflicts, next_cursor: walk.cursor() };
}

/**
 * What a backfill and its dry run share: the walk from the request's cursor, its read budget, and
 * the fill planned for a record with the request's source and model.
 */
function backfillRun(deps: ProvenanceDeps, request: BackfillRequest, principal: string) {
  const limits = { ...DEFAULT_PROVENANCE_LIMITS, ...deps.limits };
  const now = deps.now ?? (() => new Date());
  const status = request.filter.status ?? null;
  const start = request.cursor
    ? decodeWalkCursor(request.cursor, status, ["body", "cursor"])
    : { status, partition: 0, after: null };
  const defaults = { source: request.source, model: request.model };
  return {
    plan: (record: ProvenanceRecord) => planProvenanceFill(record, defaults, { at: now(), by: principal }),
    walk: walkRecords(deps.store, start, Math.min(limits.pageSize, limits.backfillBudget)),
    budget: limits.backfillBudget,
    fillAttempts: limits.fillAttempts,
    parallelFills: limits.parallelFills,
  };
}

/**
 * Reads the status index partition by partition from `start`. `cursor()` says where a later walk
 * continues after the last record handed out (`null` once every partition was read).
 */
function walkRecords(store: ProvenanceStore, start: WalkCursor, pageSize: number) {
  const statuses = statusesOf(start.status ?? undefined);
  // `needs_review` records out of the queue's partitions (leased, waiting for another vote or for
  // adjudication) are read after every status's own: numbered on from them, so a cursor handed
  // out before they were read still points where it did.
  const lists = statuses.includes("needs_review") ? HELD_LISTS : [];
  const own = statuses.length * store.shards;
  const partitions = own + lists.length * store.shards;
  let position: WalkCursor | null = start.partition < partitions ? start : null;

  async function* records() {
    for (let partition = start.partition; partition < partitions; partition++) {
      const held = partition < own ? undefined : lists[Math.floor((partition - own) / store.shards)];
      const status = held
        ? "needs_review"
        : (statuses[Math.floor(partition / store.shards)] as CandidateStatus);
      let after = partition === start.partition ? start.after : null;
      do {
        const page = await store.readPartition(status, partition % store.shards, after, pageSize, held);
        for (const { record, position: at } of page.records) {
          position = { status: start.status, partition, after: at };
          yield { record };
        }
        after = page.next;
      } while (after);
      position =
        partition + 1 < partitions ? { status: start.status, partition: partition + 1, after: null } : null;
    }
  }

  const iterator = records();
  return Object.assign(iterator, {
    cursor: () => (position ? encodeWalkCursor(position) : null),
  });
}

function matches(record: ProvenanceRecord, filter: Partial<BackfillFilter>): boolean {
  if (filter.status && record.status !== filter.status) return false;
  if (filter.source && sourceOf(record) !== filter.source) return false;
  if (filter.run_id && runIdOf(record) !== filter.run_id) return false;
  return true;
}

function sourceOf(record: ProvenanceRecord): string | null {
  return textField(record.provenance, "source") ?? record.source ?? null;
}

function runIdOf(record: ProvenanceRecord): string | null {
  return textField(record.provenance, "source_run_id") ?? record.benchmark_run_id ?? null;
}

function textField(block: unknown, field: string): string | null {
  if (block === null || typeof block !== "object") return null;
  const value = (block as Record<string, unknown>)[field];
  return typeof value === "string" && value.trim() !== "" ? value : null;
}

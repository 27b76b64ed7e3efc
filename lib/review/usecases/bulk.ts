import { randomUUID } from "node:crypto";
import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import { type Metrics, metrics } from "../../common/metrics.ts";
import { type BulkJob, type BulkRequest, newBulkJob } from "../domain/bulk.ts";
import { planDecision, planUndo, type Transition } from "../domain/review.ts";
import { REVIEW_METRICS } from "../metrics.ts";
import type { BulkStore, QueueIndex, ReviewStore } from "../ports.ts";

export interface BulkDeps {
  readonly bulk: BulkStore;
  readonly store: ReviewStore;
  readonly queue: QueueIndex;
  readonly now?: () => Date;
  readonly newId?: () => string;
  /** Where the decisions a bulk records (by action) and takes back are counted; the process's metrics unless given. */
  readonly metrics?: Metrics;
}

type Actor = { readonly id: string; readonly name: string };

/**
 * The waiting candidates a bulk request would decide, counted by walking the queue's index under
 * its filters (pages of 1,000, no bodies loaded; what a count reads grows with what matches).
 */
export async function countBulk(deps: Pick<BulkDeps, "queue">, request: BulkRequest): Promise<number> {
  const job = newBulkJob("dry-run", request, { id: "", name: "" }, new Date(0));
  let matched = 0;
  let after = null;
  for (;;) {
    const page = await deps.queue.walkItems({ filters: job.filters, after, skip: 0, limit: 1_000 });
    matched += page.items.length;
    if (!page.more) return matched;
    after = page.position;
  }
}

/** Records a bulk job; nothing is decided until its batches run. */
export async function createBulk(deps: BulkDeps, request: BulkRequest, actor: Actor): Promise<BulkJob> {
  const job = newBulkJob((deps.newId ?? randomUUID)(), request, actor, (deps.now ?? (() => new Date()))());
  await deps.bulk.create(job);
  return job;
}

export async function findBulk(deps: Pick<BulkDeps, "bulk">, id: string): Promise<BulkJob> {
  const job = await deps.bulk.find(id);
  if (!job) throw new NotFoundError(`Bulk ${id} not found`);
  return job;
}

const tagged = (transition: Transition, bulkId: string): Transition => ({
  ...transition,
  event: { ...transition.event, bulk_id: bulkId },
});

/** A decision or undo that met a conflict (decided, held or changed by someone else) or a missing candidate. */
const isSkippable = (error: unknown) => error instanceof ConflictError || error instanceof NotFoundError;

const nowOf = (deps: Pick<BulkDeps, "now">) => (deps.now ?? (() => new Date()))();

/**
 * Settles each item in turn with `settle`, which answers whether it changed the item: counts those
 * it changed and those it skipped, as left alone or as changed by someone else meanwhile (a
 * skippable error); any other error ends the batch.
 */
async function settleEach<T>(items: readonly T[], settle: (item: T) => Promise<boolean>) {
  let settled = 0;
  let skipped = 0;
  for (const item of items) {
    try {
      if (await settle(item)) settled++;
      else skipped++;
    } catch (error) {
      if (!isSkippable(error)) throw error;
      skipped++;
    }
  }
  return { settled, skipped };
}

async function saved(deps: BulkDeps, job: BulkJob, before: BulkJob): Promise<BulkJob> {
  if (!(await deps.bulk.save(job, before.version))) {
    throw new ConflictError(`Bulk ${job.id} was moved on by another call meanwhile: read it and call again`);
  }
  return job;
}

/**
 * Decides the bulk's next `limit` waiting candidates, oldest first, each in its own conditional
 * transaction with a marker for the undo; one decided, held or changed by someone else is
 * skipped and counted. The job is saved with its counts and where the next batch starts, only if
 * no other batch ran meanwhile (two batches at once: one is refused with a 409, the candidates'
 * own conditions keep every decision single).
 */
export async function runBulk(deps: BulkDeps, id: string, limit: number, actor: Actor): Promise<BulkJob> {
  const job = await findBulk(deps, id);
  if (job.state !== "running") throw new ConflictError(`Bulk ${id} is ${job.state}, not running`, job.state);
  const page = await deps.queue.walkItems({ filters: job.filters, after: job.position, skip: 0, limit });
  const { settled: decided, skipped } = await settleEach(page.items, async (item) => {
    const subject = await deps.store.findSubject(item.id);
    if (!subject) throw new NotFoundError(`Candidate ${item.id} not found`);
    const decision = {
      id: item.id,
      action: job.action,
      corrected_response: null,
      failure_category: job.failure_category,
    };
    const transition = planDecision(subject, decision, actor, nowOf(deps));
    await deps.store.apply(tagged(transition, id), { bulkId: id });
    (deps.metrics ?? metrics).count(REVIEW_METRICS.decisions, 1, job.action);
    return true;
  });
  return saved(
    deps,
    {
      ...job,
      decided: job.decided + decided,
      skipped: job.skipped + skipped,
      position: page.position,
      state: page.more ? "running" : "done",
      updated_at: nowOf(deps).toISOString(),
      version: job.version + 1,
    },
    job,
  );
}

/**
 * Takes the bulk back, `limit` decisions per call: each candidate it decided returns to the queue
 * in its own transaction, unless it changed since (undone, decided again: its version moved), in
 * which case it is left as it is and counted. Stops the bulk first if it was still running.
 */
export async function undoBulk(deps: BulkDeps, id: string, limit: number, actor: Actor): Promise<BulkJob> {
  const job = await findBulk(deps, id);
  if (job.state === "undone") throw new ConflictError(`Bulk ${id} is already undone`, job.state);
  const page = await deps.bulk.marks(id, job.undo_position, limit);
  const { settled: undone, skipped } = await settleEach(page.items, async (mark) => {
    const subject = await deps.store.findSubject(mark.candidate_id);
    if (!subject || subject.version !== mark.version || subject.status !== job.target) return false;
    await deps.store.apply(tagged(planUndo(subject, actor, nowOf(deps)), id));
    (deps.metrics ?? metrics).count(REVIEW_METRICS.undos);
    return true;
  });
  return saved(
    deps,
    {
      ...job,
      undone: job.undone + undone,
      undo_skipped: job.undo_skipped + skipped,
      undo_position: page.last,
      state: page.more ? "undoing" : "undone",
      updated_at: nowOf(deps).toISOString(),
      version: job.version + 1,
    },
    job,
  );
}

import { randomUUID } from "node:crypto";
import { ConflictError, NotFoundError } from "../../common/domain/errors.ts";
import { type Metrics, metrics } from "../../common/metrics.ts";
import { type BulkJob, type BulkRequest, newBulkJob } from "../domain/bulk.ts";
import { EMPTY_POLICY, reviewsRequired } from "../domain/double-review.ts";
import type { QueuePosition } from "../domain/queue.ts";
import { planDecision, planUndo, type Transition, withDecisionFacts } from "../domain/review.ts";
import { REVIEW_METRICS } from "../metrics.ts";
import type { BulkStore, QueuedItem, QueueIndex, ReviewStore, VoteStore } from "../ports.ts";

export interface BulkDeps {
  readonly bulk: BulkStore;
  readonly store: ReviewStore;
  readonly queue: QueueIndex;
  /** The double-review policy; without it (a deployment wired without double review) every candidate needs one review. */
  readonly policy?: Pick<VoteStore, "readPolicy">;
  readonly now?: () => Date;
  readonly newId?: () => string;
  /** Where the decisions a bulk records (by action) and takes back are counted; the process's metrics unless given. */
  readonly metrics?: Metrics;
}

type Actor = { readonly id: string; readonly name: string };

const policyOf = async (deps: Pick<BulkDeps, "policy">) =>
  deps.policy ? deps.policy.readPolicy() : EMPTY_POLICY;

/**
 * The next `limit` waiting candidates of a bulk after `after`. A run walk (`walk: "run"`, a bulk
 * with a `run_id` filter) reads the run index in line order, its one position in a one-item list;
 * any other job walks the status index under its filters, oldest first.
 */
async function walkBulk(
  queue: QueueIndex,
  job: Pick<BulkJob, "walk" | "filters">,
  after: QueuePosition | null,
  limit: number,
): Promise<{ items: readonly QueuedItem[]; position: QueuePosition; more: boolean }> {
  const runId = job.filters.run_id;
  if (job.walk === "run" && runId !== undefined) {
    const page = await queue.walkRunItems({ runId, filters: job.filters, after: after?.[0] ?? null, limit });
    return { items: page.items, position: [page.position ? [...page.position] : null], more: page.more };
  }
  return queue.walkItems({ filters: job.filters, after, skip: 0, limit });
}

/**
 * The waiting candidates a bulk request would decide, counted by walking its index under its
 * filters (the run index for a run, else the status index; pages of 1,000, no bodies loaded), and
 * how many of them the double-review policy asks more than one review of.
 */
export async function countBulk(
  deps: Pick<BulkDeps, "queue" | "policy">,
  request: BulkRequest,
): Promise<{ matched: number; matched_over_policy: number }> {
  const job = newBulkJob("dry-run", request, { id: "", name: "" }, new Date(0));
  const policy = await policyOf(deps);
  let matched = 0;
  let overPolicy = 0;
  let after: QueuePosition | null = null;
  for (;;) {
    const page = await walkBulk(deps.queue, job, after, 1_000);
    matched += page.items.length;
    overPolicy += page.items.filter(
      (item) => reviewsRequired(policy, item as unknown as Parameters<typeof reviewsRequired>[1]) > 1,
    ).length;
    if (!page.more) return { matched, matched_over_policy: overPolicy };
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

/**
 * A bulk's decision, recorded as such in provenance (`decided_in_bulk`). On a candidate its
 * policy asks `required` (2 or more) reviews of, it is the admin's decision past the policy (the
 * role that adjudicates): provenance and the history event say so (`policy_override`,
 * `reviews_required`).
 */
function bulkDecision(transition: Transition, bulkId: string, required: number): Transition {
  const over = required > 1;
  return withDecisionFacts(
    tagged(transition, bulkId),
    { decided_in_bulk: bulkId, ...(over ? { policy_override: true, reviews_required: required } : {}) },
    over ? { policy_override: true, reviews_required: required } : {},
  );
}

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
 * Decides the bulk's next `limit` waiting candidates (a run's in line order, others oldest first), each in its own conditional
 * transaction with a marker for the undo; one decided, held or changed by someone else is
 * skipped and counted. The job is saved with its counts and where the next batch starts, only if
 * no other batch ran meanwhile (two batches at once: one is refused with a 409, the candidates'
 * own conditions keep every decision single).
 */
export async function runBulk(deps: BulkDeps, id: string, limit: number, actor: Actor): Promise<BulkJob> {
  const job = await findBulk(deps, id);
  if (job.state !== "running") throw new ConflictError(`Bulk ${id} is ${job.state}, not running`, job.state);
  const page = await walkBulk(deps.queue, job, job.position, limit);
  const policy = await policyOf(deps);
  let overPolicy = 0;
  const { settled: decided, skipped } = await settleEach(page.items, async (item) => {
    const subject = await deps.store.findSubject(item.id);
    if (!subject) throw new NotFoundError(`Candidate ${item.id} not found`);
    const decision = {
      id: item.id,
      action: job.action,
      corrected_response: null,
      failure_category: job.failure_category,
    };
    const required = reviewsRequired(policy, subject);
    const transition = planDecision(subject, decision, actor, nowOf(deps));
    await deps.store.apply(bulkDecision(transition, id, required), { bulkId: id });
    (deps.metrics ?? metrics).count(REVIEW_METRICS.decisions, 1, job.action);
    if (required > 1) overPolicy++;
    return true;
  });
  return saved(
    deps,
    {
      ...job,
      decided: job.decided + decided,
      decided_over_policy: (job.decided_over_policy ?? 0) + overPolicy,
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

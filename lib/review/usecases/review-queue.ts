import { type CounterDelta, counterName } from "../../common/domain/stats.ts";
import {
  decodeCursor,
  encodeCursor,
  filtersOf,
  type QueueFilters,
  type QueuePage,
  type QueueQuery,
} from "../domain/queue.ts";
import type { CandidateView, CounterReader, QueueReader } from "../ports.ts";

export interface ReviewQueueDeps {
  readonly queue: QueueReader;
  readonly counters: CounterReader;
}

/**
 * The size of the queue under `filters`, from counters only: the whole queue, or the queue of
 * one model, task type or source. Other filters (a run, or several at once) have no counter and
 * would need a read of every queued item, so their total is `null`; `next_cursor` still pages.
 */
export function queueTotal(counters: CounterDelta, filters: QueueFilters): number | null {
  const given = Object.entries(filters);
  if (given.length === 0) return counters[counterName.status("needs_review")] ?? 0;
  if (given.length > 1) return null;
  const [name, value] = given[0] as [keyof QueueFilters, string];
  switch (name) {
    case "model":
      return counters[counterName.queued.model(value)] ?? 0;
    case "task_type":
      return counters[counterName.queued.taskType(value)] ?? 0;
    case "source":
      return counters[counterName.queued.source(value)] ?? 0;
    default:
      return null;
  }
}

/**
 * A page of the review queue, oldest first. With a `cursor` the page starts where the previous
 * one ended (reads stay proportional to the page however deep); without, `page` counts pages
 * from the start as Avocet does (reads grow with the offset).
 */
export async function reviewQueue(
  deps: ReviewQueueDeps,
  query: QueueQuery,
): Promise<QueuePage<CandidateView>> {
  const filters = filtersOf(query);
  const after = query.cursor ? decodeCursor(query.cursor, deps.queue.shards) : null;
  const [walked, counters] = await Promise.all([
    deps.queue.walk({
      filters,
      after,
      skip: after ? 0 : (query.page - 1) * query.per_page,
      limit: query.per_page,
    }),
    deps.counters.read(),
  ]);
  return {
    items: walked.items,
    total: queueTotal(counters, filters),
    page: query.page,
    per_page: query.per_page,
    next_cursor: walked.more ? encodeCursor(walked.position) : null,
  };
}

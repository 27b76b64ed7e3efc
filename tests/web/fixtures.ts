import { vi } from "vitest";
import { ApiError, type ExportJob, type ReviewApi } from "../../web/src/api.ts";
import type { Candidate, NextReply, QueuePage, ReviewStats } from "../../web/src/types.ts";

/** A candidate as a benchmark run has it, every field present. */
export function candidate(n: number, overrides: Partial<Candidate> = {}): Candidate {
  return {
    id: `run-${String(n).padStart(3, "0")}`,
    status: "needs_review",
    prompt_messages: [
      { role: "system", content: "Solve the problem. End with 'Answer: <number>'." },
      { role: "user", content: `A train travels ${n} km in 2 hours. What is its speed?` },
    ],
    model_response: "Answer: 110",
    quality_score: 0.56,
    failure_reason: "numeric_match: off by factor",
    task_type: "math",
    task_name: "Math: word problem",
    model_name: "Qwen2.5-3B",
    model_id: "Qwen/Qwen2.5-3B-Instruct",
    node_id: "heimdall",
    gpu_id: 3,
    tokens_per_sec: 41.7,
    ...overrides,
  };
}

const stats: ReviewStats = {
  total: 3,
  by_status: { needs_review: 3, approved: 0, discarded: 0, model_rejected: 0 },
  export_ready: 0,
};

/**
 * An in-memory review API: a queue of candidates, `next` leasing the oldest nobody holds,
 * `release` giving one back, decisions that move them out (and end the lease), undo that moves
 * them back. `staleQueue` makes the queue listing keep answering with decided items, as an index
 * that has not caught up would.
 */
export function fakeApi(items: Candidate[], options: { staleQueue?: boolean } = {}) {
  const queue = [...items];
  const decided = new Map<string, Candidate>();
  const leased = new Set<string>();
  const api = {
    next: vi.fn(async (skip: readonly string[] = []): Promise<NextReply> => {
      const candidate = queue.find((item) => !leased.has(item.id) && !skip.includes(item.id)) ?? null;
      if (!candidate) return { candidate: null, lease: null };
      leased.add(candidate.id);
      return {
        candidate: { ...candidate },
        lease: {
          holder: "local-reviewer",
          holder_name: "local-reviewer",
          expires_at: "2999-01-01T00:00:00.000Z",
        },
      };
    }),
    release: vi.fn(async (id: string) => {
      if (!leased.delete(id)) throw new ApiError(409, `Candidate ${id} is not leased to you`);
      return { ok: true as const };
    }),
    queue: vi.fn(async (): Promise<QueuePage> => {
      const visible = options.staleQueue ? [...queue, ...decided.values()] : queue;
      return { items: [...visible], total: queue.length, page: 1, per_page: 20, next_cursor: null };
    }),
    submit: vi.fn(async (input: { id: string }) => {
      const index = queue.findIndex((item) => item.id === input.id);
      if (index < 0) throw new ApiError(409, `Candidate ${input.id} is discarded, not needs_review`);
      const [item] = queue.splice(index, 1);
      leased.delete(input.id);
      decided.set(input.id, item as Candidate);
      return { ok: true as const };
    }),
    undo: vi.fn(async (id: string) => {
      const item = decided.get(id);
      if (!item) throw new ApiError(409, `Candidate ${id} is already needs_review`);
      decided.delete(id);
      queue.unshift(item);
      return { ok: true as const };
    }),
    stats: vi.fn(
      async (): Promise<ReviewStats> => ({
        ...stats,
        by_status: { ...stats.by_status, needs_review: queue.length },
      }),
    ),
    runs: vi.fn(async () => []),
    importRun: vi.fn(async () => ({ imported: 0, skipped: 0 })),
    candidate: vi.fn(async (id: string) => ({ candidate: { id }, history: [] })),
    createExport: vi.fn(async (_format: string): Promise<ExportJob> => ({ id: "export-1" })),
    exportJob: vi.fn(async (_id: string): Promise<ExportJob> => ({ id: "export-1" })),
    legacyExport: vi.fn(async () => new Blob([])),
  };
  return { api: api as typeof api & ReviewApi, queue, decided, leased };
}

/** Lets pending promises and Vue's render queue settle. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((done) => setTimeout(done, 0));
}

export function press(
  key: string,
  init: KeyboardEventInit = {},
  target: EventTarget = window,
): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}

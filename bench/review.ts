import { performance } from "node:perf_hooks";
import { BatchWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { candidateItem } from "../lib/common/adapters/candidate-table.ts";
import { counterUpdate } from "../lib/common/adapters/counters.ts";
import { backoff } from "../lib/common/adapters/retry.ts";
import { type Candidate, newCandidateFromLine } from "../lib/common/domain/candidate.ts";
import { type CounterDelta, deltaForNew, mergeDeltas } from "../lib/common/domain/stats.ts";
import { lambdaContext } from "../tests/support/events.ts";
import { callApi } from "../tests/support/http-events.ts";
import type { BenchEnvironment } from "./environment.ts";
import { type Growth, growth } from "./sections.ts";

export interface LatencyRow {
  readonly stored: number;
  readonly operation: string;
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
}

const MODELS = ["Qwen2.5-3B", "Llama-3.2-3B", "Phi-3.5-mini", "gemma-2-2b"];
const TASKS = ["math", "code", "email_classification", "recipe_suggestion", "summarization"];

/** A benchmark-shaped candidate (about 1.5 KB), as the import would store it. */
function syntheticCandidate(i: number, runId: string): Candidate {
  return newCandidateFromLine(
    {
      id: `${runId}-${String(i).padStart(8, "0")}`,
      timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString(),
      prompt_messages: [
        { role: "system", content: "Solve the problem. End with 'Answer: <number>'." },
        { role: "user", content: `Problem ${i}: ${"context ".repeat(150)}` },
      ],
      model_response: `Answer: ${i * 2}`,
      quality_score: (i % 100) / 100,
      task_type: TASKS[i % TASKS.length],
      model_name: MODELS[i % MODELS.length],
    },
    {
      source: "benchmark",
      channel: "s3-upload",
      model: MODELS[i % MODELS.length] ?? null,
      captured_at: new Date().toISOString(),
      source_run_id: runId,
      key: `runs/${runId}/sft_candidates.jsonl`,
      line: i + 1,
    },
  );
}

/**
 * Stores candidates `from`..`to` directly with BatchWriteItem in the import's item shape, and
 * moves the counters once — a fast way to reach 100k stored candidates before measuring.
 */
export async function seedCandidates(env: BenchEnvironment, from: number, to: number, runId: string) {
  const deltas: CounterDelta[] = [];
  let next = from;
  const worker = async () => {
    while (next < to) {
      const start = next;
      next = Math.min(to, next + 25);
      const candidates = Array.from({ length: next - start }, (_, k) => syntheticCandidate(start + k, runId));
      deltas.push(mergeDeltas(candidates.map(deltaForNew)));
      let requests = candidates.map((c) => ({ PutRequest: { Item: candidateItem(c) } }));
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const result = await env.clients.dynamodb.send(
          new BatchWriteCommand({ RequestItems: { [env.tableName]: requests } }),
        );
        requests = (result.UnprocessedItems?.[env.tableName] as typeof requests | undefined) ?? [];
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  await env.clients.dynamodb.send(new UpdateCommand(counterUpdate(env.tableName, mergeDeltas(deltas), 0)));
}

/** Calls of each operation before any is timed. */
const WARM_UP_CALLS = 30;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function time(samples: number, operation: (i: number) => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  for (let i = 0; i < samples; i++) {
    const started = performance.now();
    await operation(i);
    durations.push(performance.now() - started);
  }
  return durations.sort((a, b) => a - b);
}

/**
 * Latency of the review API's hot paths through the real api handler (in-process, so it is the
 * handler and the store, not HTTP), with `stored` candidates in the table, `seeded` of them by
 * `seedCandidates` under `runId` (the ids decided and undone).
 */
export async function benchReviewLatency(
  env: BenchEnvironment,
  seeded: number,
  stored: number,
  runId: string,
  samples: number,
): Promise<LatencyRow[]> {
  for (const [name, value] of Object.entries({ ...env.handlerEnv, REVIEWER_TOKEN: "bench-token" })) {
    process.env[name] = value;
  }
  const { handler } = await import("../functions/api.ts");
  const context = lambdaContext("api");
  const call = async (method: string, path: string, request: Parameters<typeof callApi>[4] = {}) => {
    const reply = await callApi(handler, context, method, path, { token: "bench-token", ...request });
    if (reply.status >= 400)
      throw new Error(`${method} ${path} → ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply;
  };
  // Spread the decided ids over the whole range; every decision is undone, so any id can come again.
  const idAt = (i: number, offset = 0) => {
    const index = Math.min(seeded - 1, Math.floor(((i + 0.5) / samples) * seeded) + offset);
    return syntheticCandidate(index, runId).id;
  };
  /** `next` leases the oldest candidate; the release (untimed) puts it back, so the queue stays as seeded. */
  async function nextAndRelease(): Promise<number> {
    const started = performance.now();
    const reply = await call("POST", "/api/sft/next", { body: {} });
    const elapsed = performance.now() - started;
    const id = reply.body.candidate?.id;
    if (typeof id !== "string") throw new Error(`next found no candidate: ${JSON.stringify(reply.body)}`);
    await call("POST", "/api/sft/release", { body: { id } });
    return elapsed;
  }
  // Warm every path first (the handler's code, the emulator's caches) on ids the samples leave alone.
  for (let i = 0; i < WARM_UP_CALLS; i++) {
    await call("GET", "/api/sft/queue", { query: { per_page: "20" } });
    const body = { id: idAt(i, 1), action: "discard", failure_category: "wrong_answer" };
    await call("POST", "/api/sft/submit", { body });
    await call("POST", "/api/sft/undo", { body: { id: body.id } });
    await call("GET", "/api/sft/stats");
    await nextAndRelease();
  }

  const rows: LatencyRow[] = [];
  const record = (operation: string, durations: number[]) =>
    rows.push({
      stored,
      operation,
      samples: durations.length,
      p50: percentile(durations, 50),
      p95: percentile(durations, 95),
      p99: percentile(durations, 99),
    });
  record(
    "queue page (per_page=20)",
    await time(samples, async () => {
      await call("GET", "/api/sft/queue", { query: { per_page: "20" } });
    }),
  );
  record(
    "submit (discard)",
    await time(samples, async (i) => {
      await call("POST", "/api/sft/submit", {
        body: { id: idAt(i), action: "discard", failure_category: "wrong_answer" },
      });
    }),
  );
  record(
    "undo",
    await time(samples, async (i) => {
      await call("POST", "/api/sft/undo", { body: { id: idAt(i) } });
    }),
  );
  // Every candidate stored is queued (needs_review, nobody holds one): `next` at this queue size.
  const nextDurations: number[] = [];
  for (let i = 0; i < samples; i++) nextDurations.push(await nextAndRelease());
  record(
    "next (lease, queued = stored)",
    nextDurations.sort((a, b) => a - b),
  );
  record(
    "stats",
    await time(samples, async () => {
      await call("GET", "/api/sft/stats");
    }),
  );
  return rows;
}

/** Each operation's p50 and p99 at the largest number of stored candidates ÷ at the smallest. */
export function reviewGrowth(rows: readonly LatencyRow[]): Growth | undefined {
  const tables = [...new Set(rows.map((r) => r.operation))].map((operation) =>
    growth(
      rows.filter((r) => r.operation === operation),
      (r) => r.stored,
      [
        { name: `${operation} p50`, value: (r) => r.p50 },
        { name: `${operation} p99`, value: (r) => r.p99 },
      ],
    ),
  );
  const first = tables[0];
  if (!first) return undefined;
  return { ...first, ratios: tables.flatMap((table) => table?.ratios ?? []) };
}

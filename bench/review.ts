import { spawn } from "node:child_process";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { BatchWriteCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { candidateItem } from "../lib/common/adapters/candidate-table.ts";
import { counterUpdate } from "../lib/common/adapters/counters.ts";
import { backoff } from "../lib/common/adapters/retry.ts";
import { type Candidate, newCandidateFromLine } from "../lib/common/domain/candidate.ts";
import { type CounterDelta, deltaForNew, mergeDeltas } from "../lib/common/domain/stats.ts";
import { lambdaContext } from "../tests/support/events.ts";
import { callApi, type HttpReply, type HttpRequest } from "../tests/support/http-events.ts";
import type { BenchEnvironment } from "./environment.ts";
import type { GatewayMessage } from "./http-gateway.ts";
import { type Growth, growth } from "./sections.ts";

export interface LatencyRow {
  readonly stored: number;
  /** The in-process rows name the operation alone; those measured through the local gateway end in {@link OVER_HTTP}. */
  readonly operation: string;
  readonly samples: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /**
   * CPU time per call of every process serving it (the benchmark's own, which calls in-process
   * or is the HTTP client, and the gateway's); unlike the percentiles, barely moved by other load.
   * Absent from rows measured before it was.
   */
  readonly cpuMs?: number;
  /** The machine's 1-minute load average at the start and at the end of the size's measurement. */
  readonly loadAverage?: readonly [number, number];
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

/** How the handler is reached: called in-process with an event, or through the local gateway over loopback. */
export type ReviewTransport = "in-process" | "http";

/** The suffix of the operation of a row measured through the local gateway. */
export const OVER_HTTP = " over HTTP";

type Call = (method: string, path: string, request?: HttpRequest) => Promise<HttpReply>;

interface Caller {
  readonly transport: ReviewTransport;
  readonly call: Call;
  /** CPU time (ms) used so far by every process serving this caller's calls, the benchmark's own included. */
  cpuMs(): Promise<number>;
  stop(): Promise<void>;
}

const ownCpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

/**
 * The api handler as `transport` reaches it. In-process: called with an API Gateway v2 event.
 * Over HTTP: the local runtime's gateway (`local/http-api.ts`, as `npm start` serves it) in a
 * process of its own on 127.0.0.1 (bench/http-gateway.ts, the same handler and table), called with
 * Node's `fetch`, whose global undici agent keeps the connection alive: the calls are sequential,
 * so they all go over one socket.
 */
async function reviewCaller(
  transport: ReviewTransport,
  env: Record<string, string>,
  token: string,
): Promise<Caller> {
  if (transport === "in-process") {
    const { handler } = await import("../functions/api.ts");
    const context = lambdaContext("api");
    return {
      transport,
      call: (method, path, request = {}) => callApi(handler, context, method, path, { token, ...request }),
      cpuMs: async () => ownCpuMs(),
      stop: async () => {},
    };
  }
  const gateway = spawn(process.execPath, ["--import", "tsx", join(import.meta.dirname, "http-gateway.ts")], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const nextMessage = () =>
    new Promise<GatewayMessage>((done, fail) => {
      const exited = (code: number | null) => fail(new Error(`the gateway process exited (${code})`));
      gateway.once("exit", exited);
      gateway.once("message", (message) => {
        gateway.off("exit", exited);
        done(message as GatewayMessage);
      });
    });
  const { url } = await nextMessage();
  if (!url) throw new Error("the gateway process sent no URL");
  return {
    transport,
    call: async (method, path, request = {}) => {
      const query = new URLSearchParams(request.query ?? {}).toString();
      const response = await fetch(`${url}${path}${query ? `?${query}` : ""}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(request.body !== undefined ? { "content-type": "application/json" } : {}),
        },
        ...(request.body !== undefined ? { body: JSON.stringify(request.body) } : {}),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    cpuMs: async () => {
      const own = ownCpuMs();
      const reply = nextMessage();
      gateway.send("cpu");
      return own + ((await reply).cpuMicros ?? Number.NaN) / 1000;
    },
    stop: async () => {
      const exited = new Promise((done) => gateway.once("exit", done));
      gateway.disconnect();
      await exited;
    },
  };
}

/** Calls of each operation before any is timed. */
const WARM_UP_CALLS = 30;

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/**
 * Latency of the review API's hot paths through the real api handler, with `stored` candidates in
 * the table, `seeded` of them by `seedCandidates` under `runId` (the ids decided and undone). Each
 * transport measures the same operations; their samples are interleaved (sample i in-process, then
 * sample i over HTTP), so both see the same moment of a shared machine. Each transport decides
 * ids of its own, spread over the whole range.
 */
export async function benchReviewLatency(
  env: BenchEnvironment,
  seeded: number,
  stored: number,
  runId: string,
  samples: number,
  transports: readonly ReviewTransport[] = ["in-process"],
): Promise<LatencyRow[]> {
  if (seeded < samples * transports.length) {
    throw new Error(
      `review: ${transports.length} × ${samples} samples need ${samples * transports.length} seeded candidates`,
    );
  }
  const handlerEnv = { ...env.handlerEnv, REVIEWER_TOKEN: "bench-token" };
  for (const [name, value] of Object.entries(handlerEnv)) process.env[name] = value;
  const callers: Caller[] = [];
  try {
    for (const transport of transports)
      callers.push(await reviewCaller(transport, handlerEnv, "bench-token"));
    const loadAtStart = loadavg()[0] as number;
    const rows = await measure(callers, seeded, stored, runId, samples);
    const loadAverage = [loadAtStart, loadavg()[0] as number] as const;
    return rows.map((row) => ({ ...row, loadAverage }));
  } finally {
    await Promise.all(callers.map((caller) => caller.stop()));
  }
}

async function measure(
  callers: readonly Caller[],
  seeded: number,
  stored: number,
  runId: string,
  samples: number,
): Promise<LatencyRow[]> {
  const checked =
    (caller: Caller) =>
    async (method: string, path: string, request: HttpRequest = {}) => {
      const reply = await caller.call(method, path, request);
      if (reply.status >= 400)
        throw new Error(`${method} ${path} → ${reply.status} ${JSON.stringify(reply.body)}`);
      return reply;
    };
  // Spread the decided ids over the whole range; every decision is undone, so any id can come again.
  // Transport k decides the k-th id after the spread one (sample i's ids start at i × seeded ÷
  // samples, at least as many apart as there are transports), so no two decide the same id.
  const idAt = (i: number, offset = 0) => {
    const index = Math.min(seeded - 1, Math.floor((i * seeded) / samples) + offset);
    return syntheticCandidate(index, runId).id;
  };
  /** `next` leases the oldest candidate; the release (untimed) puts it back, so the queue stays as seeded. */
  async function nextAndRelease(call: ReturnType<typeof checked>): Promise<number> {
    const started = performance.now();
    const reply = await call("POST", "/api/sft/next", { body: {} });
    const elapsed = performance.now() - started;
    const id = reply.body.candidate?.id;
    if (typeof id !== "string") throw new Error(`next found no candidate: ${JSON.stringify(reply.body)}`);
    await call("POST", "/api/sft/release", { body: { id } });
    return elapsed;
  }
  // Warm every path first (the handler's code, the emulator's caches) on ids the samples leave alone
  // or undo.
  for (const caller of callers) {
    const call = checked(caller);
    for (let i = 0; i < WARM_UP_CALLS; i++) {
      await call("GET", "/api/sft/queue", { query: { per_page: "20" } });
      const body = { id: idAt(i, callers.length), action: "discard", failure_category: "wrong_answer" };
      await call("POST", "/api/sft/submit", { body });
      await call("POST", "/api/sft/undo", { body: { id: body.id } });
      await call("GET", "/api/sft/stats");
      await nextAndRelease(call);
    }
  }

  const rows: LatencyRow[] = [];
  /**
   * Sample i of each transport in turn; `operation` returns the time it measured itself, or
   * nothing to be timed whole. CPU is what every process serving the calls used, per call.
   */
  const record = async (
    operation: string,
    run: (call: ReturnType<typeof checked>, i: number, k: number) => Promise<number | undefined>,
  ) => {
    const durations = callers.map(() => [] as number[]);
    const cpu = callers.map(() => 0);
    for (let i = 0; i < samples; i++) {
      for (const [k, caller] of callers.entries()) {
        const cpuBefore = await caller.cpuMs();
        const started = performance.now();
        const measured = await run(checked(caller), i, k);
        durations[k]?.push(measured ?? performance.now() - started);
        cpu[k] = (cpu[k] ?? 0) + (await caller.cpuMs()) - cpuBefore;
      }
    }
    for (const [k, caller] of callers.entries()) {
      const sorted = (durations[k] ?? []).sort((a, b) => a - b);
      rows.push({
        stored,
        operation: `${operation}${caller.transport === "http" ? OVER_HTTP : ""}`,
        samples: sorted.length,
        p50: percentile(sorted, 50),
        p95: percentile(sorted, 95),
        p99: percentile(sorted, 99),
        cpuMs: (cpu[k] ?? 0) / samples,
      });
    }
  };
  await record("queue page (per_page=20)", async (call) => {
    await call("GET", "/api/sft/queue", { query: { per_page: "20" } });
    return undefined;
  });
  await record("submit (discard)", async (call, i, k) => {
    await call("POST", "/api/sft/submit", {
      body: { id: idAt(i, k), action: "discard", failure_category: "wrong_answer" },
    });
    return undefined;
  });
  await record("undo", async (call, i, k) => {
    await call("POST", "/api/sft/undo", { body: { id: idAt(i, k) } });
    return undefined;
  });
  // Every candidate stored is queued (needs_review, nobody holds one): `next` at this queue size.
  await record("next (lease, queued = stored)", (call) => nextAndRelease(call));
  await record("stats", async (call) => {
    await call("GET", "/api/sft/stats");
    return undefined;
  });
  return rows;
}

/** Each operation's in-process p50 and p99 at the largest number of stored candidates ÷ at the smallest. */
export function reviewGrowth(rows: readonly LatencyRow[]): Growth | undefined {
  // In-process only: the sizes measured over HTTP need not reach the largest in-process size.
  const operations = rows.map((r) => r.operation).filter((operation) => !operation.endsWith(OVER_HTTP));
  const tables = [...new Set(operations)].map((operation) =>
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

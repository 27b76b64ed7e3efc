import { performance } from "node:perf_hooks";
import { lambdaContext } from "../tests/support/events.ts";
import { callApi } from "../tests/support/http-events.ts";
import type { BenchEnvironment } from "./environment.ts";
import { seedCandidates } from "./review.ts";
import { growth, measuredBy, renderGrowth, type Section } from "./sections.ts";

/** A bulk job's throughput at one size: its run, then its undo, batch by batch through the api handler. */
export interface BulkRow {
  /** Candidates of the run the bulk discards (all of them match). */
  readonly candidates: number;
  /** Candidates stored in the table when measured (the run's and every other section's before it). */
  readonly stored: number;
  /** `discard` (the job's run) or `undo`. */
  readonly operation: string;
  readonly changed: number;
  readonly skipped: number;
  readonly batches: number;
  readonly seconds: number;
  readonly perSecond: number;
}

export const bulkRowKey = (row: BulkRow) => row.candidates * 10 + (row.operation === "undo" ? 1 : 0);

/** The batch size each call asks for: the most a call decides. */
const BATCH = 200;

/**
 * Seeds a run of `candidates` waiting candidates (`bench-bulk-<n>`), creates a bulk discard of the
 * run, works it with `POST /api/sft/bulk/{id}/run` until it is done, then undoes it with
 * `/undo` until it is undone, timing each phase: candidates changed per second. Each candidate is
 * its own conditional transaction, so the figure is per-candidate work, flat in the run's size.
 */
export async function benchBulk(
  env: BenchEnvironment,
  candidates: number,
  stored: number,
  /** Waiting candidates of another run already stored, all older than the bulk's run: its lines come after theirs. */
  others = 0,
): Promise<BulkRow[]> {
  for (const [name, value] of Object.entries({ ...env.handlerEnv, REVIEWER_TOKEN: "bench-token" })) {
    process.env[name] = value;
  }
  const { handler } = await import("../functions/api.ts");
  const context = lambdaContext("api");
  const call = async (method: string, path: string, body: Record<string, unknown>) => {
    const reply = await callApi(handler, context, method, path, { token: "bench-token", body });
    if (reply.status >= 400)
      throw new Error(`${method} ${path} → ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body as Record<string, unknown>;
  };
  const runId = `bench-bulk-${candidates}`;
  await seedCandidates(env, others, others + candidates, runId);
  // The count a dry run makes walks what a batch walks, without deciding anything.
  const counting = performance.now();
  const count = await call("POST", "/api/sft/bulk", { action: "discard", run_id: runId, dry_run: true });
  console.log(`  count: ${count.matched} matched in ${((performance.now() - counting) / 1000).toFixed(2)} s`);
  const job = await call("POST", "/api/sft/bulk", {
    action: "discard",
    failure_category: "wrong_answer",
    run_id: runId,
  });
  const id = String(job.id);

  const work = async (step: "run" | "undo", until: string): Promise<BulkRow> => {
    let batches = 0;
    let state: Record<string, unknown> = job;
    const started = performance.now();
    while (state.state !== until) {
      state = await call("POST", `/api/sft/bulk/${id}/${step}`, { limit: BATCH });
      batches++;
    }
    const seconds = (performance.now() - started) / 1000;
    const changed = Number(step === "run" ? state.decided : state.undone);
    return {
      candidates,
      stored,
      operation: step === "run" ? "discard" : "undo",
      changed,
      skipped: Number(step === "run" ? state.skipped : state.undo_skipped),
      batches,
      seconds,
      perSecond: changed / seconds,
    };
  };
  const run = await work("run", "done");
  const undo = await work("undo", "undone");
  return [run, undo];
}

export function renderBulkSection(value: unknown): string[] {
  const bulk = value as Section<BulkRow> | undefined;
  if (!bulk) return [];
  const discards = bulk.rows.filter((r) => r.operation === "discard");
  return [
    "## Bulk decisions",
    "",
    ...measuredBy(bulk, (r) => r.candidates),
    `A run of generated candidates discarded by one bulk job and then undone, through the api handler in process, ${BATCH} per call;`,
    "each candidate is its own conditional transaction (status, version, lease), with its history event, marker and counter shard.",
    "",
    "| run candidates | stored | operation | changed | skipped | calls | seconds | candidates/s |",
    "|---:|---:|---|---:|---:|---:|---:|---:|",
    ...bulk.rows.map(
      (r) =>
        `| ${r.candidates} | ${r.stored} | ${r.operation} | ${r.changed} | ${r.skipped} | ${r.batches} | ${r.seconds.toFixed(1)} | ${r.perSecond.toFixed(0)} |`,
    ),
    "",
    ...renderGrowth(
      growth(discards, (r) => r.candidates, [{ name: "discard candidates/s", value: (r) => r.perSecond }]),
      "run candidates",
      "flat is 1.00",
    ),
  ];
}

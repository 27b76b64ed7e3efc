import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeleteObjectCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { BatchWriteCommand } from "@aws-sdk/lib-dynamodb";
import { Upload } from "@aws-sdk/lib-storage";
import { candidateItem } from "../lib/common/adapters/candidate-table.ts";
import { backoff } from "../lib/common/adapters/retry.ts";
import { type Candidate, FAILURE_CATEGORIES } from "../lib/common/domain/candidate.ts";
import { ExportJobTable } from "../lib/exports/adapters/export-job-table.ts";
import { newExportJob } from "../lib/exports/domain/export-job.ts";
import { type ExportFormat, ExportRequest } from "../lib/exports/domain/export-request.ts";
import { bundleFunction } from "./bundle.ts";
import type { BenchEnvironment } from "./environment.ts";
import { growth, type Metric, measuredBy, renderGrowth, type Section } from "./sections.ts";
import { runWorker } from "./worker.ts";

/**
 * `plain`: the export as it always ran; `decontamination`: against a registered eval set with the
 * near-duplicate check on; `forced-deadline`: the decontamination export with a short invocation
 * time, so it goes on across several invocations — its dataset's sha256 must be the
 * uninterrupted one's.
 */
export const EXPORT_VARIANTS = ["plain", "decontamination", "forced-deadline"] as const;
export type ExportVariant = (typeof EXPORT_VARIANTS)[number];

export interface ExportResult {
  readonly approved: number;
  /** Absent on rows measured before variants existed: `plain`. */
  readonly variant?: ExportVariant;
  /** Items in the registered eval set (decontamination and forced-deadline). */
  readonly evalItems?: number;
  readonly format: ExportFormat;
  readonly considered: number;
  readonly exported: number;
  readonly quarantined: number;
  readonly datasetMb: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  readonly sha256Verified: boolean;
  /** The dataset's sha256 as the manifest has it. */
  readonly sha256?: string;
  /** Invocations the export took (its own continuations included). */
  readonly invocations?: number;
  /** `forced-deadline` only: the dataset's sha256 equals the uninterrupted export's. */
  readonly sameAsUninterrupted?: boolean;
  readonly nearDuplicates?: number;
  readonly contaminated?: number;
}

/** One row per size and variant in the results. */
export const exportRowKey = (row: ExportResult) =>
  row.approved * 10 + EXPORT_VARIANTS.indexOf(row.variant ?? "plain");

/** Cost per record as the export grows (the target is a ratio near 1). */
export const EXPORT_GROWTH: Metric<ExportResult>[] = [
  { name: "seconds per 1,000 records", value: (r) => (r.seconds * 1000) / Math.max(1, r.considered) },
  { name: "peak RSS", value: (r) => r.peakRssMb },
];

export const EXPORT_BENCH_RUN = "bench-export";
const MODELS = ["Qwen2.5-3B", "Llama-3.2-3B", "Phi-3.5-mini", "gemma-2-2b"];

/** Word `k` of text `seed`: a deterministic pick among 4,096 made-up words. */
function word(seed: number, k: number): string {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(k + 1, 0xc2b2ae35);
  h ^= h >>> 15;
  h = Math.imul(h, 0x2c1b3c6d);
  h ^= h >>> 12;
  const n = (h >>> 0) % 4096;
  return `${"bcdfghjklmnprstv"[n % 16]}${"aeiou"[(n >> 4) % 5]}${"lmnrst"[(n >> 7) % 6]}${"aeiouy"[(n >> 9) % 6]}${n >> 11}`;
}

/** `count` words of text `seed`. */
export function benchWords(seed: number, count: number, from = 0): string {
  return Array.from({ length: count }, (_, k) => word(seed, from + k)).join(" ");
}

/** Eval item `n` of the benchmark's registered set: 30 words of its own. */
export const evalItemText = (n: number) => benchWords(1_000_000_000 + n, 30);

/**
 * What candidate `i` says: 60 words of its own, except every 100th repeats the one before (an
 * exact duplicate), every 97th changes one word of it (a near-duplicate), and every 89th quotes an
 * item of the eval set (contamination).
 */
function problemText(i: number, evalItems: number): string {
  const base = i % 100 === 0 || i % 97 === 0 ? Math.max(0, i - 1) : i;
  let text = `Problem ${base}: ${benchWords(base, 60)}`;
  if (i % 97 === 0 && i % 100 !== 0) text = `${text.replace(/ \S+$/, "")} changed`;
  if (i % 89 === 0 && evalItems > 0) text = `${text} ${evalItemText(i % evalItems)}`;
  return text;
}

/** A reviewed candidate as the store holds it once approved: about 1 KB with its provenance. */
function approvedCandidate(i: number, evalItems: number): Candidate {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1_000).toISOString();
  const model = MODELS[i % MODELS.length] as string;
  const base = i % 100 === 0 || i % 97 === 0 ? Math.max(0, i - 1) : i;
  return {
    id: `${EXPORT_BENCH_RUN}-${String(i).padStart(8, "0")}`,
    source: "cf-orch-benchmark",
    timestamp: at,
    status: "approved",
    prompt_messages: [
      { role: "system", content: "Solve the problem. End with 'Answer: <number>'." },
      { role: "user", content: problemText(i, evalItems) },
    ],
    model_response: `Answer: ${i * 2}`,
    corrected_response: `Answer: ${base}`,
    failure_category: FAILURE_CATEGORIES[i % FAILURE_CATEGORIES.length] ?? null,
    task_type: "math",
    model_name: model,
    version: 2,
    provenance: {
      source: "benchmark",
      channel: "s3-upload",
      model,
      captured_at: at,
      source_run_id: EXPORT_BENCH_RUN,
      key: `runs/${EXPORT_BENCH_RUN}/sft_candidates.jsonl`,
      line: i + 1,
      approved: true,
      approved_by: "bench@example.com",
      approved_at: at,
    } as Candidate["provenance"],
  };
}

/** Stores approved candidates `from`..`to` in the import's item shape, 25 per BatchWriteItem. */
export async function seedApproved(
  env: BenchEnvironment,
  from: number,
  to: number,
  evalItems = 0,
): Promise<void> {
  let next = from;
  const worker = async () => {
    while (next < to) {
      const start = next;
      next = Math.min(to, next + 25);
      let requests = Array.from({ length: next - start }, (_, k) => ({
        PutRequest: { Item: candidateItem(approvedCandidate(start + k, evalItems)) },
      }));
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
}

const EVAL_SET_KEY = "evalsets/bench/items.jsonl";

/** Takes the benchmark's eval set away: the plain export runs as a deployment without one does. */
export async function unregisterEvalSet(env: BenchEnvironment): Promise<void> {
  await env.clients.s3.send(new DeleteObjectCommand({ Bucket: env.bucket, Key: EVAL_SET_KEY }));
}

/** Registers the benchmark's eval set: `evalsets/bench/items.jsonl`, one question a line. */
export async function registerEvalSet(env: BenchEnvironment, items: number): Promise<void> {
  const lines = Array.from({ length: items }, (_, n) =>
    JSON.stringify({ id: `bench-${n}`, question: evalItemText(n), answer: `${n}` }),
  );
  // A multipart upload, as a large set would be uploaded: one PUT of 100,000 items is more than
  // the emulated bucket takes in a single request.
  await new Upload({
    client: env.clients.s3,
    params: {
      Bucket: env.bucket,
      Key: EVAL_SET_KEY,
      Body: Buffer.from(`${lines.join("\n")}\n`),
      ContentType: "application/x-ndjson",
    },
  }).done();
}

let workerBundle: Promise<string> | undefined;
/**
 * bench/export-worker.ts with the export handler bundled as the stack bundles the function
 * (esbuild, ESM, minified), built once: the worker runs under Node alone, so its peak memory is
 * the handler's, not tsx's or a second copy of the SDK's.
 */
function exportWorkerBundle(): Promise<string> {
  workerBundle ??= bundleFunction(
    join(import.meta.dirname, "export-worker.ts"),
    join(mkdtempSync(join(tmpdir(), "flywheel-bench-export-")), "export-worker.mjs"),
  );
  return workerBundle;
}

/**
 * Exports the `approved` seeded candidates with the real export handler in a child process (its
 * peak memory is the export's own), following the continuations it sends itself, then checks the
 * dataset's sha256 against the manifest. `decontamination` and `forced-deadline` check against
 * the registered eval set with near-duplicates on; `forced-deadline` gives each invocation
 * `invocationSeconds` before its deadline.
 */
export async function benchExport(
  env: BenchEnvironment,
  approved: number,
  options: {
    format?: ExportFormat;
    variant?: ExportVariant;
    evalItems?: number;
    invocationSeconds?: number;
    uninterrupted?: string;
  } = {},
): Promise<ExportResult> {
  const { format = "openai-sft", variant = "plain" } = options;
  const jobs = new ExportJobTable(env.clients.dynamodb, env.tableName);
  const checked = variant !== "plain";
  const job = newExportJob({
    id: `bench-${approved}-${variant}-${Date.now()}`,
    request: ExportRequest.parse({
      format,
      filters: { statuses: ["approved"], run_id: EXPORT_BENCH_RUN },
      ...(checked ? { options: { near_duplicate_threshold: 0.8 } } : {}),
    }),
    origin: "api",
    requestedBy: "bench",
    at: new Date(),
  });
  await jobs.create(job);
  const forced = variant === "forced-deadline" ? [String(options.invocationSeconds ?? 60)] : [];
  const measured = (await runWorker(await exportWorkerBundle(), [job.id, ...forced], {
    ...env.handlerEnv,
    // The function's own queue: an export that runs short of time hands the rest on through it.
    EXPORTS_QUEUE_URL: env.resources.queues.exports.url,
  })) as Awaited<ReturnType<typeof runWorker>> & { invocations?: number };
  const done = await jobs.get(job.id);
  const manifest = done?.manifest;
  if (!manifest) throw new Error(`export ${job.id} ended ${done?.status}: ${done?.error}`);

  const object = await env.clients.s3.send(
    new GetObjectCommand({ Bucket: env.bucket, Key: manifest.files.dataset.key }),
  );
  const hash = createHash("sha256");
  for await (const chunk of object.Body as AsyncIterable<Uint8Array>) hash.update(chunk);
  const seconds = measured.durationMs / 1000;
  const sha256 = hash.digest("hex");
  return {
    approved,
    variant,
    ...(checked ? { evalItems: options.evalItems ?? 0 } : {}),
    format,
    considered: manifest.counts.considered,
    exported: manifest.counts.exported,
    quarantined: manifest.counts.quarantined,
    datasetMb: manifest.files.dataset.bytes / 1024 / 1024,
    seconds,
    recordsPerSecond: manifest.counts.considered / seconds,
    peakRssMb: measured.maxRssMb,
    peakHeapMb: measured.heapPeakMb,
    sha256Verified: sha256 === manifest.files.dataset.sha256,
    sha256,
    invocations: measured.invocations ?? 1,
    ...(variant === "forced-deadline" ? { sameAsUninterrupted: sha256 === options.uninterrupted } : {}),
    nearDuplicates: manifest.counts.by_reason.near_duplicate ?? 0,
    contaminated: manifest.counts.by_reason.eval_contamination ?? 0,
  };
}

const fixed = (value: number, digits = 0) => value.toFixed(digits);

/** Matches the manifest; for a forced-deadline row, also the uninterrupted export's. */
function shaCell(row: ExportResult): string {
  if (!row.sha256Verified) return "MISMATCH with the manifest";
  if (row.sameAsUninterrupted === undefined) return "matches";
  return row.sameAsUninterrupted ? "matches, = uninterrupted" : "DIFFERS from uninterrupted";
}

/** The report's export section. */
export function renderExportSection(section: unknown): string[] {
  const exports = section as Section<ExportResult> | undefined;
  if (!exports?.rows?.length) return [];
  return [
    "## Export",
    "",
    ...measuredBy(exports, (r) => r.approved),
    "Approved candidates (about 1 KB each) seeded in the",
    "import's item shape, then exported by the real export handler in a child process from one SQS message",
    "(the handler and its driver bundled as the stack bundles the function — esbuild, ESM, minified — and run by Node alone):",
    "read through the status index's approved partitions (4 shards merged in order), screened by the",
    "firewall, every line validated, streamed to S3 as multipart uploads. Records/s counts candidates",
    "considered; peak memory is the export process's own RSS high-water mark (`VmHWM`); the dataset's sha256 is checked against",
    "the manifest after the run. Pages, batches and upload parts are bounded; what grows with the count",
    "is the table of duplicate fingerprints (12 bytes a slot, at most half full: 24 MB at a million) and,",
    "with near-duplicates on, the MinHash signatures and band tables (about 200 bytes a record: some 210 MB",
    "at a million). Target at a million with decontamination and near-duplicates: at least half the plain",
    "export's records/s, peak RSS under 512 MB.",
    "",
    "Variants: *plain*; *decontamination* — against a registered eval set (`evalsets/bench/`, the",
    "eval items column) with near-duplicates on (threshold 0.8); every 100th candidate repeats the one",
    "before, every 97th changes one word of it, every 89th quotes an eval item; *forced-deadline* —",
    "the decontamination export with a short invocation time, going on across invocations through",
    "its own queue; its dataset must have the sha256 of the uninterrupted decontamination export.",
    "",
    "| approved | variant | eval items | format | exported | quarantined | near-dup | contaminated | dataset MB | seconds | records/s | peak RSS MB | peak heap MB | invocations | sha256 |",
    "|---:|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ...exports.rows.map(
      (r) =>
        `| ${r.approved} | ${r.variant ?? "plain"} | ${r.evalItems ?? "–"} | ${r.format} | ${r.exported} | ${r.quarantined} | ${r.nearDuplicates ?? "–"} | ${r.contaminated ?? "–"} | ${fixed(r.datasetMb, 1)} | ${fixed(r.seconds, 1)} | ${fixed(r.recordsPerSecond)} | ${fixed(r.peakRssMb)} | ${fixed(r.peakHeapMb)} | ${r.invocations ?? 1} | ${shaCell(r)} |`,
    ),
    "",
    ...renderGrowth(
      growth(
        exports.rows.filter((r) => (r.variant ?? "plain") === "plain"),
        (r) => r.approved,
        EXPORT_GROWTH,
      ),
      "approved records",
      "flat is 1.00; the fingerprint table is the one part that grows",
    ),
  ];
}

import { createHash } from "node:crypto";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, type Message, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { Upload } from "@aws-sdk/lib-storage";
import { keys } from "../lib/common/adapters/table-keys.ts";
import { continuationIn } from "../lib/import/domain/continuation.ts";
import { writeRun } from "../samples/generate-run.ts";
import { s3NotificationBody } from "../tests/support/events.ts";
import type { BenchEnvironment } from "./environment.ts";
import { type Metric, measuredBy, type Section } from "./sections.ts";
import { runWorker, type WorkerMeasure } from "./worker.ts";

/** Cost per candidate as the run grows (the target is a ratio near 1). */
export const IMPORT_GROWTH: Metric<ImportResult>[] = [
  { name: "seconds per 1,000 candidates", value: (r) => (r.seconds * 1000) / Math.max(1, r.imported) },
  { name: "peak RSS", value: (r) => r.peakRssMb },
  { name: "write units per candidate", value: (r) => r.writeUnitsPerCandidate },
];

/** The old-space limit of the import process, about what a 1 GB Lambda function gets. */
export const IMPORT_HEAP_LIMIT_MB = 256;

export interface ImportResult {
  readonly lines: number;
  readonly imported: number;
  readonly quarantined: number;
  readonly fileMb: number;
  readonly seconds: number;
  readonly candidatesPerSecond: number;
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  readonly writeUnitsPerCandidate: number;
  readonly readUnitsPerCandidate: number;
  readonly itemKb: number;
  readonly floorWriteUnitsPerCandidate: number;
}

/**
 * Generates a run of `count` lines with the sample run generator, uploads it, and imports it
 * with the real handler in a child process (its peak RSS is the import's own).
 */
export async function benchImport(env: BenchEnvironment, count: number): Promise<ImportResult> {
  const dir = mkdtempSync(join(tmpdir(), "flywheel-bench-"));
  const runId = `bench-${count}-${Date.now()}`;
  try {
    const run = await uploadRun(env, dir, count, runId);
    const measured = await runWorker(
      "import-worker.ts",
      ["--body", s3NotificationBody(env.bucket, run.key, { eTag: run.eTag })],
      env.handlerEnv,
      IMPORT_NODE_FLAGS,
    );
    const record = await readRunRecord(env, runId);
    const itemKb = await averageItemKb(env, runId, record.counts.lines);
    // One write per KB for the item, and again for each of the two indexes that project it.
    const floor = Math.ceil(itemKb) * 3;
    return {
      lines: record.counts.lines,
      imported: record.counts.imported,
      quarantined: record.counts.quarantined,
      fileMb: run.bytes / 1024 / 1024,
      seconds: measured.durationMs / 1000,
      candidatesPerSecond: record.counts.imported / (measured.durationMs / 1000),
      peakRssMb: measured.maxRssMb,
      peakHeapMb: measured.heapPeakMb,
      writeUnitsPerCandidate: record.capacity.write_units / Math.max(1, record.counts.imported),
      readUnitsPerCandidate: record.capacity.read_units / Math.max(1, record.counts.imported),
      itemKb,
      floorWriteUnitsPerCandidate: floor,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The share of the uninterrupted import's time an invocation gets with the deadline in force: a
 * quarter, so the run takes four invocations or five (the last finishing what the others left),
 * whatever the machine's speed.
 */
export const DEADLINE_BUDGET_SHARE = 1 / 4;

/** Invocations after which an import with the deadline in force counts as never finishing. */
const MAX_DEADLINE_INVOCATIONS = 50;

export interface DeadlineImportResult {
  readonly lines: number;
  readonly imported: number;
  readonly quarantined: number;
  readonly invocations: number;
  /** The time each invocation works before it checkpoints: what its context says is left, less the reserve. */
  readonly budgetSeconds: number;
  /** The invocations' durations, added up (not the process starts between them). */
  readonly seconds: number;
  readonly invocationSeconds: readonly number[];
  readonly candidatesPerSecond: number;
  /** The highest peak RSS of any invocation. */
  readonly peakRssMb: number;
  readonly peakHeapMb: number;
  /** The uninterrupted import of the same size that this one is compared with. */
  readonly uninterruptedSeconds: number;
  /** Lines, imported and quarantined equal the uninterrupted import's (the benchmark fails otherwise). */
  readonly countsMatch: boolean;
  /** The run record's SHA-256, carried across invocations in the checkpoint, is the file's. */
  readonly sha256Matches: boolean;
  /** The joined quarantine object holds one entry per quarantined line, with the counted reasons. */
  readonly quarantineMatches: boolean;
}

/**
 * Imports a run of `count` lines (the generator's seed, so the lines, bad lines and repeats of the
 * uninterrupted run; a new run id) with the function's deadline in force: the handler is given the
 * run-uploads queue, and each invocation's context leaves it `budgetMs` before its reserve, so it
 * checkpoints and sends a continuation there. Each continuation is received, deleted and delivered to
 * a new worker process (a new invocation) until the import finishes. Throws when the counts differ
 * from `uninterrupted`'s, or the import did not finish, hand on, hash or quarantine as it should.
 */
export async function benchImportWithDeadline(
  env: BenchEnvironment,
  count: number,
  uninterrupted: ImportResult,
  budgetMs = Math.round(uninterrupted.seconds * 1000 * DEADLINE_BUDGET_SHARE),
): Promise<DeadlineImportResult> {
  const queueUrl = env.resources.queues.runUploads.url;
  const dir = mkdtempSync(join(tmpdir(), "flywheel-bench-"));
  const runId = `bench-${count}-deadline-${Date.now()}`;
  try {
    const stale = await drainQueue(env, queueUrl);
    if (stale > 0) console.log(`  drained ${stale} earlier message(s) from the run-uploads queue`);
    const run = await uploadRun(env, dir, count, runId);
    const handlerEnv = { ...env.handlerEnv, RUN_UPLOADS_QUEUE_URL: queueUrl };
    const measures: WorkerMeasure[] = [];
    let body: string | null = s3NotificationBody(env.bucket, run.key, { eTag: run.eTag });
    while (body !== null) {
      if (measures.length >= MAX_DEADLINE_INVOCATIONS) {
        throw new Error(`import of ${runId} still unfinished after ${measures.length} invocations`);
      }
      const measure = await runWorker(
        "import-worker.ts",
        ["--body", body, "--budget-ms", String(budgetMs)],
        handlerEnv,
        IMPORT_NODE_FLAGS,
      );
      measures.push(measure);
      const record = await readRunRecord(env, runId);
      body = await nextContinuation(env, queueUrl, run.key, record.state === "completed");
      console.log(
        `  invocation ${measures.length}: ${(measure.durationMs / 1000).toFixed(1)} s, ${record.lines_read ?? 0} lines read, peak RSS ${measure.maxRssMb.toFixed(0)} MB${body ? ", handed on" : ", finished"}`,
      );
    }
    const record = await readRunRecord(env, runId);
    const counts = record.counts;
    const invocations = measures.length;
    if (record.state !== "completed") throw new Error(`import of ${runId} ended ${record.state}`);
    if (record.invocations !== invocations) {
      throw new Error(
        `the run record of ${runId} counts ${record.invocations} invocations, not ${invocations}`,
      );
    }
    const countsMatch =
      counts.lines === uninterrupted.lines &&
      counts.imported === uninterrupted.imported &&
      counts.quarantined === uninterrupted.quarantined;
    if (!countsMatch) {
      throw new Error(
        `the import with the deadline in force counted ${counts.lines} lines, ${counts.imported} imported, ${counts.quarantined} quarantined over ${invocations} invocations; uninterrupted: ${uninterrupted.lines}, ${uninterrupted.imported}, ${uninterrupted.quarantined}`,
      );
    }
    const sha256Matches = record.sha256 === (await sha256Of(run.file));
    if (!sha256Matches) throw new Error(`the run record of ${runId} has a SHA-256 other than its file's`);
    const quarantineMatches = await quarantineHolds(env, record.quarantine_key, counts);
    if (!quarantineMatches) {
      throw new Error(
        `the quarantine of ${runId} (${record.quarantine_key}) does not hold one entry per quarantined line (${counts.quarantined})`,
      );
    }
    if (invocations < 2) {
      throw new Error(
        `a budget of ${budgetMs} ms let ${runId} finish in one invocation: no deadline was in force`,
      );
    }
    const durationMs = measures.reduce((sum, m) => sum + m.durationMs, 0);
    return {
      lines: counts.lines,
      imported: counts.imported,
      quarantined: counts.quarantined,
      invocations,
      budgetSeconds: budgetMs / 1000,
      seconds: durationMs / 1000,
      invocationSeconds: measures.map((m) => m.durationMs / 1000),
      candidatesPerSecond: counts.imported / (durationMs / 1000),
      peakRssMb: Math.max(...measures.map((m) => m.maxRssMb)),
      peakHeapMb: Math.max(...measures.map((m) => m.heapPeakMb)),
      uninterruptedSeconds: uninterrupted.seconds,
      countsMatch,
      sha256Matches,
      quarantineMatches,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Renders the deadline rows as a subsection of the report's Import section. */
export function renderDeadlineImportSection(section: unknown): string[] {
  const deadline = section as Section<DeadlineImportResult> | undefined;
  if (!deadline?.rows?.length) return [];
  const fixed = (value: number, digits = 0) => value.toFixed(digits);
  const yes = (ok: boolean) => (ok ? "yes" : "NO");
  return [
    "### With the deadline in force",
    "",
    ...measuredBy(deadline, (r) => r.lines),
    "The largest run again, generated with the same seed (the same lines, bad lines and repeats; a new",
    "run id), imported as Lambda runs it with its timeout: the handler has the run-uploads queue, and each",
    "invocation's context reports the import's 90 s reserve plus a budget minus the time elapsed, so an",
    "invocation reads for about the budget, settles its chunks, saves a checkpoint on the run record and",
    "sends a continuation to the queue. The benchmark receives that message (the queue drained before,",
    "so only this run's continuations are on it), deletes it and delivers it to a new worker process, a new",
    "invocation, until the import finishes. The budget is a quarter of the uninterrupted import's time at",
    "that size, so a run takes four or five invocations on any machine. Seconds add up the invocations",
    "(not the process starts between them); peak RSS is the highest of any invocation. Same counts",
    "compares lines, imported and quarantined with the uninterrupted row above, and the benchmark fails",
    "when they differ; it also checks the run's SHA-256 (its hash state rides in the checkpoint) against",
    "the file's, and that the quarantine object joined from the invocations' parts holds one entry per",
    "quarantined line with the reasons the run record counts.",
    "",
    "| lines | imported | quarantined | invocations | budget s | seconds | s per invocation | candidates/s | uninterrupted s | peak RSS MB | peak heap MB | same counts | SHA-256 | quarantine |",
    "|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|---|",
    ...deadline.rows.map(
      (r) =>
        `| ${r.lines} | ${r.imported} | ${r.quarantined} | ${r.invocations} | ${fixed(r.budgetSeconds, 1)} | ${fixed(r.seconds, 1)} | ${r.invocationSeconds.map((s) => fixed(s, 1)).join(", ")} | ${fixed(r.candidatesPerSecond)} | ${fixed(r.uninterruptedSeconds, 1)} | ${fixed(r.peakRssMb)} | ${fixed(r.peakHeapMb)} | ${yes(r.countsMatch)} | ${yes(r.sha256Matches)} | ${yes(r.quarantineMatches)} |`,
    ),
    "",
  ];
}

/**
 * V8 sizes its heap from the machine (24 GB here) and postpones collection accordingly; a Lambda
 * function's heap is bounded by its memory setting, so the import runs under such a cap.
 */
const IMPORT_NODE_FLAGS = [`--max-old-space-size=${IMPORT_HEAP_LIMIT_MB}`];

interface UploadedRun {
  readonly file: string;
  readonly key: string;
  readonly eTag: string;
  readonly bytes: number;
}

/** Generates a run of `count` lines in `dir` and uploads it under `runs/<runId>/`. */
async function uploadRun(
  env: BenchEnvironment,
  dir: string,
  count: number,
  runId: string,
): Promise<UploadedRun> {
  const file = join(dir, "sft_candidates.jsonl");
  await writeRun(file, { count, runId, broken: 0.01 });
  const key = `runs/${runId}/sft_candidates.jsonl`;
  const upload = await new Upload({
    client: env.clients.s3,
    params: { Bucket: env.bucket, Key: key, Body: createReadStream(file) },
  }).done();
  return { file, key, eTag: (upload.ETag ?? "").replaceAll('"', ""), bytes: statSync(file).size };
}

interface RunRecord {
  state?: string;
  counts: {
    lines: number;
    imported: number;
    quarantined: number;
    quarantined_by_reason?: Record<string, number>;
  };
  capacity: { write_units: number; read_units: number };
  sha256?: string;
  quarantine_key?: string | null;
  invocations?: number;
  lines_read?: number;
}

async function readRunRecord(env: BenchEnvironment, runId: string): Promise<RunRecord> {
  const { Item } = await env.clients.dynamodb.send(
    new GetCommand({ TableName: env.tableName, Key: keys.run(runId), ConsistentRead: true }),
  );
  if (!Item) throw new Error(`no run record for ${runId}`);
  return Item as RunRecord;
}

/** Receives and deletes every message on the queue; answers how many there were. */
async function drainQueue(env: BenchEnvironment, queueUrl: string): Promise<number> {
  let drained = 0;
  for (;;) {
    const { Messages = [] } = await env.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }),
    );
    if (Messages.length === 0) return drained;
    for (const message of Messages) await deleteMessage(env, queueUrl, message);
    drained += Messages.length;
  }
}

/**
 * The continuation the last invocation sent for `key`, received and deleted; `null` once the
 * import is `finished` (and then no continuation may be waiting). Anything else on the queue, or
 * an unfinished import that handed nothing on, fails the benchmark.
 */
async function nextContinuation(
  env: BenchEnvironment,
  queueUrl: string,
  key: string,
  finished: boolean,
): Promise<string | null> {
  const { Messages = [] } = await env.clients.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      // The handler sends its continuation before it returns: it is on the queue already.
      WaitTimeSeconds: finished ? 0 : 5,
    }),
  );
  for (const message of Messages) await deleteMessage(env, queueUrl, message);
  if (finished) {
    if (Messages.length > 0) {
      throw new Error(`a finished import left ${Messages.length} message(s): ${Messages[0]?.Body}`);
    }
    return null;
  }
  const [message, ...more] = Messages;
  if (!message?.Body) throw new Error(`the import of ${key} neither finished nor handed on`);
  if (more.length > 0)
    throw new Error(`one invocation left ${Messages.length} messages on the run-uploads queue`);
  const continuation = continuationIn(message.Body);
  if (continuation?.key !== key) {
    throw new Error(`expected a continuation of ${key} on the run-uploads queue, got ${message.Body}`);
  }
  return message.Body;
}

async function deleteMessage(env: BenchEnvironment, queueUrl: string, message: Message): Promise<void> {
  await env.clients.sqs.send(
    new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }),
  );
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/**
 * The quarantine object holds one entry per quarantined line, each line once, with the reasons the
 * run record counts. (Not in line order: a repeat found by the table is quarantined when its chunk
 * settles, after later lines the reading quarantined at once.)
 */
async function quarantineHolds(
  env: BenchEnvironment,
  key: string | null | undefined,
  counts: RunRecord["counts"],
): Promise<boolean> {
  if (!key) return counts.quarantined === 0;
  const object = await env.clients.s3.send(new GetObjectCommand({ Bucket: env.bucket, Key: key }));
  const entries = ((await object.Body?.transformToString("utf8")) ?? "")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as { line: number; reason: string });
  const byReason: Record<string, number> = {};
  for (const entry of entries) byReason[entry.reason] = (byReason[entry.reason] ?? 0) + 1;
  const expected = counts.quarantined_by_reason ?? {};
  return (
    entries.length === counts.quarantined &&
    new Set(entries.map((entry) => entry.line)).size === entries.length &&
    Object.keys({ ...expected, ...byReason }).every((reason) => expected[reason] === byReason[reason])
  );
}

async function averageItemKb(env: BenchEnvironment, runId: string, lines: number): Promise<number> {
  const sizes: number[] = [];
  for (let i = 0; i < lines && sizes.length < 50; i += Math.max(1, Math.floor(lines / 60))) {
    const id = `${runId}-${String(i).padStart(7, "0")}`;
    const item = (
      await env.clients.dynamodb.send(new GetCommand({ TableName: env.tableName, Key: keys.candidate(id) }))
    ).Item;
    if (item) sizes.push(Buffer.byteLength(JSON.stringify(item)) / 1024);
  }
  return sizes.reduce((a, b) => a + b, 0) / Math.max(1, sizes.length);
}

/**
 * The cost model: the monthly AWS bill of a stated workload, built from what the benchmark
 * sections measured (bench/results.json) and, where they measure nothing AWS would bill the same
 * way, from the code path: item sizes come from the builders the handlers use, request counts
 * from the adapters' calls. Needs no emulator, so `npm run bench -- --only cost` takes seconds.
 */
import { performance } from "node:perf_hooks";
import { candidateItem } from "../lib/common/adapters/candidate-table.ts";
import { keys } from "../lib/common/adapters/table-keys.ts";
import { type Candidate, modelOf, newCandidateFromLine } from "../lib/common/domain/candidate.ts";
import { deltaForNew, mergeDeltas } from "../lib/common/domain/stats.ts";
import { COUNTER_SHARDS, QUEUES, STATUS_INDEX_SHARDS } from "../lib/common/resources.ts";
import { ExportFirewall } from "../lib/exports/domain/export-firewall.ts";
import { ExportRequest } from "../lib/exports/domain/export-request.ts";
import { classifyRunLine } from "../lib/import/domain/run-line.ts";
import { DEFAULT_IMPORT_LIMITS } from "../lib/import/usecases/import-run.ts";
import { candidateFromCorrection, classifyCorrection } from "../lib/ingest/domain/correction.ts";
import { generateRunLines } from "../samples/generate-run.ts";

// ─── Prices ──────────────────────────────────────────────────────────────────────────────────

export interface Price {
  readonly service: string;
  readonly item: string;
  readonly usd: number;
  /** How many units `usd` buys: 1e6 for "per million". */
  readonly per: number;
  readonly unit: string;
}

/**
 * AWS list prices in us-east-1 (N. Virginia), on demand, as published in 2025, without free
 * tiers or savings plans. Change one here and the whole page follows.
 */
export const PRICES = {
  dynamodbWriteRequestUnits: {
    service: "DynamoDB",
    item: "on-demand write request units (Standard table class)",
    usd: 0.625,
    per: 1e6,
    unit: "per million",
  },
  dynamodbReadRequestUnits: {
    service: "DynamoDB",
    item: "on-demand read request units",
    usd: 0.125,
    per: 1e6,
    unit: "per million",
  },
  dynamodbStorage: { service: "DynamoDB", item: "table storage", usd: 0.25, per: 1, unit: "per GB-month" },
  dynamodbPitr: {
    service: "DynamoDB",
    item: "point-in-time recovery (continuous backups)",
    usd: 0.2,
    per: 1,
    unit: "per GB-month",
  },
  s3PutRequests: {
    service: "S3",
    item: "PUT, COPY, POST, LIST requests",
    usd: 0.005,
    per: 1e3,
    unit: "per 1,000",
  },
  s3GetRequests: { service: "S3", item: "GET and other requests", usd: 0.0004, per: 1e3, unit: "per 1,000" },
  s3Storage: {
    service: "S3",
    item: "Standard storage (first 50 TB)",
    usd: 0.023,
    per: 1,
    unit: "per GB-month",
  },
  s3TransferOut: {
    service: "S3",
    item: "data transfer out to the internet (first 10 TB)",
    usd: 0.09,
    per: 1,
    unit: "per GB",
  },
  sqsRequests: { service: "SQS", item: "standard queue requests", usd: 0.4, per: 1e6, unit: "per million" },
  lambdaArmGbSeconds: {
    service: "Lambda",
    item: "duration, arm64",
    usd: 0.0000133334,
    per: 1,
    unit: "per GB-second",
  },
  lambdaRequests: { service: "Lambda", item: "requests", usd: 0.2, per: 1e6, unit: "per million" },
  apiGatewayHttpRequests: {
    service: "API Gateway",
    item: "HTTP API requests (first 300 million)",
    usd: 1.0,
    per: 1e6,
    unit: "per million",
  },
  cloudWatchLogsIngestion: {
    service: "CloudWatch Logs",
    item: "ingestion (Standard log class)",
    usd: 0.5,
    per: 1,
    unit: "per GB",
  },
  secretsManagerSecrets: {
    service: "Secrets Manager",
    item: "secrets",
    usd: 0.4,
    per: 1,
    unit: "per secret-month",
  },
  fargateArmVcpuHours: {
    service: "Fargate",
    item: "Linux/ARM vCPU",
    usd: 0.03238,
    per: 1,
    unit: "per vCPU-hour",
  },
  fargateArmGbHours: {
    service: "Fargate",
    item: "Linux/ARM memory",
    usd: 0.00356,
    per: 1,
    unit: "per GB-hour",
  },
  rdsT4gSmallHours: {
    service: "RDS",
    item: "db.t4g.small PostgreSQL, Single-AZ",
    usd: 0.032,
    per: 1,
    unit: "per instance-hour",
  },
  rdsGp3Storage: {
    service: "RDS",
    item: "gp3 storage (20 GB minimum)",
    usd: 0.115,
    per: 1,
    unit: "per GB-month",
  },
  albHours: {
    service: "Elastic Load Balancing",
    item: "Application Load Balancer",
    usd: 0.0225,
    per: 1,
    unit: "per hour",
  },
  albLcuHours: {
    service: "Elastic Load Balancing",
    item: "ALB capacity units",
    usd: 0.008,
    per: 1,
    unit: "per LCU-hour",
  },
  publicIpv4Hours: {
    service: "VPC",
    item: "public IPv4 address",
    usd: 0.005,
    per: 1,
    unit: "per address-hour",
  },
} as const satisfies Record<string, Price>;
export type PriceKey = keyof typeof PRICES;

export const HOURS_PER_MONTH = 730;
const GB = 1024 ** 3;
const KB = 1024;

// ─── The workload ────────────────────────────────────────────────────────────────────────────

export interface Workload {
  readonly candidatesImported: number;
  readonly uploads: number;
  readonly decisions: number;
  readonly undos: number;
  readonly exports: number;
  readonly recordsPerExport: number;
  readonly corrections: number;
  /** Share of corrections refused by the schema and quarantined. */
  readonly refusedShare: number;
}

/** A month: 1M candidates imported from 1 upload a day, 50k decisions, 200 exports, 2,000 corrections a day. */
export const WORKLOAD: Workload = {
  candidatesImported: 1_000_000,
  uploads: 30,
  decisions: 50_000,
  undos: 2_500,
  exports: 200,
  recordsPerExport: 100_000,
  corrections: 2_000 * 30,
  refusedShare: 0.01,
};

export function scaled(workload: Workload, factor: number): Workload {
  const times = (n: number) => Math.round(n * factor);
  return {
    ...workload,
    candidatesImported: times(workload.candidatesImported),
    decisions: times(workload.decisions),
    undos: times(workload.undos),
    exports: times(workload.exports),
    corrections: times(workload.corrections),
  };
}

/** Memory of each function, as `infra/` declares it. */
const LAMBDA_MEMORY_GB = { importRun: 1, ingest: 0.5, api: 0.5, export: 1 } as const;
/** Queues Lambda polls (`QUEUES`); their dead-letter queues are not polled. */
const POLLED_QUEUES = Object.keys(QUEUES).length;

// ─── Per-operation figures ───────────────────────────────────────────────────────────────────

export type Basis = "measured" | "derived" | "assumed";

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly basis: Basis;
  readonly how: string;
}

/** Everything the bill multiplies: sizes, durations and rates, each with where it comes from. */
export interface Profile {
  readonly candidateItemKb: Figure;
  readonly runBytesPerLine: Figure;
  readonly importMsPerCandidate: Figure;
  readonly importWriteUnitsMeasured: Figure | null;
  readonly correctionItemKb: Figure;
  readonly counterShardKb: Figure;
  readonly eventItemKb: Figure;
  readonly ingestMsPerMessage: Figure;
  readonly apiMs: Readonly<Record<"submit" | "undo" | "queue" | "stats", Figure>>;
  readonly exportLineBytes: Figure;
  readonly exportIndexLineBytes: Figure;
  readonly exportRecordsPerSecond: Figure;
}

interface ImportRow {
  lines: number;
  imported: number;
  fileMb: number;
  seconds: number;
  itemKb: number;
  writeUnitsPerCandidate: number;
  floorWriteUnitsPerCandidate: number;
}
interface IngestRow {
  messages: number;
  pollers: number;
  drainSeconds: number;
}
interface LatencyRow {
  stored: number;
  operation: string;
  p50: number;
}

const rowsOf = <T>(section: unknown): T[] => {
  const rows = (section as { rows?: unknown } | undefined)?.rows;
  return Array.isArray(rows) ? (rows as T[]) : [];
};

/** A sample of generated candidates as the import stores them, and the corrections the ingest benchmark sends. */
interface Samples {
  readonly candidates: Candidate[];
  readonly lineBytes: number;
  readonly corrections: Candidate[];
}

function samples(): Samples {
  const lines = [...generateRunLines({ count: 2000, runId: "cost-sample" })];
  const text = `${lines.join("\n")}\n`;
  const candidates: Candidate[] = [];
  text.split("\n").forEach((raw, i) => {
    const verdict = classifyRunLine(raw);
    if (!verdict.ok) return;
    candidates.push(
      newCandidateFromLine(verdict.line, {
        source: verdict.line.source ?? "benchmark",
        channel: "s3-upload",
        model: modelOf(verdict.line),
        captured_at: new Date().toISOString(),
        source_run_id: "cost-sample",
        bucket: "flywheel-data-123456789012",
        key: "runs/cost-sample/sft_candidates.jsonl",
        etag: "0123456789abcdef0123456789abcdef-12",
        line: i + 1,
        import_id: "0123456789abcdef01234567",
      }),
    );
  });
  const corrections = Array.from({ length: 200 }, (_, i) => {
    // The message the ingest benchmark publishes.
    const verdict = classifyCorrection(
      JSON.stringify({
        source: i % 2 === 0 ? "kiwi" : "peregrine",
        task_type: "email_classification",
        prompt: `bench message ${i}: ${"lorem ipsum ".repeat(40)}`,
        response: "skip",
        correction: `action_required ${i}`,
        model: "Qwen2.5-3B",
        idempotency_key: `bench-${i}`,
      }),
    );
    if (!verdict.ok) throw new Error(verdict.detail);
    return candidateFromCorrection(
      verdict.message,
      {
        channel: "sqs",
        deliveryId: "8f1e0c9a-0000-4000-8000-000000000001",
        principal: "sqs:AROAEXAMPLE:ingest",
        receivedAt: new Date().toISOString(),
      },
      new Date().toISOString(),
    );
  });
  return { candidates, lineBytes: Buffer.byteLength(text) / text.split("\n").length, corrections };
}

const average = (values: number[]) => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
const jsonKb = (value: unknown) => Buffer.byteLength(JSON.stringify(value)) / KB;

/** The per-operation figures: measured where results.json has them, derived from the code otherwise. */
export function buildProfile(results: Record<string, unknown>): Profile {
  const sample = samples();
  const importRow = [...rowsOf<ImportRow>(results.import)].sort((a, b) => b.lines - a.lines)[0];
  const ingestRow = rowsOf<IngestRow>(results.ingest)
    .filter((row) => row.pollers === 1)
    .sort((a, b) => b.messages - a.messages)[0];
  const latency = rowsOf<LatencyRow>(results.review);
  const largest = Math.max(0, ...latency.map((row) => row.stored));

  const derivedItemKb = average(sample.candidates.map((c) => jsonKb(candidateItem(c))));
  const candidateItemKb: Figure = importRow
    ? {
        name: "candidate item",
        value: importRow.itemKb,
        unit: "KB",
        basis: "measured",
        how: `average stored item (JSON bytes) of the ${importRow.lines}-line import`,
      }
    : {
        name: "candidate item",
        value: derivedItemKb,
        unit: "KB",
        basis: "derived",
        how: "generated lines through the import's own item builder",
      };
  const runBytesPerLine: Figure = importRow
    ? {
        name: "uploaded bytes per line",
        value: (importRow.fileMb * 1024 * 1024) / importRow.lines,
        unit: "bytes",
        basis: "measured",
        how: "size of the generated run file ÷ its lines",
      }
    : {
        name: "uploaded bytes per line",
        value: sample.lineBytes,
        unit: "bytes",
        basis: "derived",
        how: "samples/generate-run.ts at its default body size",
      };
  const importMsPerCandidate: Figure = importRow
    ? {
        name: "import time per candidate",
        value: (importRow.seconds * 1000) / Math.max(1, importRow.imported),
        unit: "ms",
        basis: "measured",
        how: "the import handler's wall time against DynamoDB Local ÷ candidates (an emulator is slower than DynamoDB, so this errs high)",
      }
    : {
        name: "import time per candidate",
        value: 10,
        unit: "ms",
        basis: "assumed",
        how: "no import measured yet",
      };
  const importWriteUnitsMeasured: Figure | null = importRow
    ? {
        name: "import write units per candidate, as DynamoDB Local reports them",
        value: importRow.writeUnitsPerCandidate,
        unit: "WRU",
        basis: "measured",
        how: `ReturnConsumedCapacity on the import's transactions: below the floor of ${importRow.floorWriteUnitsPerCandidate} (1 per KB for the item and each index copy), because DynamoDB Local reports a transaction as if it held one item (a transaction of ten 3 KB puts on a table with one index reports 12 units, one such put alone 6); the model uses the code path instead`,
      }
    : null;

  const counters = mergeDeltas([...sample.candidates, ...sample.corrections].map((c) => deltaForNew(c)));
  const counterShard = { ...keys.counterShard(0), type: "counters", ...counters };
  const reviewed = sample.candidates[0] as Candidate;
  const event = {
    ...keys.candidateEvent(reviewed.id, new Date().toISOString(), "0000000002"),
    type: "candidate_event",
    candidate_id: reviewed.id,
    action: "correct",
    from: "needs_review",
    to: "approved",
    failure_category: "wrong_answer",
    reviewer: "reviewer@example.com",
    at: new Date().toISOString(),
    version: 2,
    corrected_response: "Answer: 27.5",
  };

  const apiFigure = (key: "submit" | "undo" | "queue" | "stats", match: string, fallback: number): Figure => {
    const row = latency.find((r) => r.stored === largest && r.operation.startsWith(match));
    return row
      ? {
          name: `api ${match}`,
          value: row.p50,
          unit: "ms",
          basis: "measured",
          how: `p50 of the review benchmark at ${largest} stored candidates (handler + DynamoDB Local)`,
        }
      : { name: `api ${key}`, value: fallback, unit: "ms", basis: "assumed", how: "not measured yet" };
  };

  const exportSample = exportThroughput(sample.candidates, candidateItemKb.value);

  return {
    candidateItemKb,
    runBytesPerLine,
    importMsPerCandidate,
    importWriteUnitsMeasured,
    correctionItemKb: {
      name: "ingested correction item",
      value: average(sample.corrections.map((c) => jsonKb(candidateItem(c)))),
      unit: "KB",
      basis: "derived",
      how: "the ingest benchmark's message through the ingest's own record and item builders",
    },
    counterShardKb: {
      name: "counter shard item",
      value: jsonKb(counterShard),
      unit: "KB",
      basis: "derived",
      how: "every counter the sample candidates and corrections move, in one shard (an upper bound: most shards hold fewer)",
    },
    eventItemKb: {
      name: "history event item",
      value: jsonKb(event),
      unit: "KB",
      basis: "derived",
      how: "a decision's event with its keys",
    },
    ingestMsPerMessage: ingestRow
      ? {
          name: "ingest time per message",
          value: (ingestRow.drainSeconds * 1000) / ingestRow.messages,
          unit: "ms",
          basis: "measured",
          how: `drain time of the ${ingestRow.messages}-message burst with one poller ÷ messages (DynamoDB Local, batches of 10)`,
        }
      : { name: "ingest time per message", value: 20, unit: "ms", basis: "assumed", how: "not measured yet" },
    apiMs: {
      submit: apiFigure("submit", "submit", 60),
      undo: apiFigure("undo", "undo", 60),
      queue: apiFigure("queue", "queue page", 60),
      stats: apiFigure("stats", "stats", 20),
    },
    exportLineBytes: {
      name: "openai-sft dataset line",
      value: exportSample.datasetBytesPerRecord,
      unit: "bytes",
      basis: "derived",
      how: "generated candidates, approved, through the firewall and the format",
    },
    exportIndexLineBytes: {
      name: "records.jsonl line",
      value: exportSample.indexBytesPerRecord,
      unit: "bytes",
      basis: "derived",
      how: "dataset line → record id → candidate, as the export writes it",
    },
    exportRecordsPerSecond: exportRate(results, exportSample),
  };
}

interface ExportSample {
  readonly datasetBytesPerRecord: number;
  readonly indexBytesPerRecord: number;
  readonly cpuMsPerRecord: number;
  readonly recordsPerPage: number;
}

/** Bytes written per record, and the firewall + format + serialisation time per record, measured in-process. */
function exportThroughput(candidates: readonly Candidate[], itemKb: number): ExportSample {
  const approved = candidates.map((c, i) => ({
    ...c,
    status: "approved",
    corrected_response: `Corrected answer ${i}.`,
    provenance: {
      ...c.provenance,
      approved: true,
      approved_by: "reviewer@example.com",
      approved_at: c.provenance.captured_at,
    },
  }));
  const request = ExportRequest.parse({ format: "openai-sft" });
  let datasetBytes = 0;
  let indexBytes = 0;
  let records = 0;
  const started = performance.now();
  for (let round = 0; round < 5; round++) {
    const firewall = new ExportFirewall({
      format: "openai-sft",
      options: request.options,
      filters: request.filters,
    });
    for (const candidate of approved) {
      const verdict = firewall.screen({ ...candidate, id: `${candidate.id}-${round}` });
      if (!verdict.passed) continue;
      for (const { line, recordId } of verdict.lines) {
        datasetBytes += Buffer.byteLength(JSON.stringify(line)) + 1;
        indexBytes +=
          Buffer.byteLength(
            JSON.stringify({ line: records + 1, record_id: recordId, candidate_id: candidate.id }),
          ) + 1;
      }
      records += 1;
    }
  }
  const elapsed = performance.now() - started;
  return {
    datasetBytesPerRecord: datasetBytes / Math.max(1, records),
    indexBytesPerRecord: indexBytes / Math.max(1, records),
    cpuMsPerRecord: elapsed / Math.max(1, records),
    // A Query page stops at 1 MB of items read.
    recordsPerPage: Math.max(1, Math.floor(1024 / Math.max(0.1, itemKb))),
  };
}

/** Query round trip assumed per 1 MB page of the status index. */
const QUERY_PAGE_MS = 30;

function exportRate(results: Record<string, unknown>, sample: ExportSample): Figure {
  // The export benchmark's rows: the largest openai-sft export (the workload's format), else the largest.
  // The plain export's rows (the decontamination and forced-deadline variants do more per record).
  const rows = rowsOf<Record<string, unknown>>(results.export).filter(
    (row) =>
      typeof row.recordsPerSecond === "number" &&
      (row.recordsPerSecond as number) > 0 &&
      (row.variant ?? "plain") === "plain",
  );
  const size = (row: Record<string, unknown>) => Number(row.exported ?? row.approved ?? row.records ?? 0);
  const bySize = [...rows].sort((a, b) => size(b) - size(a));
  const measured = bySize.find((row) => row.format === "openai-sft") ?? bySize[0];
  if (measured) {
    return {
      name: "export records per second",
      value: measured.recordsPerSecond as number,
      unit: "records/s",
      basis: "measured",
      how: `the export benchmark's largest ${String(measured.format ?? "")} row (${size(measured)} records, handler + emulators)`,
    };
  }
  const msPerRecord = sample.cpuMsPerRecord + QUERY_PAGE_MS / sample.recordsPerPage;
  return {
    name: "export records per second",
    value: 1000 / msPerRecord,
    unit: "records/s",
    basis: "derived",
    how: `firewall + openai-sft line + serialisation measured in-process (${sample.cpuMsPerRecord.toFixed(3)} ms/record), plus one ${QUERY_PAGE_MS} ms query per 1 MB page (${sample.recordsPerPage} items; assumed); no export benchmark in results.json yet`,
  };
}

// ─── Request counts per operation, from the code path ────────────────────────────────────────

const units = (kb: number) => Math.max(1, Math.ceil(kb));
const readUnits = (kb: number) => Math.max(1, Math.ceil(kb / 4));

/** The DynamoDB request units of each operation, as DynamoDB bills the calls the adapters make. */
export function requestUnits(profile: Profile) {
  const item = profile.candidateItemKb.value;
  const counter = profile.counterShardKb.value;
  const correction = profile.correctionItemKb.value;
  const chunk = DEFAULT_IMPORT_LIMITS.chunkSize;
  // Transactional writes bill 2 units per KB on the table; index copies bill 1 per KB each.
  const importWrite = 2 * units(item) + 2 * units(item) + (2 * units(counter)) / chunk;
  // A new run is inserted without a lookup: the conditional puts report stored ids themselves. A
  // re-upload reads each id once (BatchGetItem, strongly consistent); the workload's uploads are new.
  const importRead = 0;
  const ingestWrite = 2 * units(correction) + units(correction) + 2 * units(counter);
  const decided = item + 0.1;
  const decisionWrite =
    2 * units(decided) + // candidate update (status, version, correction, review facts)
    2 * units(profile.eventItemKb.value) + // history event
    2 * units(counter) + // one counter shard
    2 * units(decided) + // status index: the item leaves one partition and enters another
    units(decided); // run index: the copy is rewritten
  const decisionRead = readUnits(item); // GetItem, strongly consistent, before the transaction
  const statsRead = COUNTER_SHARDS * readUnits(counter); // BatchGetItem of every shard, strongly consistent
  const perShard = Math.ceil((20 * 1.5) / STATUS_INDEX_SHARDS) + 2; // queue-table's read-ahead per shard
  const queueRead = STATUS_INDEX_SHARDS * Math.max(0.5, Math.ceil((perShard * item) / 4) * 0.5) + statsRead;
  const exportRead = (item / 4) * 0.5; // Query of the status index, eventually consistent, summed per page
  return {
    importWrite,
    importRead,
    ingestWrite,
    decisionWrite,
    decisionRead,
    statsRead,
    queueRead,
    exportRead,
  };
}

// ─── The bill ────────────────────────────────────────────────────────────────────────────────

export interface CostLine {
  readonly area: string;
  readonly what: string;
  readonly quantity: number;
  readonly price: PriceKey;
  readonly usd: number;
  readonly basis: Basis;
}

const line = (area: string, what: string, quantity: number, price: PriceKey, basis: Basis): CostLine => ({
  area,
  what,
  quantity,
  price,
  usd: (quantity * PRICES[price].usd) / PRICES[price].per,
  basis,
});

/** Bytes per platform log line set (START, END, REPORT) of one Lambda invocation. */
const LAMBDA_PLATFORM_LOG_BYTES = 350;
/** Bytes of one structured application log line (Powertools JSON with the Lambda context). */
const APP_LOG_BYTES = 600;
/** Bytes of one API Gateway access log line (the stage's custom JSON format). */
const ACCESS_LOG_BYTES = 300;
/** lib-storage's default part size, as the rig's `Upload` and the CLI use it. */
const UPLOAD_PART_BYTES = 5 * 1024 * 1024;
/** The export writer's part size (lib/adapters/export-objects.ts). */
const EXPORT_PART_BYTES = 8 * 1024 * 1024;
/** Requests of an idle queue that Lambda polls: 5 long-polling connections, one request per 20 s each. */
const IDLE_POLLS_PER_QUEUE = 5 * 3 * 60 * HOURS_PER_MONTH;

const putsFor = (bytes: number, partBytes: number) =>
  bytes <= partBytes ? 1 : Math.ceil(bytes / partBytes) + 2;

/** The serverless bill of `workload` for one month. */
export function serverlessBill(profile: Profile, workload: Workload): CostLine[] {
  const ru = requestUnits(profile);
  const w = workload;
  const linesPerUpload = w.candidatesImported / w.uploads;
  const uploadBytes = linesPerUpload * profile.runBytesPerLine.value;
  const datasetBytes = w.recordsPerExport * profile.exportLineBytes.value;
  const indexBytes = w.recordsPerExport * profile.exportIndexLineBytes.value;
  const exportSeconds = w.recordsPerExport / profile.exportRecordsPerSecond.value;
  const refused = Math.round(w.corrections * w.refusedShare);
  const ingested = w.corrections - refused;
  const reviewOps = w.decisions + w.undos;
  // The UI after each decision or undo: the stats, and a page of 20 every ~10 decisions.
  const statsCalls = reviewOps;
  const queueCalls = Math.ceil(w.decisions / 10);
  // The UI polls an export every 3 s at most until it has its URL.
  const exportCalls = w.exports * (1 + Math.ceil(exportSeconds / 3));
  const apiCalls = reviewOps + statsCalls + queueCalls + exportCalls;
  const apiSeconds =
    (w.decisions * profile.apiMs.submit.value +
      w.undos * profile.apiMs.undo.value +
      statsCalls * profile.apiMs.stats.value +
      queueCalls * profile.apiMs.queue.value +
      exportCalls * profile.apiMs.stats.value) /
    1000;
  const invocations = {
    importRun: w.uploads,
    ingest: w.corrections, // 2,000 a day arrive ~1.4 a minute: batches of one
    api: apiCalls,
    export: w.exports,
  };
  const totalInvocations = Object.values(invocations).reduce((a, b) => a + b, 0);

  const item = profile.candidateItemKb.value;
  const storedKb =
    w.candidatesImported * (3 * item + 0.3) + // the item and its two index copies, 100 bytes overhead each
    ingested * (2 * profile.correctionItemKb.value + 0.2) + // the item and its status-index copy
    reviewOps * (profile.eventItemKb.value + 0.1);
  const storedGb = storedKb / (1024 * 1024);
  const runsGb = (w.uploads * uploadBytes) / GB;
  const exportsGb = (w.exports * (datasetBytes + indexBytes)) / GB; // kept 30 days: a month of exports at once

  const logGb =
    (totalInvocations * LAMBDA_PLATFORM_LOG_BYTES +
      (w.corrections + w.uploads + w.exports) * APP_LOG_BYTES +
      apiCalls * ACCESS_LOG_BYTES) /
    GB;

  return [
    // DynamoDB
    line(
      "import",
      "write units: candidates, index copies, counters",
      w.candidatesImported * ru.importWrite,
      "dynamodbWriteRequestUnits",
      "derived",
    ),
    line(
      "import",
      "read units: which ids are already stored",
      w.candidatesImported * ru.importRead,
      "dynamodbReadRequestUnits",
      "derived",
    ),
    line(
      "ingest",
      "write units: record, index copy, counters",
      ingested * ru.ingestWrite,
      "dynamodbWriteRequestUnits",
      "derived",
    ),
    line(
      "review",
      "write units: decisions and undos",
      reviewOps * ru.decisionWrite,
      "dynamodbWriteRequestUnits",
      "derived",
    ),
    line(
      "review",
      "read units: subject, stats, queue pages",
      reviewOps * ru.decisionRead + statsCalls * ru.statsRead + queueCalls * ru.queueRead,
      "dynamodbReadRequestUnits",
      "derived",
    ),
    line(
      "export",
      "read units: the status index",
      w.exports * w.recordsPerExport * ru.exportRead,
      "dynamodbReadRequestUnits",
      "derived",
    ),
    line(
      "export",
      "write units: job record and progress",
      w.exports * (4 + exportSeconds / 2),
      "dynamodbWriteRequestUnits",
      "derived",
    ),
    line("storage", "table storage at the end of the month (GB)", storedGb, "dynamodbStorage", "derived"),
    line("storage", "point-in-time recovery (GB)", storedGb, "dynamodbPitr", "derived"),
    // S3
    line(
      "import",
      "uploads (multipart parts) and quarantine files",
      w.uploads * (putsFor(uploadBytes, UPLOAD_PART_BYTES) + 1),
      "s3PutRequests",
      "derived",
    ),
    line("import", "reading each upload", w.uploads, "s3GetRequests", "derived"),
    line("ingest", "quarantined corrections", refused, "s3PutRequests", "derived"),
    line(
      "export",
      "dataset, records, quarantine, manifest",
      w.exports * (putsFor(datasetBytes, EXPORT_PART_BYTES) + putsFor(indexBytes, EXPORT_PART_BYTES) + 2),
      "s3PutRequests",
      "derived",
    ),
    line("export", "downloads", w.exports, "s3GetRequests", "derived"),
    line("export", "downloaded datasets (GB)", (w.exports * datasetBytes) / GB, "s3TransferOut", "derived"),
    line("storage", "runs/ (uploads are kept)", runsGb, "s3Storage", "derived"),
    line("storage", "exports/ (30 days)", exportsGb, "s3Storage", "derived"),
    // SQS
    line("import", "upload notifications: send, receive, delete", w.uploads * 3, "sqsRequests", "derived"),
    line("ingest", "corrections: send, receive, delete", w.corrections * 3, "sqsRequests", "derived"),
    line("export", "export jobs: send, receive, delete", w.exports * 3, "sqsRequests", "derived"),
    line(
      "platform",
      `Lambda polling ${POLLED_QUEUES} queues while idle`,
      POLLED_QUEUES * IDLE_POLLS_PER_QUEUE,
      "sqsRequests",
      "derived",
    ),
    // Lambda
    line(
      "import",
      "import-run duration (GB-s)",
      (w.candidatesImported * profile.importMsPerCandidate.value * LAMBDA_MEMORY_GB.importRun) / 1000,
      "lambdaArmGbSeconds",
      profile.importMsPerCandidate.basis,
    ),
    line(
      "ingest",
      "ingest duration (GB-s)",
      (w.corrections * profile.ingestMsPerMessage.value * LAMBDA_MEMORY_GB.ingest) / 1000,
      "lambdaArmGbSeconds",
      profile.ingestMsPerMessage.basis,
    ),
    line(
      "review",
      "api duration (GB-s)",
      apiSeconds * LAMBDA_MEMORY_GB.api,
      "lambdaArmGbSeconds",
      profile.apiMs.submit.basis,
    ),
    line(
      "export",
      "export duration (GB-s)",
      w.exports * exportSeconds * LAMBDA_MEMORY_GB.export,
      "lambdaArmGbSeconds",
      profile.exportRecordsPerSecond.basis,
    ),
    line("platform", "invocations", totalInvocations, "lambdaRequests", "derived"),
    // API Gateway, logs, secrets
    line(
      "review",
      "HTTP API requests (reviewers and export polling)",
      apiCalls,
      "apiGatewayHttpRequests",
      "derived",
    ),
    line("platform", "log ingestion (GB)", logGb, "cloudWatchLogsIngestion", "assumed"),
    line("platform", "ingest token secret", 1, "secretsManagerSecrets", "derived"),
  ];
}

/** The same month on one always-on container: a Fargate task, a small PostgreSQL, a load balancer. */
export function containerBill(workload: Workload, serverless: CostLine[]): CostLine[] {
  const storedGb = serverless.find((l) => l.price === "dynamodbStorage")?.quantity ?? 0;
  // Rows without the two index copies, plus B-tree indexes; DynamoDB's item bytes are close to a row's.
  const databaseGb = Math.max(20, (storedGb / 3) * 1.5);
  const shared = serverless.filter((l) => l.price.startsWith("s3"));
  const appLogGb = ((workload.corrections + workload.uploads + workload.exports) * APP_LOG_BYTES) / GB;
  return [
    line(
      "container",
      "Fargate task, 2 vCPU (arm64), 24×7",
      2 * HOURS_PER_MONTH,
      "fargateArmVcpuHours",
      "derived",
    ),
    line("container", "Fargate task, 4 GB, 24×7", 4 * HOURS_PER_MONTH, "fargateArmGbHours", "derived"),
    line("container", "RDS db.t4g.small, 24×7", HOURS_PER_MONTH, "rdsT4gSmallHours", "derived"),
    line("container", "RDS storage (GB)", databaseGb, "rdsGp3Storage", "derived"),
    line("container", "Application Load Balancer, 24×7", HOURS_PER_MONTH, "albHours", "derived"),
    line("container", "ALB capacity (1 LCU on average)", HOURS_PER_MONTH, "albLcuHours", "assumed"),
    line(
      "container",
      "public IPv4: the ALB in 2 zones and the task",
      3 * HOURS_PER_MONTH,
      "publicIpv4Hours",
      "derived",
    ),
    ...shared.map((l) => ({ ...l, area: "container (same S3)" })),
    line(
      "container",
      "log ingestion (GB), application lines",
      appLogGb,
      "cloudWatchLogsIngestion",
      "assumed",
    ),
    line("container", "ingest token secret", 1, "secretsManagerSecrets", "derived"),
  ];
}

const total = (lines: readonly CostLine[]) => lines.reduce((sum, l) => sum + l.usd, 0);

export interface CostResult {
  readonly workload: Workload;
  readonly profile: Profile;
  readonly requestUnits: ReturnType<typeof requestUnits>;
  readonly serverless: CostLine[];
  readonly container: CostLine[];
  readonly serverlessUsd: number;
  readonly containerUsd: number;
  readonly growth: { factor: number; serverlessUsd: number; containerUsd: number }[];
  /** DynamoDB storage + PITR a month after `months` months of the same workload. */
  readonly storageAfter: { months: number; gb: number; dynamodbUsd: number; rdsUsd: number }[];
  readonly prices: typeof PRICES;
}

/** The whole model: `results` are the benchmark results measured so far. */
export function modelCost(results: Record<string, unknown>): CostResult {
  const profile = buildProfile(results);
  const bill = (workload: Workload) => {
    const serverless = serverlessBill(profile, workload);
    return { serverless, container: containerBill(workload, serverless) };
  };
  const { serverless, container } = bill(WORKLOAD);
  const monthlyGb = serverless.find((l) => l.price === "dynamodbStorage")?.quantity ?? 0;
  return {
    workload: WORKLOAD,
    profile,
    requestUnits: requestUnits(profile),
    serverless,
    container,
    serverlessUsd: total(serverless),
    containerUsd: total(container),
    growth: [0.1, 1, 10, 100].map((factor) => {
      const scaledBill = bill(scaled(WORKLOAD, factor));
      return {
        factor,
        serverlessUsd: total(scaledBill.serverless),
        containerUsd: total(scaledBill.container),
      };
    }),
    storageAfter: [1, 12, 36].map((months) => {
      const gb = monthlyGb * months;
      return {
        months,
        gb,
        dynamodbUsd: gb * (PRICES.dynamodbStorage.usd + PRICES.dynamodbPitr.usd),
        rdsUsd: Math.max(20, (gb / 3) * 1.5) * PRICES.rdsGp3Storage.usd,
      };
    }),
    prices: PRICES,
  };
}

// ─── The page ────────────────────────────────────────────────────────────────────────────────

const usd = (value: number) => (value >= 100 ? `$${value.toFixed(0)}` : `$${value.toFixed(2)}`);
const count = (value: number) =>
  value >= 1e6
    ? `${(value / 1e6).toFixed(2)} M`
    : value >= 1e4
      ? `${(value / 1e3).toFixed(0)} k`
      : value >= 10
        ? value.toFixed(0)
        : value.toFixed(2);

/** The cost section of bench/RESULTS.md. */
export function renderCostSection(section: unknown): string[] {
  const cost = section as (CostResult & { measuredAt: string; command: string }) | undefined;
  if (!cost?.serverless) return [];
  const w = cost.workload;
  const p = cost.profile;
  const ru = cost.requestUnits;
  const figures: Figure[] = [
    p.candidateItemKb,
    p.runBytesPerLine,
    p.importMsPerCandidate,
    ...(p.importWriteUnitsMeasured ? [p.importWriteUnitsMeasured] : []),
    p.correctionItemKb,
    p.counterShardKb,
    p.eventItemKb,
    p.ingestMsPerMessage,
    p.apiMs.submit,
    p.apiMs.undo,
    p.apiMs.queue,
    p.apiMs.stats,
    p.exportLineBytes,
    p.exportIndexLineBytes,
    p.exportRecordsPerSecond,
  ];
  const byService = new Map<string, number>();
  for (const l of cost.serverless) {
    const service = PRICES[l.price].service;
    byService.set(service, (byService.get(service) ?? 0) + l.usd);
  }
  const out: string[] = [
    "## Cost model",
    "",
    `\`${cost.command}\` — ${cost.measuredAt}. The monthly AWS bill (us-east-1 list prices, on demand, no free tier) of`,
    `this workload: **${count(w.candidatesImported)} candidates imported** from ${w.uploads} uploads (1 a day),`,
    `**${count(w.decisions)} review decisions** (plus ${count(w.undos)} undos, assumed 5%), **${w.exports} exports of`,
    `${count(w.recordsPerExport)} records** (openai-sft, downloaded once each), **${count(w.corrections)} corrections ingested**`,
    `(2,000 a day on the queue, ${(w.refusedShare * 100).toFixed(0)}% refused). Every figure is one of: *measured* by a`,
    "benchmark section above (results.json), *derived* from the code path (the calls the adapters make, sizes from",
    "the builders the handlers use), or *assumed* (named). Durations measured against the emulators err high.",
    "",
    `**Serverless: ${usd(cost.serverlessUsd)} a month. One always-on container: ${usd(cost.containerUsd)} a month.**`,
    "",
    "### Figures per operation",
    "",
    "| figure | value | basis | how |",
    "|---|---:|---|---|",
    ...figures.map(
      (f) => `| ${f.name} | ${f.value.toFixed(f.value < 10 ? 2 : 0)} ${f.unit} | ${f.basis} | ${f.how} |`,
    ),
    "",
    "DynamoDB request units per operation, from the code path: transactional writes bill 2 units per KB of",
    "item, each index copy 1 per KB (assumed: index propagation is not transactional; were it billed 2 per KB",
    "like the item, an import would cost 6 more units per candidate); strongly consistent reads 1 unit per",
    "4 KB, a key that is not there included, index queries half that.",
    "",
    "| operation | write units | read units | calls |",
    "|---|---:|---:|---|",
    `| import, per candidate | ${ru.importWrite.toFixed(2)} | ${ru.importRead.toFixed(2)} | TransactWriteItems of ${DEFAULT_IMPORT_LIMITS.chunkSize} conditional puts + 1 counter shard; two index copies (a re-upload adds a BatchGetItem of its ids) |`,
    `| ingest, per correction | ${ru.ingestWrite.toFixed(2)} | 0 | TransactWriteItems of the record (conditional put) + 1 counter shard; one index copy |`,
    `| decision or undo | ${ru.decisionWrite.toFixed(2)} | ${ru.decisionRead.toFixed(2)} | GetItem; TransactWriteItems of the update, the event and 1 counter shard; the status-index copy moves, the run-index copy is rewritten |`,
    `| stats | 0 | ${ru.statsRead.toFixed(2)} | BatchGetItem of the ${COUNTER_SHARDS} counter shards |`,
    `| queue page of 20 | 0 | ${ru.queueRead.toFixed(2)} | ${STATUS_INDEX_SHARDS} index queries with read-ahead, and the counters for the total |`,
    `| export, per record | 0 | ${ru.exportRead.toFixed(3)} | index query, eventually consistent |`,
    "",
    "### The monthly bill",
    "",
    "| service | USD |",
    "|---|---:|",
    ...[...byService.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([service, value]) => `| ${service} | ${usd(value)} |`),
    `| **total** | **${usd(cost.serverlessUsd)}** |`,
    "",
    "| area | what | quantity | price | USD | basis |",
    "|---|---|---:|---|---:|---|",
    ...cost.serverless.map(
      (l) =>
        `| ${l.area} | ${l.what} | ${count(l.quantity)} | ${PRICES[l.price].service}: $${PRICES[l.price].usd} ${PRICES[l.price].unit} | ${usd(l.usd)} | ${l.basis} |`,
    ),
    "",
    "### Against one always-on container",
    "",
    "The same work on a 2 vCPU / 4 GB Fargate task (arm64) running 24×7 behind an Application Load Balancer,",
    "with a db.t4g.small PostgreSQL (Single-AZ) instead of DynamoDB and SQS; the same S3 objects and requests.",
    "Not included on that side either: a second task or a Multi-AZ database for availability (each roughly",
    "doubles its line), a NAT gateway for a private subnet (about $33 a month), the work to run it.",
    "",
    "| area | what | quantity | price | USD |",
    "|---|---|---:|---|---:|",
    ...cost.container.map(
      (l) =>
        `| ${l.area} | ${l.what} | ${count(l.quantity)} | ${PRICES[l.price].service}: $${PRICES[l.price].usd} ${PRICES[l.price].unit} | ${usd(l.usd)} |`,
    ),
    `| **total** | | | | **${usd(cost.containerUsd)}** |`,
    "",
    "Growth: the same month with every volume scaled (uploads stay 1 a day). The container's price holds",
    "only while one task and a db.t4g.small keep up; that is not measured here.",
    "",
    "| workload | serverless | container |",
    "|---:|---:|---:|",
    ...cost.growth.map((g) => `| ×${g.factor} | ${usd(g.serverlessUsd)} | ${usd(g.containerUsd)} |`),
    "",
    "Storage keeps growing: candidates are never deleted, so each month of this workload adds its data.",
    "",
    "| after | DynamoDB GB | DynamoDB storage + PITR a month | RDS storage a month |",
    "|---:|---:|---:|---:|",
    ...cost.storageAfter.map(
      (s) =>
        `| ${s.months} month${s.months === 1 ? "" : "s"} | ${s.gb.toFixed(1)} | ${usd(s.dynamodbUsd)} | ${usd(s.rdsUsd)} |`,
    ),
    "",
    "Not modelled: free tiers (they would lower the serverless bill most); Lambda cold-start init time; the",
    "web UI's CloudFront distribution and the reviewers' Cognito sign-ins (within free tiers at this scale);",
    "the judge and its model calls (not in this workload); an export with options.quarantine_unselected",
    `(it reads every candidate the filters select, not only the approved ones: 10× the export read units here);`,
    "a RAG export with Knowledge Bases sidecars (2 PUTs per record: $1 per 100k records).",
    "",
    "### Prices",
    "",
    "| constant | service | item | USD | unit |",
    "|---|---|---|---:|---|",
    ...Object.entries(cost.prices).map(
      ([name, price]) => `| \`${name}\` | ${price.service} | ${price.item} | ${price.usd} | ${price.unit} |`,
    ),
    "",
  ];
  return out;
}

/**
 * `npm run bench [-- --only import] [-- --import-sizes 10000,100000]`: measures Flywheel on the
 * local emulators and writes bench/results.json and bench/RESULTS.md (`--only local`, never part
 * of the default run: the import through `npm start`, `--local-sizes`, `--local-jvm full,quick`). Sections not run this time
 * keep their previous results, and so do the sizes of a section not measured again: `npm run
 * bench:scale` adds the million-candidate rows to those of the default sizes. Review runs first, on
 * an empty table, so its sizes are the table's; it measures each operation in-process and over
 * HTTP through the local gateway (`--review-transports in-process,http`).
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { readCounters } from "../lib/common/adapters/counters.ts";
import { type BulkRow, benchBulk, bulkRowKey } from "./bulk.ts";
import { benchColdStart } from "./cold-start.ts";
import { modelCost } from "./cost.ts";
import { type BenchEnvironment, startBenchEnvironment } from "./environment.ts";
import {
  benchExport,
  EXPORT_GROWTH,
  EXPORT_VARIANTS,
  type ExportResult,
  type ExportVariant,
  exportRowKey,
  registerEvalSet,
  seedApproved,
  unregisterEvalSet,
} from "./export.ts";
import {
  benchImport,
  benchImportWithDeadline,
  type DeadlineImportResult,
  IMPORT_GROWTH,
  type ImportResult,
} from "./import.ts";
import { benchIngest, type IngestResult, ingestGrowth, ingestRowKey } from "./ingest.ts";
import {
  benchLocalRuntimeImport,
  type DynamoDbJvm,
  type LocalRuntimeImportResult,
  localRuntimeRowKey,
} from "./local-runtime.ts";
import { benchQuarantine, type QuarantineRow, quarantineRowKey } from "./quarantine.ts";
import { benchRecount, RECOUNT_GROWTH, type RecountResult } from "./recount.ts";
import { renderReport } from "./report.ts";
import {
  benchReviewLatency,
  type LatencyRow,
  type ReviewTransport,
  reviewGrowth,
  seedCandidates,
} from "./review.ts";
import { growth, mergeRows, printGrowth, type Section } from "./sections.ts";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    "import-sizes": { type: "string", default: "10000,100000" },
    "ingest-pollers": { type: "string", default: "1,4" },
    "ingest-bursts": { type: "string", default: "1000,10000" },
    "review-sizes": { type: "string", default: "1000,100000" },
    "review-samples": { type: "string", default: "500" },
    // in-process: the handler called with events; http: the same calls through the local gateway.
    "review-transports": { type: "string", default: "in-process,http" },
    // A bulk discard of a run this size, then its undo (each size seeds its own run).
    "bulk-sizes": { type: "string", default: "1000,10000" },
    // Waiting candidates of another run seeded first, all older than each bulk's run (0: none).
    "bulk-others": { type: "string", default: "0" },
    "export-sizes": { type: "string", default: "100000,1000000" },
    // plain, decontamination (an eval set registered, near-duplicates on), forced-deadline.
    "export-variants": { type: "string", default: "plain,decontamination,forced-deadline" },
    "export-eval-items": { type: "string", default: "100000" },
    // Seconds each forced-deadline invocation has; a sixth of the uninterrupted export's by default.
    "export-invocation-seconds": { type: "string" },
    "recount-sizes": { type: "string", default: "100000" },
    "recount-segments": { type: "string", default: "8" },
    "cold-start-samples": { type: "string", default: "10" },
    "local-sizes": { type: "string", default: "10000,100000" },
    "local-jvm": { type: "string", default: "full" },
    "quarantine-sizes": { type: "string", default: "1000,15000" },
    // Where results.json and RESULTS.md are read and written: a trial run can keep its figures apart.
    "results-dir": { type: "string", default: "bench" },
  },
});
const root = resolve(import.meta.dirname, "..");
const resultsDir = resolve(root, values["results-dir"] ?? "bench");
const resultsFile = join(resultsDir, "results.json");
const previous = existsSync(resultsFile) ? JSON.parse(readFileSync(resultsFile, "utf8")) : {};
const wanted = (section: string) => !values.only || values.only.split(",").includes(section);

// Sections that start what they measure themselves, or only read what the others measured; the
// emulators start only for the rest.
const OFFLINE_SECTIONS = ["cost", "coldstart", "local"];
const needsEmulators =
  !values.only || values.only.split(",").some((name) => !OFFLINE_SECTIONS.includes(name));
let env!: BenchEnvironment;
if (needsEmulators) env = await startBenchEnvironment();
const results: Record<string, unknown> = { ...previous };
try {
  if (wanted("review")) {
    // First, on an empty table: each size is then the number of candidates stored, nothing else.
    const rows: LatencyRow[] = [];
    let seeded = 0;
    const reviewTransports = (values["review-transports"] ?? "")
      .split(",")
      .filter(Boolean)
      .map((transport): ReviewTransport => {
        if (transport === "in-process" || transport === "http") return transport;
        throw new Error(`--review-transports takes in-process and http, not ${transport}`);
      });
    for (const size of (values["review-sizes"] ?? "").split(",").map(Number).filter(Boolean)) {
      console.log(`review: seeding to ${size} candidates…`);
      await seedCandidates(env, seeded, size, "bench-review");
      seeded = size;
      const stored = (await readCounters(env.clients.dynamodb, env.tableName)).total ?? 0;
      console.log(`review: measuring at ${stored} stored…`);
      rows.push(
        ...(await benchReviewLatency(
          env,
          size,
          stored,
          "bench-review",
          Number(values["review-samples"]),
          reviewTransports,
        )),
      );
    }
    results.review = section(results.review, rows, (row) => row.stored);
    printGrowth("review", reviewGrowth((results.review as Section<LatencyRow>).rows));
  }
  if (wanted("recount")) {
    // After review: its table (candidates and their counters, nothing else yet) is topped up.
    const segments = (values["recount-segments"] ?? "").split(",").map(Number).filter(Boolean);
    const rows: RecountResult[] = [];
    for (const size of (values["recount-sizes"] ?? "").split(",").map(Number).filter(Boolean)) {
      for (const row of await benchRecount(env, size, segments)) {
        console.log(
          `  ${row.itemsPerSecond.toFixed(0)} items/s over ${row.segments} segment(s), ${row.itemsScanned} items, drift ${row.foundDrift ? "found" : "MISSED"}`,
        );
        rows.push(row);
      }
    }
    // The machine of this section's run, which may not be the one the other sections ran on.
    results.recount = {
      ...section(results.recount, rows, (row) => row.candidates),
      machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model },
    };
    const widest = Math.max(...segments);
    printGrowth(
      "recount",
      growth(
        (results.recount as Section<RecountResult>).rows.filter((r) => r.segments === widest),
        (r) => r.candidates,
        RECOUNT_GROWTH,
      ),
    );
  }
  if (wanted("import")) {
    const sizes = (values["import-sizes"] ?? "").split(",").map(Number).filter(Boolean);
    const rows: ImportResult[] = [];
    for (const size of sizes) {
      console.log(`import: ${size} lines…`);
      const row = await benchImport(env, size);
      console.log(
        `  ${row.candidatesPerSecond.toFixed(0)} candidates/s, peak RSS ${row.peakRssMb.toFixed(0)} MB`,
      );
      rows.push(row);
    }
    results.import = section(results.import, rows, (row) => row.lines);
    printGrowth(
      "import",
      growth((results.import as Section<ImportResult>).rows, (r) => r.lines, IMPORT_GROWTH),
    );
    // The largest run again, with the function's deadline in force: several invocations, one count.
    const largest = rows.reduce<ImportResult | undefined>(
      (a, b) => (a && a.lines >= b.lines ? a : b),
      undefined,
    );
    if (largest) {
      console.log(`import: ${largest.lines} lines with the deadline in force…`);
      const row = await benchImportWithDeadline(env, largest.lines, largest);
      console.log(
        `  ${row.invocations} invocations of ${row.budgetSeconds.toFixed(1)} s, ${row.seconds.toFixed(1)} s in all (uninterrupted ${row.uninterruptedSeconds.toFixed(1)} s), ${row.candidatesPerSecond.toFixed(0)} candidates/s, peak RSS ${row.peakRssMb.toFixed(0)} MB, counts ${row.countsMatch ? "match" : "DIFFER"}`,
      );
      results.importDeadline = section<DeadlineImportResult>(results.importDeadline, [row], (r) => r.lines);
    }
  }
  if (wanted("ingest")) {
    const rows: IngestResult[] = [];
    const pollerCounts = (values["ingest-pollers"] ?? "").split(",").map(Number).filter(Boolean);
    for (const burst of (values["ingest-bursts"] ?? "").split(",").map(Number).filter(Boolean)) {
      for (const pollers of pollerCounts) {
        console.log(`ingest: a burst of ${burst} corrections, ${pollers} poller(s)…`);
        const row = await benchIngest(env, burst, pollers);
        console.log(
          `  ${row.ingestedPerSecond.toFixed(0)} messages/s ingested, ${row.stored} stored, DLQ ${row.dlq}`,
        );
        rows.push(row);
      }
    }
    results.ingest = section(results.ingest, rows, ingestRowKey);
    printGrowth("ingest", ingestGrowth((results.ingest as Section<IngestResult>).rows));
  }
  if (wanted("export")) {
    const sizes = (values["export-sizes"] ?? "")
      .split(",")
      .map(Number)
      .filter(Boolean)
      .sort((a, b) => a - b);
    const rows: ExportResult[] = [];
    const variants = (values["export-variants"] ?? "").split(",").filter(Boolean) as ExportVariant[];
    const unknown = variants.filter((variant) => !EXPORT_VARIANTS.includes(variant));
    if (unknown.length > 0) throw new Error(`unknown export variant(s): ${unknown.join(", ")}`);
    const evalItems = Number(values["export-eval-items"]);
    let seeded = 0;
    for (const size of sizes) {
      console.log(`export: seeding ${size - seeded} more approved candidates…`);
      await seedApproved(env, seeded, size, evalItems);
      seeded = size;
      let uninterrupted: ExportResult | undefined;
      for (const variant of variants) {
        // Every export checks the registered sets: the plain one runs with none registered.
        if (variant === "plain") await unregisterEvalSet(env);
        else {
          console.log(`export: registering an eval set of ${evalItems} items…`);
          await registerEvalSet(env, evalItems);
        }
        if (variant === "forced-deadline" && !uninterrupted) {
          uninterrupted = await benchExport(env, size, { variant: "decontamination", evalItems });
        }
        // Several invocations: a sixth of the uninterrupted export's time each, unless given.
        const invocationSeconds = values["export-invocation-seconds"]
          ? Number(values["export-invocation-seconds"])
          : Math.max(1, Math.ceil((uninterrupted?.seconds ?? 60) / 6));
        console.log(`export: ${size} approved candidates, openai-sft, ${variant}…`);
        const row = await benchExport(env, size, {
          variant,
          evalItems,
          invocationSeconds,
          ...(uninterrupted?.sha256 ? { uninterrupted: uninterrupted.sha256 } : {}),
        });
        if (variant === "decontamination") uninterrupted = row;
        console.log(
          `  ${row.recordsPerSecond.toFixed(0)} records/s, peak RSS ${row.peakRssMb.toFixed(0)} MB, ${row.invocations} invocation(s), sha256 ${row.sha256Verified ? "matches" : "MISMATCH"}${
            row.sameAsUninterrupted === undefined
              ? ""
              : row.sameAsUninterrupted
                ? " = uninterrupted"
                : " DIFFERS from uninterrupted"
          }`,
        );
        rows.push(row);
      }
    }
    results.export = section(results.export, rows, exportRowKey);
    printGrowth(
      "export",
      growth(
        (results.export as Section<ExportResult>).rows.filter((r) => (r.variant ?? "plain") === "plain"),
        (r) => r.approved,
        EXPORT_GROWTH,
      ),
    );
  }
  if (wanted("bulk")) {
    const rows: BulkRow[] = [];
    const others = Number(values["bulk-others"] ?? 0);
    if (others > 0) {
      console.log(`bulk: seeding ${others} waiting candidates of another run, older than the bulk's…`);
      await seedCandidates(env, 0, others, "bench-bulk-others");
    }
    for (const size of (values["bulk-sizes"] ?? "").split(",").map(Number).filter(Boolean)) {
      const stored = ((await readCounters(env.clients.dynamodb, env.tableName)).total ?? 0) + size;
      console.log(`bulk: a run of ${size} candidates discarded by one bulk job, then undone…`);
      for (const row of await benchBulk(env, size, stored, others)) {
        console.log(
          `  ${row.operation}: ${row.changed} in ${row.seconds.toFixed(1)} s, ${row.perSecond.toFixed(0)}/s`,
        );
        rows.push(row);
      }
    }
    results.bulk = section(results.bulk, rows, bulkRowKey);
  }
  if (wanted("quarantine")) {
    const rows: QuarantineRow[] = [];
    for (const size of (values["quarantine-sizes"] ?? "").split(",").map(Number).filter(Boolean)) {
      console.log(`quarantine: a run of ${size} bad lines, its quarantine read page by page…`);
      for (const row of await benchQuarantine(env, size)) {
        console.log(
          `  ${row.page}: p50 ${row.p50.toFixed(1)} ms, ${row.scannedMb.toFixed(2)} MB read of ${row.fileMb.toFixed(1)}`,
        );
        rows.push(row);
      }
    }
    results.quarantine = section(results.quarantine, rows, quarantineRowKey);
  }
  // Only when asked for (`--only local`): it starts its own runtime per size, minutes each.
  if (values.only?.split(",").includes("local")) {
    const rows: LocalRuntimeImportResult[] = [];
    for (const jvm of (values["local-jvm"] ?? "").split(",").filter(Boolean) as DynamoDbJvm[]) {
      for (const size of (values["local-sizes"] ?? "").split(",").map(Number).filter(Boolean)) {
        console.log(`local: ${size} lines imported through npm start (DynamoDB Local JVM ${jvm})…`);
        const row = await benchLocalRuntimeImport(size, jvm);
        console.log(
          `  started in ${row.startupMs} ms, ${row.candidatesPerSecond.toFixed(0)} candidates/s, runtime peak RSS ${row.runtimePeakRssMb.toFixed(0)} MB`,
        );
        rows.push(row);
      }
    }
    results.localRuntime = section(results.localRuntime, rows, localRuntimeRowKey);
  }
  if (wanted("coldstart")) {
    console.log("coldstart: each synthesized bundle started in a fresh Node process…");
    const load = loadavg()[0];
    const coldStart = await benchColdStart(Number(values["cold-start-samples"]));
    results.coldstart = {
      measuredAt: new Date().toISOString(),
      command: commandLine(),
      // The machine's load (1-minute average) before and after: cold starts are CPU-bound.
      loadAverage: [load, loadavg()[0]],
      ...coldStart,
    };
  }
  if (wanted("cost")) {
    console.log("cost: the monthly AWS bill of the stated workload, from the results above…");
    const cost = modelCost(results);
    results.cost = { measuredAt: new Date().toISOString(), command: commandLine(), ...cost };
    console.log(
      `  serverless $${cost.serverlessUsd.toFixed(2)}/month, always-on container $${cost.containerUsd.toFixed(2)}/month`,
    );
  }
} finally {
  await env?.stop();
}
results.machine = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model,
  memoryGb: totalmem() / 2 ** 30,
  node: process.version,
};
writeFileSync(resultsFile, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(resultsDir, "RESULTS.md"), renderReport(results));
console.log(`wrote ${resultsFile} and ${join(resultsDir, "RESULTS.md")}`);

/** The section's rows merged with those of sizes not measured this time. */
function section<Row>(previous: unknown, rows: Row[], sizeOf: (row: Row) => number) {
  return mergeRows(previous as Section<Row> | undefined, rows, sizeOf, {
    measuredAt: new Date().toISOString(),
    command: commandLine(),
  });
}

function commandLine(): string {
  const args = process.argv.slice(2).join(" ");
  return args ? `npm run bench -- ${args}` : "npm run bench";
}

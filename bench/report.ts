import { renderCostSection } from "./cost.ts";
import { renderExportSection } from "./export.ts";
import type { ImportResult } from "./import.ts";
import type { IngestResult } from "./ingest.ts";
import type { LatencyRow } from "./review.ts";

const fixed = (value: number, digits = 0) => value.toFixed(digits);

/** Renders the measured results as the page an engineer reads before trusting Flywheel. */
export function renderReport(results: Record<string, unknown>): string {
  const machine = results.machine as
    | { cpus: number; cpuModel?: string; memoryGb: number; node: string }
    | undefined;
  const out: string[] = ["# Flywheel — measured results", ""];
  if (machine) {
    out.push(
      `Machine: ${machine.cpus} cores (${machine.cpuModel ?? "unknown CPU"}), ${fixed(machine.memoryGb)} GiB, Node ${machine.node}.`,
      "Emulators: DynamoDB Local 3.3 (in memory) and fauxqs on loopback. Absolute speeds are the emulators';",
      "the shape (flat memory, flat cost per item) is what carries over to AWS.",
      "",
    );
  }
  const imports = results.import as { measuredAt: string; command: string; rows: ImportResult[] } | undefined;
  if (imports) {
    out.push(
      "## Import",
      "",
      `\`${imports.command}\` — ${imports.measuredAt}. Generated runs (\`generate-run.mjs --broken 0.01\`), uploaded to S3,`,
      "imported by the real handler in a child process (peak memory = that process's own RSS high-water mark, `VmHWM`), run with",
      "`--max-old-space-size=256` like a Lambda function's bounded heap: an import that held the run in",
      "memory could not finish under it.",
      "Write units are what `ReturnConsumedCapacity` reports for the import's own writes; the floor is one",
      "write per KB of item for the table and each of its two indexes. DynamoDB Local reports a whole",
      "transaction as if it held one item, so its figure understates AWS's: candidates are written in",
      "transactions of up to 99 (2× the table write, so the stats counters move atomically with them) and",
      "the cost model below uses the units derived from that code path, not this column.",
      "",
      "| lines | imported | quarantined | file MB | seconds | candidates/s | peak RSS MB | peak heap MB | item KB | WCU/candidate | floor WCU | RCU/candidate |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...imports.rows.map(
        (r) =>
          `| ${r.lines} | ${r.imported} | ${r.quarantined} | ${fixed(r.fileMb, 1)} | ${fixed(r.seconds, 1)} | ${fixed(r.candidatesPerSecond)} | ${fixed(r.peakRssMb)} | ${fixed(r.peakHeapMb)} | ${fixed(r.itemKb, 2)} | ${fixed(r.writeUnitsPerCandidate, 2)} | ${r.floorWriteUnitsPerCandidate} | ${fixed(r.readUnitsPerCandidate, 2)} |`,
      ),
      "",
    );
  }
  const ingest = results.ingest as { measuredAt: string; command: string; rows: IngestResult[] } | undefined;
  if (ingest) {
    out.push(
      "## Ingest",
      "",
      `\`${ingest.command}\` — ${ingest.measuredAt}. Corrections published to the corrections queue with`,
      "`publishCorrection` (1% repeating an earlier idempotency key, 1% malformed, sent raw), then drained by",
      "local pollers feeding the real ingest handler (`npm start` runs one; Lambda scales out like several).",
      "",
      "| messages | distinct | duplicates | malformed | pollers | stored | DLQ | publish s | published/s | drain s | ingested/s |",
      "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
      ...ingest.rows.map(
        (r) =>
          `| ${r.messages} | ${r.distinct} | ${r.duplicates} | ${r.malformed} | ${r.pollers} | ${r.stored} | ${r.dlq} | ${fixed(r.publishSeconds, 1)} | ${fixed(r.publishedPerSecond)} | ${fixed(r.drainSeconds, 1)} | ${fixed(r.ingestedPerSecond)} |`,
      ),
      "",
    );
  }
  const review = results.review as { measuredAt: string; command: string; rows: LatencyRow[] } | undefined;
  if (review) {
    const sizes = [...new Set(review.rows.map((r) => r.stored))].sort((a, b) => a - b);
    const smallest = sizes[0];
    const largest = sizes.at(-1);
    out.push(
      "## Review API latency",
      "",
      `\`${review.command}\` — ${review.measuredAt}. The real api handler called in-process with API Gateway v2`,
      "events (handler + DynamoDB Local, no HTTP), sequentially; decided ids are spread over the whole table.",
      "Candidates are seeded in the import's item shape before each size is measured.",
      "",
      "| stored candidates | operation | samples | p50 ms | p95 ms | p99 ms |",
      "|---:|---|---:|---:|---:|---:|",
      ...review.rows.map(
        (r) =>
          `| ${r.stored} | ${r.operation} | ${r.samples} | ${fixed(r.p50, 1)} | ${fixed(r.p95, 1)} | ${fixed(r.p99, 1)} |`,
      ),
      "",
    );
    if (smallest !== undefined && largest !== undefined && smallest !== largest) {
      out.push(`Growth: p99 at ${largest} ÷ p99 at ${smallest} stored candidates (target ≤ 1.5).`, "");
      out.push("| operation | ratio |", "|---|---:|");
      for (const operation of new Set(review.rows.map((r) => r.operation))) {
        const at = (stored: number) =>
          review.rows.find((r) => r.operation === operation && r.stored === stored);
        const ratio = (at(largest)?.p99 ?? Number.NaN) / (at(smallest)?.p99 ?? Number.NaN);
        out.push(`| ${operation} | ${fixed(ratio, 2)} |`);
      }
      out.push("");
    }
  }
  out.push(...renderExportSection(results.export));
  out.push(...renderCostSection(results.cost));
  return `${out.join("\n")}\n`;
}

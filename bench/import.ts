import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { Upload } from "@aws-sdk/lib-storage";
import { keys } from "../lib/common/adapters/table-keys.ts";
import { writeRun } from "../samples/generate-run.ts";
import type { BenchEnvironment } from "./environment.ts";
import type { Metric } from "./sections.ts";
import { runWorker } from "./worker.ts";

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
  const file = join(dir, "sft_candidates.jsonl");
  try {
    await writeRun(file, { count, runId, broken: 0.01 });
    const key = `runs/${runId}/sft_candidates.jsonl`;
    const upload = await new Upload({
      client: env.clients.s3,
      params: { Bucket: env.bucket, Key: key, Body: createReadStream(file) },
    }).done();
    const measured = await runWorker(
      "import-worker.ts",
      [env.bucket, key, (upload.ETag ?? "").replaceAll('"', "")],
      env.handlerEnv,
      // V8 sizes its heap from the machine (24 GB here) and postpones collection accordingly; a
      // Lambda function's heap is bounded by its memory setting, so the import runs under such a cap.
      [`--max-old-space-size=${IMPORT_HEAP_LIMIT_MB}`],
    );
    const run = (
      await env.clients.dynamodb.send(new GetCommand({ TableName: env.tableName, Key: keys.run(runId) }))
    ).Item as {
      counts: { lines: number; imported: number; quarantined: number };
      capacity: { write_units: number; read_units: number };
    };
    const itemKb = await averageItemKb(env, runId, run.counts.lines);
    // One write per KB for the item, and again for each of the two indexes that project it.
    const floor = Math.ceil(itemKb) * 3;
    return {
      lines: run.counts.lines,
      imported: run.counts.imported,
      quarantined: run.counts.quarantined,
      fileMb: statSync(file).size / 1024 / 1024,
      seconds: measured.durationMs / 1000,
      candidatesPerSecond: run.counts.imported / (measured.durationMs / 1000),
      peakRssMb: measured.maxRssMb,
      peakHeapMb: measured.heapPeakMb,
      writeUnitsPerCandidate: run.capacity.write_units / Math.max(1, run.counts.imported),
      readUnitsPerCandidate: run.capacity.read_units / Math.max(1, run.counts.imported),
      itemKb,
      floorWriteUnitsPerCandidate: floor,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

import { Upload } from "@aws-sdk/lib-storage";
import { lambdaContext } from "../tests/support/events.ts";
import { callApi } from "../tests/support/http-events.ts";
import type { BenchEnvironment } from "./environment.ts";
import { measuredBy, type Section } from "./sections.ts";

/** One page read of a run's quarantine through the real api handler, at one size of file. */
export interface QuarantineRow {
  readonly entries: number;
  readonly fileMb: number;
  /** `first 50`, `first 500`, `rare reason` (a filter matching only the last line). */
  readonly page: string;
  readonly samples: number;
  readonly items: number;
  readonly scannedMb: number;
  readonly p50: number;
  readonly p95: number;
  /** Growth of this process's RSS across the samples (the handler runs in process). */
  readonly rssGrowthMb: number;
}

const PAGES = ["first 50", "first 500", "rare reason"] as const;

export const quarantineRowKey = (row: QuarantineRow) =>
  row.entries * 10 + PAGES.indexOf(row.page as (typeof PAGES)[number]);
const QUERIES: Record<(typeof PAGES)[number], Record<string, string>> = {
  "first 50": { limit: "50" },
  "first 500": { limit: "500" },
  "rare reason": { reason: "missing_id" },
};

/**
 * A run of `entries` bad lines of about 2,000 characters each (and one `missing_id` line last) is
 * imported, and pages of its quarantine are read through the api handler in process: the first 50
 * entries, the first 500, and a filter matching only the last line (a page stops after 4 MiB of
 * the file). Time per page does not depend on the file's size; memory holds one range and a page.
 */
export async function benchQuarantine(
  env: BenchEnvironment,
  entries: number,
  samples = 20,
): Promise<QuarantineRow[]> {
  for (const [name, value] of Object.entries({ ...env.handlerEnv, REVIEWER_TOKEN: "bench-token" })) {
    process.env[name] = value;
  }
  const { handler } = await import("../functions/api.ts");
  const context = lambdaContext("api");
  const runId = `bench-quarantine-${entries}`;
  const lines = Array.from({ length: entries }, (_, i) => `not json ${i} ${"x".repeat(2_000)}`);
  lines.push(JSON.stringify({ prompt_messages: [] }));
  await new Upload({
    client: env.clients.s3,
    params: { Bucket: env.bucket, Key: `runs/${runId}/sft_candidates.jsonl`, Body: lines.join("\n") },
  }).done();
  const call = async (query: Record<string, string>) => {
    const reply = await callApi(handler, context, "GET", `/api/sft/runs/${runId}/quarantine`, {
      token: "bench-token",
      query,
    });
    if (reply.status !== 200)
      throw new Error(`quarantine page → ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body as { items: unknown[]; scanned_bytes: number; file_bytes: number };
  };
  const imported = await callApi(handler, context, "POST", "/api/sft/import", {
    token: "bench-token",
    body: { run_id: runId },
  });
  if (imported.status !== 200)
    throw new Error(`import → ${imported.status} ${JSON.stringify(imported.body)}`);

  const rows: QuarantineRow[] = [];
  for (const page of PAGES) {
    await call(QUERIES[page]);
    const rss = process.memoryUsage().rss;
    const durations: number[] = [];
    let last: Awaited<ReturnType<typeof call>> | undefined;
    for (let i = 0; i < samples; i++) {
      const started = performance.now();
      last = await call(QUERIES[page]);
      durations.push(performance.now() - started);
    }
    durations.sort((a, b) => a - b);
    rows.push({
      entries,
      fileMb: (last?.file_bytes ?? 0) / 1e6,
      page,
      samples,
      items: last?.items.length ?? 0,
      scannedMb: (last?.scanned_bytes ?? 0) / 1e6,
      p50: percentile(durations, 50),
      p95: percentile(durations, 95),
      rssGrowthMb: (process.memoryUsage().rss - rss) / 1e6,
    });
  }
  return rows;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

export function renderQuarantineSection(section: unknown): string[] {
  const quarantine = section as Section<QuarantineRow> | undefined;
  if (!quarantine) return [];
  const fixed = (value: number, digits = 0) => value.toFixed(digits);
  return [
    "## Reading a run's quarantine",
    "",
    ...measuredBy(quarantine, (r) => r.entries),
    "`GET /api/sft/runs/{run_id}/quarantine` through the real api handler in process, on a run of bad lines of",
    "about 2,000 characters each (one `missing_id` line last) imported first. The file is read in 256 KiB ranged",
    "GETs from the cursor's byte; a page ends at its `limit` or after 4 MiB of the file, so the rare reason's",
    "first page finds nothing and answers a cursor. RSS growth is this process's over the samples.",
    "",
    "| entries | file MB | page | samples | items | MB read | p50 ms | p95 ms | RSS growth MB |",
    "|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ...quarantine.rows.map(
      (r) =>
        `| ${r.entries} | ${fixed(r.fileMb, 1)} | ${r.page} | ${r.samples} | ${r.items} | ${fixed(r.scannedMb, 2)} | ${fixed(r.p50, 1)} | ${fixed(r.p95, 1)} | ${fixed(r.rssGrowthMb, 1)} |`,
    ),
    "",
  ];
}

import { describe, expect, it } from "vitest";
import { renderReport } from "../../../bench/report.ts";
import { type LatencyRow, reviewGrowth } from "../../../bench/review.ts";

const provenance = { measuredAt: "2026-12-06T04:50:00Z", command: "npm run bench" };

const row = (operation: string, p50: number, p99: number, extra: Partial<LatencyRow> = {}): LatencyRow => ({
  stored: 100_000,
  operation,
  samples: 500,
  p50,
  p95: p99 - 1,
  p99,
  ...extra,
});

describe("the report's review API over HTTP", () => {
  it("puts each operation over HTTP beside the same operation in-process, with the ratios, CPU and load", () => {
    const loadAverage = [3.04, 4.5] as const;
    const report = renderReport({
      review: {
        ...provenance,
        rows: [
          row("stats", 5.7, 9.1, { cpuMs: 2.5, loadAverage }),
          row("stats over HTTP", 7.2, 13.2, { cpuMs: 3.75, loadAverage }),
        ],
      },
    });
    // The in-process table keeps its columns; the HTTP rows are rows of their own in it.
    expect(report).toContain("| 100000 | stats | 500 | 5.7 | 8.1 | 9.1 |");
    expect(report).toContain("| 100000 | stats over HTTP | 500 | 7.2 | 12.2 | 13.2 |");
    expect(report).toContain("### Over HTTP");
    expect(report).toContain(
      "| 100000 | stats | 5.7 / 9.1 | 7.2 / 13.2 | 1.26 | 1.45 | 2.50 | 3.75 | 3.0 → 4.5 |",
    );
  });

  it("pairs only rows measured by the same run, and shows a dash for figures older rows lack", () => {
    const older = { measuredAt: "2026-11-22T04:47:10.024Z", command: "npm run bench" };
    const report = renderReport({
      review: {
        ...provenance,
        rows: [
          { ...row("undo", 13.9, 25.1), ...older },
          { ...row("undo over HTTP", 20, 30), ...provenance },
          { ...row("queue page (per_page=20)", 15.7, 26.6), ...provenance },
          { ...row("queue page (per_page=20) over HTTP", 18, 30), ...provenance },
        ],
      },
    });
    expect(report).not.toMatch(/\| 100000 \| undo \| 13\.9 \/ 25\.1 \|/);
    expect(report).toContain(
      "| 100000 | queue page (per_page=20) | 15.7 / 26.6 | 18.0 / 30.0 | 1.15 | 1.13 | – | – | – |",
    );
  });

  it("has no HTTP table when no row was measured over HTTP", () => {
    const report = renderReport({ review: { ...provenance, rows: [row("stats", 5.7, 9.1)] } });
    expect(report).toContain("## Review API latency");
    expect(report).not.toContain("### Over HTTP");
  });

  it("keeps growth to the in-process rows, which may reach sizes the HTTP rows do not", () => {
    const table = reviewGrowth([
      { ...row("stats", 5, 10), stored: 1_000 },
      { ...row("stats over HTTP", 6, 12), stored: 1_000 },
      { ...row("stats", 6, 12), stored: 100_000 },
      { ...row("stats over HTTP", 9, 18), stored: 100_000 },
      { ...row("stats", 7.5, 15), stored: 1_000_000 },
    ]);
    expect(table?.largest).toBe(1_000_000);
    expect(table?.ratios).toEqual([
      { metric: "stats p50", ratio: 1.5 },
      { metric: "stats p99", ratio: 1.5 },
    ]);
  });
});

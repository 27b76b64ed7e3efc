import { describe, expect, it } from "vitest";
import { type IngestResult, ingestGrowth, ingestRowKey } from "../../../bench/ingest.ts";
import { reviewGrowth } from "../../../bench/review.ts";
import { growth, measuredBy, mergeRows } from "../../../bench/sections.ts";

const defaults = { measuredAt: "2026-11-22T04:00:00Z", command: "npm run bench" };
const scale = { measuredAt: "2026-11-22T05:00:00Z", command: "npm run bench -- --import-sizes 1000000" };

describe("benchmark sections", () => {
  it("adds the rows of a new size and replaces a size measured again, keeping who measured each", () => {
    const first = mergeRows(undefined, [{ lines: 10 }, { lines: 100 }], (r) => r.lines, defaults);
    const second = mergeRows(first, [{ lines: 1_000 }, { lines: 10 }], (r) => r.lines, scale);

    expect(second.rows).toEqual([
      { lines: 10, ...scale },
      { lines: 100, ...defaults },
      { lines: 1_000, ...scale },
    ]);
    expect(measuredBy(second)).toEqual([
      `\`${scale.command}\` — ${scale.measuredAt}.`,
      `\`${defaults.command}\` — ${defaults.measuredAt}.`,
    ]);
    expect(measuredBy(second, (r) => r.lines)).toEqual([
      `\`${scale.command}\` (10, 1000) — ${scale.measuredAt}.`,
      `\`${defaults.command}\` (100) — ${defaults.measuredAt}.`,
    ]);
  });

  it("credits rows stored before rows carried their command to the section's command", () => {
    const legacy = { ...defaults, rows: [{ lines: 10 }] };
    const merged = mergeRows(legacy, [{ lines: 100 }], (r) => r.lines, scale);

    expect(merged.rows[0]).toEqual({ lines: 10, ...defaults });
  });

  it("divides each figure at the largest size by the figure at the smallest", () => {
    const rows = [
      { lines: 100_000, seconds: 30, rss: 150 },
      { lines: 10_000, seconds: 3, rss: 100 },
      { lines: 1_000_000, seconds: 600, rss: 160 },
    ];
    const table = growth(rows, (r) => r.lines, [
      { name: "seconds per line", value: (r) => r.seconds / r.lines },
      { name: "peak RSS", value: (r) => r.rss },
    ]);

    expect(table?.smallest).toBe(10_000);
    expect(table?.largest).toBe(1_000_000);
    expect(table?.ratios.map((r) => [r.metric, r.ratio])).toEqual([
      ["seconds per line", 2],
      ["peak RSS", 1.6],
    ]);
    expect(growth(rows.slice(0, 1), (r) => r.lines, [])).toBeUndefined();
  });

  it("compares each review operation's p50 and p99 with the same operation's", () => {
    const row = (stored: number, operation: string, p99: number) => ({
      stored,
      operation,
      samples: 10,
      p50: p99 / 10,
      p95: 1,
      p99,
    });
    const table = reviewGrowth([
      row(1_000, "submit", 20),
      row(1_000, "undo", 10),
      row(1_000_000, "submit", 25),
      row(1_000_000, "undo", 30),
    ]);

    expect(table?.ratios).toEqual([
      { metric: "submit p50", ratio: 1.25 },
      { metric: "submit p99", ratio: 1.25 },
      { metric: "undo p50", ratio: 3 },
      { metric: "undo p99", ratio: 3 },
    ]);
  });

  it("compares ingest drain time per message across burst sizes, one poller count at a time", () => {
    const row = (messages: number, pollers: number, drainSeconds: number) =>
      ({ messages, pollers, drainSeconds }) as IngestResult;
    const rows = [row(1_000, 1, 4), row(1_000, 4, 2), row(10_000, 1, 48), row(10_000, 4, 20)];

    expect(ingestGrowth(rows)?.ratios).toEqual([
      { metric: "drain seconds per 1,000 messages, 1 poller(s)", ratio: 1.2 },
      { metric: "drain seconds per 1,000 messages, 4 poller(s)", ratio: 1 },
    ]);
    expect(new Set(rows.map(ingestRowKey)).size).toBe(4);
  });
});

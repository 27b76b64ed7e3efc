import { describe, expect, it } from "vitest";
import type { ImportResult } from "../../../bench/import.ts";
import { type LocalRuntimeImportResult, localRuntimeRowKey } from "../../../bench/local-runtime.ts";
import { renderReport } from "../../../bench/report.ts";

const provenance = { measuredAt: "2026-12-05T23:00:00Z", command: "npm run bench -- --only local" };

const inProcess = {
  lines: 100_000,
  imported: 99_018,
  quarantined: 982,
  fileMb: 210.5,
  seconds: 114.3,
  candidatesPerSecond: 866.3,
  peakRssMb: 158.7,
  peakHeapMb: 45.8,
  writeUnitsPerCandidate: 0.2,
  readUnitsPerCandidate: 0,
  itemKb: 2.83,
  floorWriteUnitsPerCandidate: 9,
} satisfies ImportResult;

const row = (lines: number, jvm: "full" | "quick"): LocalRuntimeImportResult => ({
  lines,
  jvm,
  imported: lines - lines / 100,
  quarantined: lines / 100,
  startupMs: 6_123,
  emulatorsMs: 2_274,
  seconds: 114.3,
  candidatesPerSecond: 790.2,
  runtimePeakRssMb: 221.6,
  dynamodbRssMb: 1_020.4,
  loadAverage: [1.04, 2.5],
});

describe("the report's import through npm start", () => {
  it("puts each row beside the in-process import of the same size, with the command and the load", () => {
    const report = renderReport({
      import: { ...provenance, rows: [inProcess] },
      localRuntime: { ...provenance, rows: [row(10_000, "full"), row(100_000, "full")] },
    });
    expect(report).toContain("## Import through npm start");
    expect(report).toContain("`npm run bench -- --only local` (10000, 100000) — 2026-12-05T23:00:00Z.");
    expect(report).toContain(
      "| 100000 | full | 99000 | 6123 | 2274 | 114.3 | 790 | 866 | 222 | 1020 | 1.0 → 2.5 |",
    );
    // No in-process row of that size: nothing to compare with.
    expect(report).toContain(
      "| 10000 | full | 9900 | 6123 | 2274 | 114.3 | 790 | – | 222 | 1020 | 1.0 → 2.5 |",
    );
  });

  it("keeps the two JVMs of one size apart", () => {
    expect(localRuntimeRowKey(row(10_000, "full"))).not.toBe(localRuntimeRowKey(row(10_000, "quick")));
    expect(renderReport({})).not.toContain("npm start");
  });
});

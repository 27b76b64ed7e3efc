import { describe, expect, it } from "vitest";
import {
  type DeadlineImportResult,
  type ImportResult,
  renderDeadlineImportSection,
} from "../../../bench/import.ts";
import { renderReport } from "../../../bench/report.ts";

const provenance = { measuredAt: "2026-12-05T23:00:00Z", command: "npm run bench -- --only import" };

const uninterrupted: ImportResult = {
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
};

const deadlineRow: DeadlineImportResult = {
  lines: 100_000,
  imported: 99_018,
  quarantined: 982,
  invocations: 4,
  budgetSeconds: 28.6,
  seconds: 118.25,
  invocationSeconds: [30.1, 30.4, 29.9, 27.85],
  candidatesPerSecond: 837.4,
  peakRssMb: 161.2,
  peakHeapMb: 46.1,
  uninterruptedSeconds: 114.3,
  countsMatch: true,
  sha256Matches: true,
  quarantineMatches: true,
};

describe("the import with the deadline in force, in the report", () => {
  it("renders a subsection of Import with the invocations and whether the counts match", () => {
    const report = renderReport({
      import: { ...provenance, rows: [{ ...uninterrupted, ...provenance }] },
      importDeadline: { ...provenance, rows: [{ ...deadlineRow, ...provenance }] },
      ingest: { ...provenance, rows: [] },
    });

    const heading = report.indexOf("### With the deadline in force");
    expect(heading).toBeGreaterThan(report.indexOf("## Import"));
    expect(heading).toBeLessThan(report.indexOf("## Ingest"));
    expect(report).toContain(`\`${provenance.command}\` (100000) — ${provenance.measuredAt}.`);
    expect(report).toContain(
      "| 100000 | 99018 | 982 | 4 | 28.6 | 118.3 | 30.1, 30.4, 29.9, 27.9 | 837 | 114.3 | 161 | 46 | yes | yes | yes |",
    );
  });

  it("says NO where a check failed, and renders nothing without rows", () => {
    const lines = renderDeadlineImportSection({ rows: [{ ...deadlineRow, countsMatch: false }] });

    expect(lines.find((line) => line.startsWith("| 100000 "))).toMatch(/\| NO \| yes \| yes \|$/);
    expect(renderDeadlineImportSection(undefined)).toEqual([]);
    expect(renderDeadlineImportSection({ rows: [] })).toEqual([]);
  });
});

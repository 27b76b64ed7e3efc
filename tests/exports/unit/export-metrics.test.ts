import { describe, expect, it } from "vitest";
import { RecordingMetrics } from "../../../lib/common/metrics.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import { EXPORT_METRICS } from "../../../lib/exports/metrics.ts";
import { createExport, exportStatus } from "../../../lib/exports/usecases/exports.ts";
import { sqsRecord } from "../../support/events.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";
import { capturedLogLines } from "../../support/logs.ts";

describe("the export metrics", () => {
  it("count each export written, its records, and the candidates kept out by reason", async () => {
    const setup = memoryExportDeps([
      reviewed("one"),
      reviewed("two"),
      reviewed("waiting", { status: "needs_review" }),
    ]);
    const metrics = new RecordingMetrics();
    const job = await createExport(setup.deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    const handle = createExportRecordHandler(setup.deps, { maxReceiveCount: 3, metrics });
    const lines = await capturedLogLines(() =>
      handle(sqsRecord(JSON.stringify({ export_id: job.id }), { messageId: "msg-export-1" })),
    );

    const manifest = (await exportStatus(setup.deps, job.id)).manifest as ExportManifest;
    expect(manifest.counts.exported).toBeGreaterThan(0);
    expect(metrics.total(EXPORT_METRICS.exports)).toBe(1);
    expect(metrics.total(EXPORT_METRICS.records)).toBe(manifest.counts.exported);
    expect(metrics.total(EXPORT_METRICS.quarantined)).toBe(manifest.counts.quarantined);
    for (const [reason, count] of Object.entries(manifest.counts.by_reason)) {
      expect(metrics.total(EXPORT_METRICS.quarantined, reason)).toBe(count);
    }

    const written = lines.find((line) => line.includes("export written"));
    expect(written).toContain("correlation_id=msg-export-1");
    expect(written).toContain(`export_id=${job.id}`);
  });

  it("count nothing for a dry run, which writes nothing", async () => {
    const setup = memoryExportDeps([reviewed("one")]);
    const metrics = new RecordingMetrics();
    const job = await createExport(
      setup.deps,
      ExportRequest.parse({ format: "openai-sft", options: { dry_run: true } }),
      "ana",
    );
    await createExportRecordHandler(setup.deps, { maxReceiveCount: 3, metrics })(
      sqsRecord(JSON.stringify({ export_id: job.id })),
    );
    expect(metrics.points).toEqual([]);
  });
});

import { describe, expect, it } from "vitest";
import {
  ExportJobSummaryReply,
  ExportJobViewReply,
  ExportListReply,
} from "../../../lib/exports/domain/export-replies.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import {
  createExport,
  exportStatus,
  listExports,
  runExportJob,
} from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { seededMix } from "../../support/export-fixtures.ts";

describe("the exports API's reply schemas", () => {
  it("describe a queued job, a finished one with its links, a dry run and the list", async () => {
    const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
    const queued = await createExport(
      setup.deps,
      ExportRequest.parse({ format: "trl-sft", options: { validation_fraction: 0.3 } }),
      "ana@example.com",
    );
    expect(ExportJobSummaryReply.safeParse(queued).error).toBeUndefined();
    expect(ExportJobViewReply.safeParse(await exportStatus(setup.deps, queued.id)).error).toBeUndefined();

    await runExportJob(setup.deps, queued.id);
    const done = ExportJobViewReply.parse(await exportStatus(setup.deps, queued.id));
    expect(done.status).toBe("succeeded");
    expect(done.manifest?.counts.quarantined).toBeGreaterThan(0);
    expect(done.download?.url).toMatch(/^https?:\/\//);
    expect(done.quarantine_download?.file_name).toMatch(/\.quarantine\.jsonl$/);
    expect(done.validation_download?.file_name).toMatch(/\.validation\.jsonl$/);
    expect(done.record_index_download?.file_name).toMatch(/\.records\.jsonl$/);
    expect(done.record_index_download?.url).toContain(done.manifest?.files.records.key);

    const dry = await createExport(
      setup.deps,
      ExportRequest.parse({ format: "rag", options: { dry_run: true } }),
      "ana@example.com",
    );
    await runExportJob(setup.deps, dry.id);
    const dryView = ExportJobViewReply.parse(await exportStatus(setup.deps, dry.id));
    expect(dryView.manifest?.dry_run).toBe(true);
    expect(dryView.record_index_download).toBeNull();

    const list = ExportListReply.parse(await listExports(setup.deps, 10));
    expect(list.exports.map((job) => job.id).sort()).toEqual([queued.id, dry.id].sort());
  });

  it("refuse a reply that lost a field the UI reads", () => {
    expect(ExportJobSummaryReply.safeParse({ id: "e1", status: "queued", format: "trl-sft" }).success).toBe(
      false,
    );
  });
});

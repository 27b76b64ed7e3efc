import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../lib/common/domain/errors.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExport, exportStatus, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { seededMix } from "../../support/export-fixtures.ts";

async function run(setup: ReturnType<typeof memoryExportDeps>, request: unknown) {
  const job = await createExport(setup.deps, ExportRequest.parse(request), "ana");
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  return { id: job.id, manifest };
}

describe("several formats in one job", () => {
  const filters = { exclude_categories: ["scoring_artifact"] };

  it("writes each format as its own export would, under formats/<format>/, and one manifest of them all", async () => {
    const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
    const { id, manifest } = await run(setup, { format: "openai-sft", formats: ["trl-dpo", "rag"], filters });

    expect(manifest.format).toBe("openai-sft");
    expect(manifest.formats?.map((part) => [part.format, part.files.dataset.key])).toEqual([
      ["openai-sft", `exports/${id}/dataset.jsonl`],
      ["trl-dpo", `exports/${id}/formats/trl-dpo/dataset.jsonl`],
      ["rag", `exports/${id}/formats/rag/dataset.jsonl`],
    ]);
    expect(JSON.parse(setup.objects.body(`exports/${id}/manifest.json`))).toEqual(manifest);
    // The top level is the first format's, as a single-format export's manifest.
    const alone = await run(setup, { format: "openai-sft", filters });
    expect(manifest.files.dataset.sha256).toBe(alone.manifest.files.dataset.sha256);
    expect(manifest.counts).toEqual(alone.manifest.counts);
    expect(alone.manifest).not.toHaveProperty("formats");

    // Each other format: the same bytes, counts and warnings as that format exported alone.
    for (const format of ["trl-dpo", "rag"] as const) {
      const single = await run(setup, { format, filters });
      const part = manifest.formats?.find((p) => p.format === format);
      expect(part?.files.dataset.sha256).toBe(single.manifest.files.dataset.sha256);
      expect(part?.files.quarantine.sha256).toBe(single.manifest.files.quarantine.sha256);
      expect(part?.counts).toEqual(single.manifest.counts);
      expect(part?.warnings.map((w) => w.code)).toEqual(single.manifest.warnings.map((w) => w.code));
      expect(setup.objects.body(`exports/${id}/formats/${format}/dataset.jsonl`)).toBe(
        setup.objects.body(`exports/${single.id}/dataset.jsonl`),
      );
    }
    // RAG's documents sit under its own part.
    expect(manifest.formats?.[2]?.files.documents?.prefix).toBe(`exports/${id}/formats/rag/documents/`);

    const status = await exportStatus(setup.deps, id);
    expect(status.download?.url).toContain(`exports/${id}/dataset.jsonl`);
    expect(status).toMatchObject({
      format_downloads: {
        "trl-dpo": {
          download: { url: expect.stringContaining(`exports/${id}/formats/trl-dpo/dataset.jsonl`) },
          quarantine_download: { url: expect.stringContaining(`formats/trl-dpo/quarantine.jsonl`) },
        },
        rag: { download: { file_name: expect.stringMatching(/^sft_export_\d{8}-\d{6}\.rag\.jsonl$/) } },
      },
    });
  });

  it("refuses options one of the formats does not take, a format twice, and writes nothing", async () => {
    const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
    const refused = createExport(
      setup.deps,
      ExportRequest.parse({ format: "trl-dpo", formats: ["openai-sft"], options: { pairing: "same_task" } }),
      "ana",
    );
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    await expect(refused).rejects.toMatchObject({
      issues: [
        { loc: ["body", "formats", 0], msg: expect.stringContaining("openai-sft: pairing same_task") },
      ],
    });
    expect(setup.queue.sent).toEqual([]);
    expect(ExportRequest.safeParse({ format: "trl-dpo", formats: ["rag", "rag"] }).success).toBe(false);
    expect(ExportRequest.safeParse({ format: "trl-dpo", formats: ["csv"] }).success).toBe(false);
  });

  it("counts the request's own format once when formats names it too", async () => {
    const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
    const { manifest } = await run(setup, { format: "trl-sft", formats: ["trl-sft", "trl-kto"], filters });
    expect(manifest.formats?.map((part) => part.format)).toEqual(["trl-sft", "trl-kto"]);
  });
});

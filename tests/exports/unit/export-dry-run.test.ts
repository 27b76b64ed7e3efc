import { describe, expect, it } from "vitest";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExport, exportStatus, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { seededMix } from "../../support/export-fixtures.ts";

async function run(request: unknown) {
  const setup = memoryExportDeps(seededMix().map((s) => s.candidate));
  const job = await createExport(setup.deps, ExportRequest.parse(request), "ana@example.com");
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  return { setup, job, manifest };
}

describe("options.dry_run", () => {
  it.each(["trl-kto", "rag"])(
    "%s: counts and reasons as the real export has them, the files it would write, and nothing written",
    async (format) => {
      const real = await run({
        format,
        options: { validation_fraction: format === "rag" ? undefined : 0.3 },
      });
      const dry = await run({
        format,
        options: { dry_run: true, validation_fraction: format === "rag" ? undefined : 0.3 },
      });
      expect(dry.manifest.dry_run).toBe(true);
      expect(real.manifest).not.toHaveProperty("dry_run");
      expect(dry.manifest.counts).toEqual(real.manifest.counts);
      expect(dry.manifest.counts.quarantined).toBeGreaterThan(0);
      // All but the documents' expiry: a dry run wrote none.
      expect(dry.manifest.warnings).toEqual(
        real.manifest.warnings.filter((warning) => warning.code !== "documents_expire"),
      );
      expect(real.manifest.warnings.some((warning) => warning.code === "documents_expire")).toBe(
        format === "rag",
      );
      for (const name of ["dataset", "quarantine", "records"] as const) {
        expect(dry.manifest.files[name].sha256).toBe(real.manifest.files[name].sha256);
      }
      expect([...dry.setup.objects.objects.keys()]).toEqual([]);
      expect([...real.setup.objects.objects.keys()].length).toBeGreaterThan(0);

      const view = await exportStatus(dry.setup.deps, dry.job.id);
      expect(view).toMatchObject({ status: "succeeded", download: null, quarantine_download: null });
      expect(view.manifest?.counts).toEqual(real.manifest.counts);
    },
  );
});

import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { splitOf } from "../../../lib/exports/domain/export-firewall.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExport, exportStatus, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");
const parse = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

const candidates = Array.from({ length: 200 }, (_, i) => reviewed(`split-${i}`));

async function exported(setup: ReturnType<typeof memoryExportDeps>, request: unknown) {
  const job = await createExport(setup.deps, ExportRequest.parse(request), "ana@example.com");
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  const file = (name: string) =>
    setup.objects.objects.has(`exports/${job.id}/${name}`)
      ? setup.objects.body(`exports/${job.id}/${name}`)
      : "";
  return {
    job,
    manifest,
    dataset: parse(file("dataset.jsonl")),
    validationText: file("validation.jsonl"),
    validation: parse(file("validation.jsonl")),
    records: parse(file("records.jsonl")),
    quarantine: parse(file("quarantine.jsonl")),
  };
}

const sides = (records: { candidate_id: string; file?: string }[]) =>
  Object.fromEntries(records.map((r) => [r.candidate_id, r.file ?? "train"]));

describe("options.validation_fraction", () => {
  it("writes a validation file of about that share, in the manifest with its sha256, mapped in records.jsonl", async () => {
    const setup = memoryExportDeps(candidates);
    const { manifest, dataset, validation, validationText, records } = await exported(setup, {
      format: "trl-dpo",
      options: { validation_fraction: 0.2 },
    });
    expect(dataset.length + validation.length).toBe(200);
    expect(validation.length).toBeGreaterThan(20);
    expect(validation.length).toBeLessThan(60);
    expect(manifest.files.validation).toMatchObject({
      key: expect.stringMatching(/\/validation\.jsonl$/),
      lines: validation.length,
      sha256: sha256(validationText),
    });
    expect(manifest.files.dataset.lines).toBe(dataset.length);
    // Each file's lines are numbered from 1 in the record index, which names the validation file.
    const inValidation = records.filter((r) => r.file === "validation");
    expect(inValidation.map((r) => r.line)).toEqual(validation.map((_, i) => i + 1));
    expect(inValidation.map((r) => r.record_id)).toEqual(validation.map((line) => line.id));
    const inDataset = records.filter((r) => r.file === undefined);
    expect(inDataset.map((r) => r.record_id)).toEqual(dataset.map((line) => line.id));
  });

  it("keeps a candidate on its side across exports, formats and a growing selection", async () => {
    const first = await exported(memoryExportDeps(candidates.slice(0, 120)), {
      format: "openai-sft",
      options: { validation_fraction: 0.2 },
    });
    const second = await exported(memoryExportDeps(candidates), {
      format: "trl-kto",
      options: { validation_fraction: 0.2 },
    });
    const before = sides(first.records);
    const after = sides(second.records);
    expect(Object.keys(before)).toHaveLength(120);
    for (const [candidate, side] of Object.entries(before)) expect(after[candidate], candidate).toBe(side);
    expect(Object.values(before)).toContain("validation");
    for (const [candidate, side] of Object.entries(after)) {
      expect(side).toBe(splitOf(candidate, 0.2));
    }
  });

  it("lays out KTO lines apart in each file", async () => {
    const { dataset, validation } = await exported(memoryExportDeps(candidates), {
      format: "trl-kto",
      options: { validation_fraction: 0.3 },
    });
    for (const file of [dataset, validation]) {
      expect(file.map((line) => line.label)).toEqual(file.map((_, i) => i % 2 === 1));
      for (let i = 1; i < file.length; i += 1) {
        expect(JSON.stringify(file[i].prompt)).not.toBe(JSON.stringify(file[i - 1].prompt));
      }
    }
  });

  it("points a duplicate of a validation record at its line in the validation file", async () => {
    const original = candidates.find(
      (c) => splitOf(c.id, 0.5) === "validation",
    ) as (typeof candidates)[number];
    const copy = { ...original, id: `${original.id}-copy`, timestamp: "2027-01-01T00:00:00Z" };
    const { validation, quarantine } = await exported(memoryExportDeps([original, copy]), {
      format: "openai-sft",
      options: { validation_fraction: 0.5 },
    });
    expect(validation).toHaveLength(1);
    expect(quarantine).toEqual([
      expect.objectContaining({
        reason: "duplicate_content",
        duplicate_of_line: 1,
        duplicate_in: "validation",
      }),
    ]);
  });

  it("signs a download of the validation file, and changes nothing without the option", async () => {
    const setup = memoryExportDeps(candidates.slice(0, 30));
    const { job } = await exported(setup, { format: "openai-sft", options: { validation_fraction: 0.5 } });
    const view = (await exportStatus(setup.deps, job.id)) as Record<string, unknown>;
    expect(view.validation_download).toMatchObject({
      file_name: expect.stringMatching(/\.validation\.jsonl$/),
    });

    const plain = memoryExportDeps(candidates.slice(0, 30));
    const without = await exported(plain, { format: "openai-sft" });
    expect(without.manifest.files).not.toHaveProperty("validation");
    expect(without.records.some((r) => "file" in r)).toBe(false);
    expect([...plain.objects.objects.keys()].some((key) => key.endsWith("validation.jsonl"))).toBe(false);
    expect(await exportStatus(plain.deps, without.job.id)).not.toHaveProperty("validation_download");
  });

  it("is refused on a RAG export, and outside (0, 1)", () => {
    expect(ExportRequest.safeParse({ format: "rag", options: { validation_fraction: 0.1 } }).success).toBe(
      false,
    );
    for (const fraction of [0, 1, -0.1, 2]) {
      expect(
        ExportRequest.safeParse({ format: "openai-sft", options: { validation_fraction: fraction } }).success,
      ).toBe(false);
    }
  });
});

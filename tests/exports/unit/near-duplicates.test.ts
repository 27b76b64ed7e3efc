import { describe, expect, it } from "vitest";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { signature, similarity } from "../../../lib/exports/domain/near-duplicates.ts";
import { createExport, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

const words = (n: number, prefix = "w") => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
/** The Jaccard similarity of two texts' word 3-gram sets, computed exactly. */
function jaccard(a: string[], b: string[]) {
  const grams = (w: string[]) => new Set(w.slice(0, -2).map((_, i) => w.slice(i, i + 3).join(" ")));
  const [x, y] = [grams(a), grams(b)];
  const shared = [...x].filter((g) => y.has(g)).length;
  return shared / (x.size + y.size - shared);
}

describe("MinHash signatures", () => {
  it("estimate the Jaccard similarity of word 3-grams", () => {
    const base = words(200);
    for (const changed of [2, 10, 40, 100]) {
      const other = base.map((w, i) => (i % Math.floor(200 / changed) === 0 ? `x${i}` : w));
      const exact = jaccard(base, other);
      expect(
        Math.abs(similarity(signature(base.join(" ")), signature(other.join(" "))) - exact),
      ).toBeLessThan(0.2);
    }
    expect(similarity(signature("Same TEXT, here."), signature("same text here"))).toBe(1);
  });
});

async function run(candidates: ReturnType<typeof reviewed>[], options: Record<string, unknown>) {
  const setup = memoryExportDeps(candidates);
  const job = await createExport(setup.deps, ExportRequest.parse({ format: "openai-sft", options }), "ana");
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  const quarantine = setup.objects
    .body(`exports/${job.id}/quarantine.jsonl`)
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
  return { manifest, quarantine };
}

describe("options.near_duplicate_threshold", () => {
  const long = words(60, "fact").join(" ");
  const original = reviewed("near-original", { corrected_response: `${long}.` });
  const reworded = reviewed("near-reworded", {
    prompt_messages: original.prompt_messages,
    corrected_response: `${long.replace("fact30", "detail30")}!`,
  });
  const different = reviewed("near-different", {
    prompt_messages: original.prompt_messages,
    corrected_response: `${words(30, "fact").join(" ")} ${words(30, "other").join(" ")}`,
  });

  it("keeps out a record with nearly the same words, naming the line of the one kept", async () => {
    const { manifest, quarantine } = await run([original, reworded, different], {
      near_duplicate_threshold: 0.8,
    });
    expect(quarantine).toEqual([
      expect.objectContaining({
        candidate_id: "cand-near-reworded",
        reason: "near_duplicate",
        near_duplicate_of_line: 1,
      }),
    ]);
    expect(manifest.counts).toMatchObject({ exported: 2, by_reason: { near_duplicate: 1 } });
  });

  it("is off unless asked for, and a lower threshold catches more", async () => {
    expect((await run([original, reworded, different], {})).quarantine).toEqual([]);
    const loose = await run([original, reworded, different], { near_duplicate_threshold: 0.5 });
    expect(loose.quarantine.map((entry) => entry.candidate_id)).toContain("cand-near-reworded");
    expect(
      ExportRequest.safeParse({ format: "openai-sft", options: { near_duplicate_threshold: 0.3 } }).success,
    ).toBe(false);
  });
});

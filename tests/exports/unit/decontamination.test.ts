import { describe, expect, it } from "vitest";
import { EvalIndex, evalWords } from "../../../lib/exports/domain/decontamination.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { createExport, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

const GSM_ITEM =
  "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?";
const MMLU_ITEM =
  "Which of the following best describes the function of the mitochondria in a eukaryotic cell?";

function index(n = 13) {
  const built = new EvalIndex(n);
  built.add({ set: "gsm8k-test", item: "gsm-0001", text: GSM_ITEM });
  built.add({ set: "mmlu-bio", item: "bio-17", text: MMLU_ITEM });
  built.add({ set: "tiny", item: "t-1", text: "Yes or no?" });
  return built;
}

describe("eval-set overlap (word 13-grams after normalisation)", () => {
  it("finds a planted eval item inside a longer prompt, whatever its case, spacing and punctuation", () => {
    const planted = `Please help.  ${GSM_ITEM.toUpperCase().replace(/,/g, " ;")}  Show your work!`;
    expect(index().find(planted)).toEqual({ set: "gsm8k-test", item: "gsm-0001" });
  });

  it("finds 13 consecutive words of an item, and not 12", () => {
    const words = evalWords(GSM_ITEM);
    expect(index().find(`context ${words.slice(5, 18).join(" ")} context`)).toEqual({
      set: "gsm8k-test",
      item: "gsm-0001",
    });
    expect(index().find(`context ${words.slice(5, 17).join(" ")} context`)).toBeNull();
  });

  it("finds a short item copied whole, but not a short phrase shared with it", () => {
    expect(index().find(`Quiz: ${MMLU_ITEM} Answer briefly.`)).toEqual({ set: "mmlu-bio", item: "bio-17" });
    expect(index().find("Describe the function of the mitochondria, please.")).toBeNull();
    // An item shorter than 8 words is too generic to index.
    expect(index().find("Yes or no? Tell me.")).toBeNull();
  });

  it("takes the n-gram length as an option, and lists the sets with their sizes", () => {
    const words = evalWords(GSM_ITEM);
    expect(index(8).find(words.slice(0, 8).join(" "))).toEqual({ set: "gsm8k-test", item: "gsm-0001" });
    expect(index(20).find(words.slice(0, 19).join(" "))).toBeNull();
    expect(index().registered).toEqual([
      { name: "gsm8k-test", items: 1 },
      { name: "mmlu-bio", items: 1 },
      { name: "tiny", items: 1 },
    ]);
  });
});

describe("an export with registered eval sets", () => {
  it("quarantines a contaminated record as eval_contamination naming the set and item, and keeps near misses", async () => {
    const words = evalWords(GSM_ITEM);
    const contaminated = reviewed("contaminated", {
      prompt_messages: [{ role: "user", content: `Solve: ${GSM_ITEM}` }],
    });
    const inAnswer = reviewed("in-answer", { corrected_response: `As the benchmark says: ${MMLU_ITEM}` });
    const nearMiss = reviewed("near-miss", {
      prompt_messages: [{ role: "user", content: `Solve: ${words.slice(0, 12).join(" ")} and more.` }],
    });
    const clean = reviewed("clean");
    const setup = memoryExportDeps([contaminated, inAnswer, nearMiss, clean]);
    const deps = {
      ...setup.deps,
      evalSets: {
        async *items() {
          yield [
            { set: "gsm8k-test", item: "gsm-0001", text: GSM_ITEM },
            { set: "mmlu-bio", item: "bio-17", text: MMLU_ITEM },
          ];
        },
      },
    };
    const job = await createExport(deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    const manifest = (await runExportJob(deps, job.id)) as ExportManifest;
    const quarantine = setup.objects
      .body(`exports/${job.id}/quarantine.jsonl`)
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(quarantine).toEqual([
      expect.objectContaining({
        candidate_id: "cand-contaminated",
        reason: "eval_contamination",
        eval_set: "gsm8k-test",
        eval_item: "gsm-0001",
        detail: expect.stringContaining("prompt message 1"),
      }),
      expect.objectContaining({
        candidate_id: "cand-in-answer",
        reason: "eval_contamination",
        eval_set: "mmlu-bio",
        detail: expect.stringContaining("the correction"),
      }),
    ]);
    expect(manifest.counts).toMatchObject({ exported: 2, by_reason: { eval_contamination: 2 } });
    expect(manifest.decontamination).toEqual({
      ngram: 13,
      sets: [
        { name: "gsm8k-test", items: 1 },
        { name: "mmlu-bio", items: 1 },
      ],
    });
  });

  it("checks nothing, and says nothing of it, when no eval set is registered", async () => {
    const setup = memoryExportDeps([
      reviewed("plain", { prompt_messages: [{ role: "user", content: GSM_ITEM }] }),
    ]);
    const job = await createExport(setup.deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
    expect(manifest.counts.exported).toBe(1);
    expect(manifest).not.toHaveProperty("decontamination");
  });
});

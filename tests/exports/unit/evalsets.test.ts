import { describe, expect, it } from "vitest";
import { ValidationError } from "../../../lib/common/domain/errors.ts";
import { evalWords } from "../../../lib/exports/domain/decontamination.ts";
import { EvalNgramBuilder, EvalNgramTable } from "../../../lib/exports/domain/eval-ngrams.ts";
import { parseEvalLine } from "../../../lib/exports/domain/evalsets.ts";
import { EvalSetVersionGoneError } from "../../../lib/exports/domain/export-continuation.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import {
  deleteEvalSet,
  evalSetStatus,
  indexEvalSet,
  listEvalSets,
  registerEvalSet,
  storedEvalIndexes,
} from "../../../lib/exports/usecases/evalsets.ts";
import { createExport, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { MemoryEvalSetStore } from "../../support/evalset-fakes.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

const GSM =
  "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her friends every day with four. How much does she make every day at the farmers' market?";
const GSM_ANSWER =
  "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * 2 = $18 every day at the farmer's market.";
const ARC = "Which property of a mineral can be determined just by looking at it?";
const SHORT = "What is the capital of France?";

const gsmLines = [
  JSON.stringify({ question: GSM, answer: GSM_ANSWER }),
  JSON.stringify({ id: "arc-7", question: ARC, answer: "luster" }),
  JSON.stringify({ id: 3, prompt: SHORT, completion: "Paris" }),
].join("\n");

describe("an eval set's JSONL line", () => {
  it("reads the common field names: ids, prompts, answers, chat turns and numbers", () => {
    expect(parseEvalLine(JSON.stringify({ question: "Q?", answer: 42 }), "test.jsonl:4")).toEqual({
      item: { id: "test.jsonl:4", texts: ["Q?", "42"] },
    });
    expect(
      parseEvalLine(
        JSON.stringify({ task_id: "HumanEval/0", prompt: "def f():", canonical_solution: "  return 1" }),
        "x",
      ),
    ).toEqual({ item: { id: "HumanEval/0", texts: ["def f():", "  return 1"] } });
    expect(
      parseEvalLine(
        JSON.stringify({ uid: 9, instruction: "Translate.", input: "Bonjour", output: "Hello" }),
        "x",
      ),
    ).toEqual({ item: { id: "9", texts: ["Bonjour", "Translate.", "Hello"] } });
    expect(
      parseEvalLine(
        JSON.stringify({
          messages: [
            { role: "user", content: "Hi there" },
            { role: "assistant", content: "Hello" },
          ],
        }),
        "x",
      ),
    ).toEqual({ item: { id: "x", texts: ["Hi there\nHello"] } });
    expect(parseEvalLine("   ", "x")).toEqual({ blank: true });
    expect(parseEvalLine("{not json", "x")).toEqual({ error: "not JSON" });
    expect(parseEvalLine("[1, 2]", "x")).toEqual({ error: "not a JSON object" });
    expect(parseEvalLine(JSON.stringify({ id: "a", label: 1 }), "x")).toMatchObject({
      error: expect.stringContaining("no prompt"),
    });
  });
});

describe("an eval set's n-gram table", () => {
  it("is sorted, keeps a gram once with its first item, and reads back from its bytes unchanged", () => {
    const builder = new EvalNgramBuilder(13);
    builder.addItem("first", [GSM]);
    builder.addItem("copy", [GSM]);
    builder.addItem("short", ["one two three"]);
    const table = builder.build();
    expect(builder.items).toBe(3);
    expect(builder.indexedItems).toBe(2);
    expect(table.size).toBe(evalWords(GSM).length - 12);
    for (let i = 1; i < table.size; i++) {
      const [h0, l0, h1, l1] = [table.hi[i - 1], table.lo[i - 1], table.hi[i], table.lo[i]].map(Number) as [
        number,
        number,
        number,
        number,
      ];
      expect(h0 < h1 || (h0 === h1 && l0 < l1)).toBe(true);
    }
    expect([...table.ref].every((ref) => ref === 0)).toBe(true);

    const bytes = table.gramBytes();
    expect(bytes.byteLength).toBe(table.size * 12);
    const read = EvalNgramTable.fromBytes(13, table.itemIds, table.shortLengths, new Uint8Array(bytes));
    for (let i = 0; i < table.size; i++) {
      expect(read.lookup(table.hi[i] as number, table.lo[i] as number)).toBe(0);
    }
    expect(read.lookup(1, 2)).toBe(-1);
  });

  it("finds every gram of a large table through its directory, and nothing else", () => {
    const builder = new EvalNgramBuilder(8);
    let seed = 7;
    const word = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return `w${seed % 5000}`;
    };
    for (let i = 0; i < 3000; i++) builder.addItem(`i${i}`, [Array.from({ length: 20 }, word).join(" ")]);
    const table = builder.build();
    expect(table.size).toBeGreaterThan(30_000);
    for (let i = 0; i < table.size; i++) {
      expect(table.lookup(table.hi[i] as number, table.lo[i] as number)).toBe(table.ref[i]);
    }
    let misses = 0;
    for (let i = 0; i < table.size; i++) {
      if (table.lookup(table.hi[i] as number, ((table.lo[i] as number) + 1) >>> 0) === -1) misses++;
    }
    expect(misses).toBe(table.size);
  });
});

describe("registered eval sets", () => {
  const setup = () => {
    const store = new MemoryEvalSetStore();
    let tick = Date.UTC(2026, 4, 1);
    const now = () => {
      tick += 1000;
      return new Date(tick);
    };
    const deps = { evalSets: store, now };
    return { store, deps };
  };

  it("are registered from JSONL or items, listed with their size, version and item count, and removed", async () => {
    const { store, deps } = setup();
    const gsm = await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines });
    expect(gsm).toMatchObject({
      name: "gsm8k-test",
      version: expect.stringMatching(/^[0-9a-f]{16}$/),
      items: 3,
      // "What is the capital of France?" is 6 words: too short to index.
      indexed_items: 2,
      bytes: Buffer.byteLength(gsmLines),
      skipped_lines: 0,
      files: [{ key: "evalsets/gsm8k-test/items.jsonl", bytes: Buffer.byteLength(gsmLines) }],
      ngram: 13,
    });
    await registerEvalSet(deps, "arc", { items: [{ id: "arc-1", question: ARC }] });
    // An upload straight to the prefix: a bad line is skipped and said so.
    store.upload("evalsets/mmlu/part-1.jsonl", `${JSON.stringify({ question: GSM })}\nnot json\n`);

    // Listing reads what is indexed and builds nothing: the uploaded set is not indexed yet.
    const indexesBefore = store.indexesPut.length;
    const listed = (await listEvalSets(deps)).evalsets;
    expect(listed.map((set) => [set.name, set.indexed, set.items, set.skipped_lines])).toEqual([
      ["arc", true, 1, 0],
      ["gsm8k-test", true, 3, 0],
      ["mmlu", false, null, null],
    ]);
    expect(await evalSetStatus(deps, "mmlu")).toMatchObject({
      indexed: false,
      grams: null,
      indexed_at: null,
    });
    expect(store.indexesPut.length).toBe(indexesBefore);

    expect(await indexEvalSet(deps, "mmlu")).toMatchObject({ indexed: true, items: 1, skipped_lines: 1 });
    expect(store.indexesPut.length).toBe(indexesBefore + 1);
    const { evalsets } = await listEvalSets(deps);
    expect(evalsets.map((set) => [set.name, set.items, set.skipped_lines])).toEqual([
      ["arc", 1, 0],
      ["gsm8k-test", 3, 0],
      ["mmlu", 1, 1],
    ]);
    expect(evalsets[2]?.skipped).toEqual([{ where: "part-1.jsonl:2", reason: "not JSON" }]);
    await expect(indexEvalSet(deps, "nothing")).rejects.toThrow("not found");

    // The same set again: same version, no new index. Changed: a new version, indexed once.
    expect((await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines })).version).toBe(gsm.version);
    const changed = await registerEvalSet(deps, "gsm8k-test", { jsonl: `${gsmLines}\n` });
    expect(changed.version).not.toBe(gsm.version);
    expect(store.indexesPut.filter((key) => key.startsWith("gsm8k-test/"))).toEqual([
      `gsm8k-test/${gsm.version}/13`,
      `gsm8k-test/${changed.version}/13`,
    ]);

    expect(await deleteEvalSet(deps, "arc")).toEqual({ name: "arc", deleted: 1 });
    await expect(evalSetStatus(deps, "arc")).rejects.toThrow("not found");
    await expect(deleteEvalSet(deps, "arc")).rejects.toThrow("not found");
  });

  it("refuses an upload with a line that is no item, naming the line, and stores nothing", async () => {
    const { store, deps } = setup();
    const refused = registerEvalSet(deps, "bad", { jsonl: `${gsmLines}\n{"id": "x"}\n` });
    await expect(refused).rejects.toBeInstanceOf(ValidationError);
    await expect(refused).rejects.toMatchObject({ issues: [{ loc: ["body", "line", 4] }] });
    await expect(registerEvalSet(deps, "empty", { jsonl: "\n\n" })).rejects.toBeInstanceOf(ValidationError);
    expect(store.objects.size).toBe(0);
  });

  it("are indexed once per version and n-gram length, and every export is checked against them", async () => {
    const { store, deps } = setup();
    await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines });
    await registerEvalSet(deps, "arc", { items: [{ id: "arc-1", question: ARC }] });
    const words = evalWords(GSM);
    const candidates = [
      reviewed("in-prompt", { prompt_messages: [{ role: "user", content: `Solve this: ${GSM}` }] }),
      reviewed("in-answer", { corrected_response: `Step by step. ${GSM_ANSWER}` }),
      reviewed("short-item", { prompt_messages: [{ role: "user", content: `Quiz: ${ARC} Be brief.` }] }),
      // A shared short phrase, and 12 words of an item: near misses, exported.
      reviewed("phrase", {
        prompt_messages: [{ role: "user", content: "How much does she make every day?" }],
      }),
      reviewed("twelve", {
        prompt_messages: [{ role: "user", content: `Consider: ${words.slice(0, 12).join(" ")}; then stop.` }],
      }),
      reviewed("clean"),
    ];
    const exports = memoryExportDeps(candidates, { evalIndexes: storedEvalIndexes(deps) });
    const run = async (options = {}) => {
      const job = await createExport(
        exports.deps,
        ExportRequest.parse({ format: "openai-sft", options }),
        "ana",
      );
      const manifest = (await runExportJob(exports.deps, job.id)) as ExportManifest;
      const quarantine = exports.objects
        .body(`exports/${job.id}/quarantine.jsonl`)
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line));
      return { manifest, quarantine };
    };

    const { manifest, quarantine } = await run();
    expect(
      quarantine.map((entry) => [entry.candidate_id, entry.reason, entry.eval_set, entry.eval_item]),
    ).toEqual([
      ["cand-in-prompt", "eval_contamination", "gsm8k-test", "items.jsonl:1"],
      ["cand-in-answer", "eval_contamination", "gsm8k-test", "items.jsonl:1"],
      ["cand-short-item", "eval_contamination", "arc", "arc-1"],
    ]);
    expect(quarantine[1].detail).toContain("the correction");
    expect(manifest.counts).toMatchObject({ exported: 3, by_reason: { eval_contamination: 3 } });
    const listed = (await listEvalSets(deps)).evalsets;
    expect(manifest.decontamination).toEqual({
      ngram: 13,
      sets: listed.map((set) => ({ name: set.name, version: set.version, items: set.items })),
    });

    // Indexed at registration: the export only read them back.
    const built = store.indexesPut.length;
    await run();
    expect(store.indexesPut.length).toBe(built);

    // A shorter n-gram: built once for that length, and the 12 shared words now count.
    const shorter = await run({ eval_ngram: 12 });
    expect(store.indexesPut.length).toBe(built + 2);
    expect(shorter.quarantine.map((entry) => entry.candidate_id)).toContain("cand-twelve");
    expect(shorter.manifest.decontamination?.ngram).toBe(12);
    await run({ eval_ngram: 12 });
    expect(store.indexesPut.length).toBe(built + 2);
  });

  it("check nothing, and say nothing of it, when none is registered", async () => {
    const { deps } = setup();
    const exports = memoryExportDeps(
      [reviewed("plain", { prompt_messages: [{ role: "user", content: GSM }] })],
      {
        evalIndexes: storedEvalIndexes(deps),
      },
    );
    const job = await createExport(exports.deps, ExportRequest.parse({ format: "openai-sft" }), "ana");
    const manifest = (await runExportJob(exports.deps, job.id)) as ExportManifest;
    expect(manifest.counts.exported).toBe(1);
    expect(manifest).not.toHaveProperty("decontamination");
  });

  it("are read as pinned versions, whatever the set is now, until a pinned version is gone", async () => {
    const { store, deps } = setup();
    const first = await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines });
    const pin = [{ name: "gsm8k-test", version: first.version }];
    const source = storedEvalIndexes(deps);
    const found = async (index: Promise<{ find(text: string): unknown }>) =>
      (await index).find(`Solve: ${GSM}`);

    // Replaced by other items: the pinned version still finds its item, the set as it is does not.
    const second = await registerEvalSet(deps, "gsm8k-test", { items: [{ id: "arc-1", question: ARC }] });
    expect(second.version).not.toBe(first.version);
    expect(await found(source.pinned(13, pin))).toEqual({ set: "gsm8k-test", item: "items.jsonl:1" });
    expect((await source.pinned(13, pin)).registered).toEqual([
      { name: "gsm8k-test", version: first.version, items: 3 },
    ]);
    expect((await source.load(13))?.find(`Solve: ${GSM}`)).toBeNull();

    // Its index deleted while the set is still at that version: built again from the set.
    await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines });
    for (const key of [...store.indexes.keys()]) store.indexes.delete(key);
    const built = store.indexesPut.length;
    expect(await found(source.pinned(13, pin))).toEqual({ set: "gsm8k-test", item: "items.jsonl:1" });
    expect(store.indexesPut.length).toBe(built + 1);

    // Changed and its old index deleted, or removed: gone, saying which.
    await registerEvalSet(deps, "gsm8k-test", { items: [{ id: "arc-1", question: ARC }] });
    store.indexes.delete(`gsm8k-test/${first.version}/13`);
    await expect(source.pinned(13, pin)).rejects.toBeInstanceOf(EvalSetVersionGoneError);
    await registerEvalSet(deps, "gsm8k-test", { jsonl: gsmLines });
    await deleteEvalSet(deps, "gsm8k-test");
    await expect(source.pinned(13, pin)).rejects.toThrow(`eval set gsm8k-test version ${first.version}`);
    // Nothing pinned: an index that checks nothing.
    expect((await source.pinned(13, [])).registered).toEqual([]);
  });
});

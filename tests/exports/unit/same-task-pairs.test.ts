import { describe, expect, it } from "vitest";
import { ExportFirewall } from "../../../lib/exports/domain/export-firewall.ts";
import { recordId } from "../../../lib/exports/domain/export-formats.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { SameTaskPairing } from "../../../lib/exports/domain/same-task-pairs.ts";
import { createExport, runExportJob } from "../../../lib/exports/usecases/exports.ts";
import { memoryExportDeps } from "../../support/export-fakes.ts";
import { reviewed } from "../../support/export-fixtures.ts";

const prompt = (question: string) => [
  { role: "system", content: "Answer briefly." },
  { role: "user", content: question },
];

/** One candidate of a task: its model's answer B and the correction C (C = B: approved as it was). */
function member(
  id: string,
  task: string | null,
  answer: string,
  correction: string,
  category = "wrong_answer",
) {
  return reviewed(id, {
    id,
    task_id: task,
    prompt_messages: prompt(task ? `The question of ${task}?` : `A question of its own (${id})?`),
    model_response: answer,
    corrected_response: correction,
    failure_category: category,
  });
}

/**
 * T1: three outright wrong answers (a, b, e — e's answer reads as a's correction), one answer
 * approved as it was (c), one partial answer (d), and a discarded candidate (f, never read).
 * T2: only a partial answer to reject (the fallback), beside an approved answer.
 * T3: an approved answer equal to the other candidate's wrong answer (a self-pair if paired).
 * k: no task id, its own pair only.
 */
const MIX = [
  member("a", "T1", "a wrong", "right answer"),
  member("b", "T1", "b wrong", "right answer, said differently", "hallucination"),
  member("c", "T1", "right answer c", "right answer c"),
  member("d", "T1", "d partial", "right answer d", "partial_answer"),
  member("e", "T1", "Right   ANSWER", "e correction"),
  { ...member("f", "T1", "f wrong", "f fixed"), status: "discarded" },
  member("g", "T2", "g ok", "g ok"),
  member("h", "T2", "h partial", "h fixed", "partial_answer"),
  member("i", "T3", "same", "Same fixed"),
  member("j", "T3", "same", "same"),
  member("k", null, "k wrong", "k right"),
];

type Line = { id: string; chosen: { content: string }[]; rejected: { content: string }[] };

async function exportOf(options: Record<string, unknown>, format = "trl-dpo") {
  const setup = memoryExportDeps(MIX);
  const job = await createExport(setup.deps, ExportRequest.parse({ format, options }), "ana@example.com");
  const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
  const lines = (key: string) =>
    setup.objects
      .body(key)
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  return {
    manifest,
    dataset: lines(manifest.files.dataset.key) as Line[],
    quarantine: lines(manifest.files.quarantine.key) as {
      candidate_id: string;
      reason: string;
      detail: string;
    }[],
    records: lines(manifest.files.records.key) as { record_id: string; candidate_id: string }[],
  };
}

const pairsOf = (dataset: Line[]) =>
  dataset.map((line) => [line.chosen[0]?.content, line.rejected[0]?.content]);
const norm = (text: string | undefined) => (text ?? "").toLowerCase().replace(/\s+/g, " ").trim();

describe("pairing: same_task", () => {
  it("pairs a task's corrections and approved answers with its rejected answers, own pairs first, at most 5 per task", async () => {
    const { dataset, quarantine, manifest } = await exportOf({ pairing: "same_task" });
    const pairs = pairsOf(dataset);
    const t1 = pairs.filter(([, rejected]) =>
      ["a wrong", "b wrong", "Right   ANSWER", "d partial"].includes(rejected as string),
    );
    // Round 0: each wrong answer under its own correction; round 1: under the next other one, until 5.
    expect(t1).toEqual(
      expect.arrayContaining([
        ["right answer", "a wrong"],
        ["right answer, said differently", "b wrong"],
        ["e correction", "Right   ANSWER"],
        ["right answer, said differently", "a wrong"],
        ["right answer", "b wrong"],
      ]),
    );
    expect(t1).toHaveLength(5);
    // With outright wrong answers enough to reach the cap, the partial answer is never a rejected side.
    expect(t1.some(([, rejected]) => rejected === "d partial")).toBe(false);
    // The approved answer and the partial one took no part: quarantined as unpaired, for the cap.
    const unpaired = quarantine.filter((entry) => entry.reason === "unpaired");
    expect(unpaired.map((entry) => entry.candidate_id).sort()).toEqual(["c", "d", "j"]);
    expect(unpaired.find((entry) => entry.candidate_id === "c")?.detail).toMatch(/max_pairs_per_task \(5\)/);
    // The discarded candidate is never read, never paired.
    expect(pairs.flat()).not.toContain("f wrong");
    expect(pairs.flat()).not.toContain("f fixed");
    expect(manifest.counts.by_reason.unpaired).toBe(3);
    expect(manifest.counts.lines).toBe(dataset.length);
  });

  it("falls back to partial answers when a task has no outright wrong one", async () => {
    const { dataset } = await exportOf({ pairing: "same_task" });
    // Written by preferred candidate in read order: g's line, then h's own.
    expect(pairsOf(dataset).filter(([, rejected]) => rejected === "h partial")).toEqual([
      ["g ok", "h partial"],
      ["h fixed", "h partial"],
    ]);
  });

  it("never pairs two texts that read the same, nor the same two texts twice", async () => {
    const { dataset } = await exportOf({ pairing: "same_task", max_pairs_per_task: 10 });
    const pairs = pairsOf(dataset);
    for (const [chosen, rejected] of pairs) expect(norm(chosen)).not.toBe(norm(rejected));
    expect(new Set(pairs.map((pair) => JSON.stringify(pair.map(norm)))).size).toBe(pairs.length);
    // a's correction is e's answer but for case and spacing: never that pair.
    expect(pairs).not.toContainEqual(["right answer", "Right   ANSWER"]);
    // T3: j's approved answer is i's wrong answer: i keeps its own pair only, j none.
    expect(pairs.filter(([, rejected]) => rejected === "same")).toEqual([["Same fixed", "same"]]);
    // With room for 10, T1 makes exactly 10 (its 3 wrong answers under 4 candidates' corrections, less the self-pair).
    const t1 = pairs.filter(([, rejected]) =>
      ["a wrong", "b wrong", "Right   ANSWER", "d partial"].includes(rejected as string),
    );
    expect(t1).toHaveLength(10);
  });

  it("keeps each candidate's own pair id, gives cross pairs their own, and pairs no candidate without a task id across", async () => {
    const { dataset, records } = await exportOf({ pairing: "same_task" });
    const ids = dataset.map((line) => line.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toContain(recordId("a", "trl-dpo"));
    expect(ids).toContain(recordId("b", "trl-dpo", "vs:a"));
    expect(records.find((r) => r.record_id === recordId("b", "trl-dpo", "vs:a"))?.candidate_id).toBe("b");
    expect(pairsOf(dataset).filter(([, rejected]) => rejected === "k wrong")).toEqual([
      ["k right", "k wrong"],
    ]);
  });

  it("leaves the default pairing as it was: one pair per candidate, an approved answer refused as self_pairing", async () => {
    const { dataset, quarantine } = await exportOf({});
    expect(dataset).toHaveLength(7); // a, b, d, e, h, i, k
    expect(quarantine.find((entry) => entry.candidate_id === "c")?.reason).toBe("self_pairing");
    expect(quarantine.some((entry) => entry.reason === "unpaired")).toBe(false);
  });

  it.each(["openai-preference", "bedrock-preference"])("builds %s lines the same way", async (format) => {
    const { manifest } = await exportOf({ pairing: "same_task" }, format);
    const dpo = await exportOf({ pairing: "same_task" });
    expect(manifest.counts.lines).toBe(dpo.manifest.counts.lines);
  });

  it("is refused for formats without pairs, and max_pairs_per_task without it", () => {
    expect(ExportRequest.safeParse({ format: "trl-sft", options: { pairing: "same_task" } }).success).toBe(
      false,
    );
    expect(ExportRequest.safeParse({ format: "trl-dpo", options: { max_pairs_per_task: 3 } }).success).toBe(
      false,
    );
    expect(
      ExportRequest.safeParse({ format: "trl-dpo", options: { pairing: "same_task", max_pairs_per_task: 0 } })
        .success,
    ).toBe(false);
  });
});

describe("pairing: same_task and duplicates", () => {
  it("keeps two wrong answers corrected to the same answer (two rejected sides, not a duplicate), pairing their texts once", async () => {
    const setup = memoryExportDeps([
      member("x1", "X", "Answer: 32", "Answer: 42"),
      member("x2", "X", "Answer: 41", "Answer: 42"),
      member("x3", "X", "Answer: 41", "Answer: 42"),
    ]);
    const job = await createExport(
      setup.deps,
      ExportRequest.parse({ format: "trl-dpo", options: { pairing: "same_task" } }),
      "ana@example.com",
    );
    const manifest = (await runExportJob(setup.deps, job.id)) as ExportManifest;
    const dataset = setup.objects
      .body(manifest.files.dataset.key)
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Line);
    expect(pairsOf(dataset)).toEqual([
      ["Answer: 42", "Answer: 32"],
      ["Answer: 42", "Answer: 41"],
    ]);
    // x3 repeats x2 whole (prompt, correction and answer): that one is a duplicate.
    const quarantine = setup.objects.body(manifest.files.quarantine.key);
    expect(quarantine).toContain('"candidate_id":"x3","reason":"duplicate_content"');
    // The default pairing keeps its rule: the same prompt and correction is a duplicate.
    const plain = memoryExportDeps([
      member("x1", "X", "Answer: 32", "Answer: 42"),
      member("x2", "X", "Answer: 41", "Answer: 42"),
    ]);
    const plainJob = await createExport(
      plain.deps,
      ExportRequest.parse({ format: "trl-dpo" }),
      "ana@example.com",
    );
    const plainManifest = (await runExportJob(plain.deps, plainJob.id)) as ExportManifest;
    expect(plainManifest.counts.by_reason.duplicate_content).toBe(1);
  });
});

describe("the pairing buffer", () => {
  it("holds a bounded number of candidates, lets the oldest task go when full, and keeps its cap across the split", () => {
    const request = ExportRequest.parse({
      format: "trl-dpo",
      options: { pairing: "same_task", max_pairs_per_task: 2 },
    });
    const firewall = new ExportFirewall({
      format: "trl-dpo",
      options: request.options,
      filters: request.filters,
    });
    const pairing = new SameTaskPairing("trl-dpo", request.options, {
      bufferCandidates: 2,
      bufferChars: 1e9,
    });
    const written: { id: string; lines: number }[] = [];
    const take = (out: ReturnType<SameTaskPairing["add"]>) => {
      for (const { verdict } of out) {
        written.push(
          verdict.passed
            ? { id: verdict.example.candidateId, lines: verdict.lines.length }
            : { id: verdict.entry.candidate_id, lines: -1 },
        );
      }
    };
    const tasks = [
      member("p1", "P", "p1 wrong", "p1 right"),
      member("q1", "Q", "q1 wrong", "q1 right"),
      member("p2", "P", "p2 wrong", "p2 right"),
      member("p3", "P", "p3 wrong", "p3 right"),
    ];
    for (const candidate of tasks) {
      take(pairing.add(candidate.status, firewall.screen(candidate), candidate.task_id));
      expect(pairing.pending).toBeLessThanOrEqual(2);
    }
    take(pairing.finish());
    // P's first group (p1, p2) went when p2 overfilled the buffer; p3, in a later group, still counts against P's cap of 2.
    const paired = written.filter((w) => w.lines > 0).map((w) => w.id);
    expect(written.map((w) => w.id).sort()).toEqual(["p1", "p2", "p3", "q1"]);
    const pLines = written.filter((w) => w.id.startsWith("p")).reduce((n, w) => n + Math.max(0, w.lines), 0);
    expect(pLines).toBe(2);
    expect(paired).toContain("q1");
  });
});

import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatProvenanceReport, provenanceCommand } from "../../../cli/provenance.ts";
import { provenanceReport } from "../../../lib/common/domain/stats.ts";
import {
  backfillProvenanceLines,
  validateProvenanceLines,
} from "../../../lib/provenance/usecases/provenance-files.ts";

const AT = new Date("2026-06-01T12:00:00.000Z");

async function* linesOf(...lines: string[]) {
  yield* lines;
}

const traced = {
  prompt: "2+2?",
  completion: "4",
  provenance: {
    source: "eval",
    channel: "eval",
    model: "gpt-x",
    captured_at: "2026-05-01T00:00:00Z",
    source_session_id: "s-1",
    message_index: 1,
  },
};
const PAIRS = [
  JSON.stringify(traced),
  JSON.stringify({ prompt: "3+3?", completion: "6" }),
  "",
  "{not json",
  JSON.stringify({ prompt: "4+4?", completion: "8", provenance: { ...traced.provenance, model: null } }),
  "[1, 2]",
];

describe("validateProvenanceLines", () => {
  it("counts valid and invalid lines and names each problem by line number", async () => {
    const result = await validateProvenanceLines(linesOf(...PAIRS));
    expect(result).toEqual({
      valid: 1,
      invalid: 4,
      errors: [
        { line: 2, errors: expect.arrayContaining(["provenance: is missing", "model: is required"]) },
        { line: 4, errors: [expect.stringMatching(/^invalid JSON: /)] },
        { line: 5, errors: ["model: is required"] },
        { line: 6, errors: ["not a JSON object"] },
      ],
    });
  });
});

describe("backfillProvenanceLines", () => {
  it("adds what each line misses, copies the rest byte for byte, and reports lines it cannot read", async () => {
    const written: string[] = [];
    const summary = await backfillProvenanceLines(
      linesOf(...PAIRS),
      async (line) => {
        written.push(line);
      },
      { source: "legacy", model: "m9" },
      { at: AT, by: "cli:ana" },
    );

    expect(summary).toEqual({
      lines: 5,
      changed: 2,
      unchanged: 1,
      skipped: [
        { line: 4, error: expect.stringMatching(/^invalid JSON/) },
        { line: 6, error: "not a JSON object" },
      ],
    });
    expect(written).toHaveLength(PAIRS.length);
    expect(written[0]).toBe(PAIRS[0]);
    expect(written[2]).toBe("");
    expect(written[3]).toBe("{not json");
    expect(JSON.parse(written[1] as string)).toEqual({
      prompt: "3+3?",
      completion: "6",
      provenance: {
        source: "legacy",
        channel: "backfill",
        model: "m9",
        captured_at: AT.toISOString(),
        backfilled: true,
        backfilled_at: AT.toISOString(),
        backfilled_by: "cli:ana",
        backfilled_fields: ["source", "channel", "model", "captured_at", "backfilled_at"],
      },
    });
    expect(JSON.parse(written[4] as string).provenance).toMatchObject({
      ...traced.provenance,
      model: "m9",
      backfilled_fields: ["model"],
    });
    const again = await validateProvenanceLines(linesOf(...written));
    expect(again).toMatchObject({ valid: 3, invalid: 2 });
  });
});

describe("flywheel provenance", () => {
  it("backfill-file then validate-file: every readable line is valid afterwards", async () => {
    const dir = await mkdtemp(join(tmpdir(), "provenance-"));
    const input = join(dir, "pairs.jsonl");
    const output = join(dir, "out.jsonl");
    await writeFile(input, `${PAIRS.filter((line) => line.startsWith('{"')).join("\n")}\n`);
    const printed: string[] = [];
    const print = (line: string) => printed.push(line);

    expect(await provenanceCommand(["validate-file", input], print)).toBe(1);
    expect(JSON.parse(printed.pop() as string)).toMatchObject({ valid: 1, invalid: 2 });

    const args = ["backfill-file", input, "--source", "legacy", "--model", "m9", "-o", output];
    expect(await provenanceCommand(args, print)).toBe(0);
    expect(JSON.parse(printed.pop() as string)).toEqual({ lines: 3, changed: 2, unchanged: 1, skipped: [] });
    expect((await readFile(output, "utf8")).split("\n")).toHaveLength(4);

    expect(await provenanceCommand(["validate-file", output], print)).toBe(0);
    expect(JSON.parse(printed.pop() as string)).toEqual({ valid: 3, invalid: 0, errors: [] });

    await expect(provenanceCommand(args, print)).rejects.toThrow("exists already");
    await expect(provenanceCommand(["backfill-file", input, "-o", output], print)).rejects.toThrow(
      "needs --source, --model",
    );
  });

  it("prints the report as a table", () => {
    const lines = formatProvenanceReport(
      provenanceReport({
        total: 3,
        "prov_valid#source#kiwi": 2,
        "prov_valid#model#m1": 2,
        prov_missing: 1,
        "prov_missing#source#unknown": 1,
        "prov_missing#model#m1": 1,
        prov_approved: 2,
      }),
    );
    expect(lines).toEqual([
      "records 3  valid 2  missing provenance 1  coverage 66.67%  approved 2  excluded 0",
      "",
      "source    records     valid   missing  coverage",
      "kiwi            2         2         0   100.00%",
      "unknown         1         0         1     0.00%",
      "",
      "model   records     valid   missing  coverage",
      "m1            3         2         1    66.67%",
    ]);
  });
});

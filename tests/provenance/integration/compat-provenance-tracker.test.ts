import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { provenanceCommand } from "../../../cli/provenance.ts";
import { validateProvenance } from "../../../lib/common/domain/provenance.ts";

/**
 * Files written by the provenance tracker Flywheel replaces, run through `flywheel provenance
 * validate-file` and `backfill-file` as its users ran its own commands: its field names
 * (`timestamp`, `source` of `trajectory`, `curated` or `backfill`, `source_session_id`), its two
 * rules (an `approved` field on every pair, an `exclusion_reason` on every excluded one), and
 * backfill never touching a time a pair already has.
 */

const OLD_PAIRS = [
  {
    prompt: "Fix the failing import",
    completion: "Use a relative path.",
    status: "approved",
    provenance: {
      source: "trajectory",
      model: "qwen2.5-7b",
      timestamp: "2026-03-01T10:00:00Z",
      source_session_id: "sess-9",
      approved: true,
    },
  },
  {
    prompt: "Summarise the ticket",
    completion: "…",
    status: "discarded",
    provenance: {
      source: "curated",
      model: "llama-3.1-8b",
      timestamp: "2026-03-01T11:00:00+01:00",
      approved: false,
      excluded: true,
      exclusion_reason: "off_topic",
    },
  },
  {
    prompt: "2+2?",
    completion: "4",
    provenance: { source: "backfill", model: "m", timestamp: "2026-02-01T00:00:00Z", approved: false },
  },
];

async function run(args: string[]) {
  const printed: string[] = [];
  const code = await provenanceCommand(args, (line) => printed.push(line));
  return { code, output: JSON.parse(printed.at(-1) as string) };
}

async function fileOf(lines: unknown[]) {
  const dir = await mkdtemp(join(tmpdir(), "old-tracker-"));
  const path = join(dir, "pairs.jsonl");
  await writeFile(path, `${lines.map((line) => JSON.stringify(line)).join("\n")}\n`);
  return { dir, path };
}

describe("the old provenance tracker's files, unchanged", () => {
  it("validate-file: a file in the old format validates (exit 0)", async () => {
    const { path } = await fileOf(OLD_PAIRS);
    expect(await run(["validate-file", path])).toEqual({
      code: 0,
      output: { valid: 3, invalid: 0, errors: [] },
    });
  });

  it("validate-file: the old rules hold again — an exclusion reason on excluded pairs, the approved field", async () => {
    const [approved, excluded] = OLD_PAIRS as [(typeof OLD_PAIRS)[0], (typeof OLD_PAIRS)[1]];
    const { exclusion_reason: _reason, ...noReason } = excluded.provenance;
    const { approved: _approved, ...noApproved } = approved.provenance;
    const { path } = await fileOf([
      { ...excluded, provenance: noReason },
      { ...approved, provenance: noApproved },
      { ...approved, provenance: { ...approved.provenance, approved: false } },
      { ...approved, provenance: { ...approved.provenance, timestamp: "yesterday" } },
    ]);

    const { code, output } = await run(["validate-file", path]);

    expect(code).toBe(1);
    expect(output).toEqual({
      valid: 0,
      invalid: 4,
      errors: [
        { line: 1, errors: ["exclusion_reason: is required when the pair is excluded"] },
        { line: 2, errors: ["approved: is required"] },
        { line: 3, errors: ["approved: must not be false when the record is approved"] },
        { line: 4, errors: ["timestamp: must be an ISO 8601 date-time"] },
      ],
    });
  });

  it("backfill-file keeps every existing timestamp, fills what is missing, and adds no channel", async () => {
    const [, , plain] = OLD_PAIRS as [unknown, unknown, (typeof OLD_PAIRS)[2]];
    const { model: _model, ...noModel } = plain.provenance;
    const lines = [...OLD_PAIRS, { ...plain, provenance: noModel }];
    const { dir, path } = await fileOf(lines);
    const out = join(dir, "out.jsonl");

    const { code, output } = await run([
      "backfill-file",
      path,
      "--source",
      "legacy",
      "--model",
      "m9",
      "-o",
      out,
    ]);

    expect(code).toBe(0);
    expect(output).toEqual({ lines: 4, changed: 1, unchanged: 3, skipped: [] });
    const written = (await readFile(out, "utf8")).trimEnd().split("\n");
    // Complete pairs are copied byte for byte.
    expect(written.slice(0, 3)).toEqual(lines.slice(0, 3).map((line) => JSON.stringify(line)));
    const filled = JSON.parse(written[3] as string).provenance;
    expect(filled).toEqual({
      ...noModel,
      model: "m9",
      timestamp: "2026-02-01T00:00:00Z",
      backfilled: true,
      backfilled_at: expect.any(String),
      backfilled_by: expect.stringMatching(/^cli:/),
      backfilled_fields: ["model"],
    });
    expect(filled).not.toHaveProperty("captured_at");
    expect(filled).not.toHaveProperty("channel");
    expect((await run(["validate-file", out])).code).toBe(0);
  });

  it("reads `timestamp` as `captured_at` in a Flywheel block too, and backfill keeps it", async () => {
    const pair = {
      prompt: "q",
      completion: "a",
      provenance: {
        source: "kiwi",
        channel: "sqs",
        message_id: "m-1",
        timestamp: "2026-01-05T08:00:00Z",
      },
    };
    const { dir, path } = await fileOf([pair]);
    expect((await run(["validate-file", path])).output.errors).toEqual([
      { line: 1, errors: ["model: is required"] },
    ]);
    const out = join(dir, "out.jsonl");
    await run(["backfill-file", path, "--source", "kiwi", "--model", "m9", "-o", out]);
    const filled = JSON.parse((await readFile(out, "utf8")).trim()).provenance;
    expect(filled).toMatchObject({
      timestamp: "2026-01-05T08:00:00Z",
      model: "m9",
      backfilled_fields: ["model"],
    });
    expect(filled).not.toHaveProperty("captured_at");
  });

  it("asks an exclusion reason of Flywheel's excluded records too, which every decision writes", () => {
    const block = {
      source: "kiwi",
      channel: "sqs",
      message_id: "m-1",
      model: "m",
      captured_at: "2026-01-05T08:00:00Z",
      excluded: true,
    };
    expect(validateProvenance({ provenance: block, status: "discarded" })).toEqual({
      valid: false,
      missing: ["exclusion_reason"],
      errors: ["exclusion_reason: is required when the record is excluded"],
    });
    expect(
      validateProvenance({
        provenance: { ...block, exclusion_reason: "discarded:wrong_answer" },
        status: "discarded",
      }),
    ).toEqual({ valid: true });
  });
});

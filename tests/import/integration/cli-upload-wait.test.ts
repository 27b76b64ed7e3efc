import { execFile } from "node:child_process";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalRuntime, startLocalRuntime } from "../../../local/runtime.ts";
import { CLEAN_RUN_ID, DAMAGED_RUN_ID, samplePath } from "../../../samples/index.ts";

/**
 * `flywheel runs upload DIR --wait --json` against a real local runtime (npm start's, in this
 * process): the upload's S3 notification starts the import, the CLI follows it through
 * GET /api/sft/runs and prints the final counts as one JSON document.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
let workDir: string;
let runtime: LocalRuntime | undefined;

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "flywheel-cli-wait-"));
  runtime = await startLocalRuntime({ dataDir: join(workDir, ".flywheel"), log: () => {} });
});

afterAll(async () => {
  await runtime?.stop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

const flywheel = (...args: string[]) =>
  promisify(execFile)(process.execPath, [join(repoRoot, "bin/flywheel.mjs"), ...args], {
    cwd: workDir,
    env: { ...process.env, FLYWHEEL_API_URL: "", FLYWHEEL_BUCKET: "" },
  });

describe("flywheel runs upload --wait --json", () => {
  it("prints the import's final counts, the quarantined lines by reason, as JSON", async () => {
    const dir = join(workDir, DAMAGED_RUN_ID);
    await cp(samplePath("runs", DAMAGED_RUN_ID), dir, { recursive: true });

    const first = await flywheel("runs", "upload", dir, "--wait", "--timeout", "60", "--json");
    const result = JSON.parse(first.stdout);
    expect(result).toMatchObject({
      run_id: DAMAGED_RUN_ID,
      bucket: runtime?.config.bucket,
      files: [{ key: `runs/${DAMAGED_RUN_ID}/sft_candidates.jsonl` }],
      import: {
        state: "completed",
        by_reason_source: expect.stringMatching(/^s3:\/\/.*\/quarantine\/runs\//),
      },
    });
    const counts = result.import;
    expect(counts.imported).toBeGreaterThan(0);
    expect(counts.quarantined).toBeGreaterThan(0);
    expect(counts.imported + counts.skipped + counts.quarantined).toBeGreaterThan(40);
    const byReason = Object.values(counts.by_reason as Record<string, number>);
    expect(byReason.reduce((sum, n) => sum + n, 0)).toBe(counts.quarantined);

    // The same folder again: a new import whose candidates are all stored already.
    const again = JSON.parse(
      (await flywheel("runs", "upload", dir, "--wait", "--timeout", "60", "--json")).stdout,
    );
    expect(again.import).toMatchObject({
      state: "completed",
      imported: 0,
      skipped: counts.imported + counts.skipped,
      quarantined: counts.quarantined,
      by_reason: counts.by_reason,
    });
    expect(again.import.by_reason_source).not.toBe(counts.by_reason_source);
  });

  it("prints the counts as text without --json, and other commands' one document with it", async () => {
    const dir = join(workDir, "text-run");
    await cp(samplePath("runs", CLEAN_RUN_ID), dir, { recursive: true });
    const text = await flywheel("runs", "upload", dir, "--wait", "--timeout", "60", "--progress");
    expect(text.stderr).toMatch(/^uploading .* of .* \(100%\), .*\/s$/m);
    expect(text.stderr).toMatch(/^run text-run: completed, \d+ imported/m);
    expect(text.stdout).toMatch(
      /^import of run text-run completed: \d+ imported, 0 skipped, 0 quarantined$/m,
    );

    const list = JSON.parse((await flywheel("runs", "list", "--json")).stdout);
    expect(list.runs).toContainEqual(
      expect.objectContaining({
        run_id: "text-run",
        files: 1,
        has_candidates: true,
        bytes: expect.any(Number),
      }),
    );

    const ingest = JSON.parse(
      (await flywheel("ingest", samplePath("corrections", "valid.jsonl"), "--json")).stdout,
    );
    expect(ingest).toMatchObject({ published: ingest.lines, refused: 0, refusals: [] });
    expect(ingest.lines).toBeGreaterThan(0);
  });
});

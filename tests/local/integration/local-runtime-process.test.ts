import { PutObjectCommand } from "@aws-sdk/client-s3";
import { GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { describe, expect, it } from "vitest";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import type { LocalConfig } from "../../../local/local-config.ts";
import { generateRunLines } from "../../../samples/generate-run.ts";
import {
  correctionBurst,
  correctionsDrained,
  localClients,
  statsTotal,
  storedCount,
  suiteLocalProcess,
} from "../../support/local-process.ts";

/**
 * `npm start` as a person runs it, in a process of its own: killed outright in the middle of an
 * import, and stopped with two Ctrl-Cs, each time started again on the same data folder.
 */
const LINES = 3_000;
const BURST = 1_000;
/** Each test starts the runtime two or three times; a busy 2-core machine takes 10 s a start. */
const PROCESS_TEST_TIMEOUT_MS = 180_000;
const local = suiteLocalProcess("flywheel-process");

async function upload(config: LocalConfig, runId: string) {
  const body = `${[...generateRunLines({ count: LINES, runId, seed: 3 })].join("\n")}\n`;
  await localClients(config).s3.send(
    new PutObjectCommand({ Bucket: config.bucket, Key: `runs/${runId}/sft_candidates.jsonl`, Body: body }),
  );
}

/** Candidates stored for the run, counted through the by-run index. */
async function storedCandidates(config: LocalConfig, runId: string): Promise<number> {
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await localClients(config).db.send(
      new QueryCommand({
        TableName: config.tableName,
        IndexName: "gsi2",
        KeyConditionExpression: "gsi2pk = :pk",
        ExpressionAttributeValues: { ":pk": `RUN#${runId}` },
        Select: "COUNT",
        ExclusiveStartKey: start,
      }),
    );
    total += page.Count ?? 0;
    start = page.LastEvaluatedKey;
  } while (start);
  return total;
}

/** Waits until the import has stored some candidates but not all: the middle of the import. */
const midImport = (config: LocalConfig, runId: string) =>
  local.until("the import under way", async () => {
    const stored = await storedCandidates(config, runId);
    return stored >= 150 ? stored : undefined;
  });

const runRecord = async (config: LocalConfig, runId: string) =>
  (
    await localClients(config).db.send(
      new GetCommand({ TableName: config.tableName, Key: { pk: `RUN#${runId}`, sk: "RUN" } }),
    )
  ).Item;

const completedRun = (config: LocalConfig, runId: string) =>
  local.until(`run ${runId} completed`, async () => {
    const run = await runRecord(config, runId);
    if (run?.state === "failed") throw new Error(`import failed: ${JSON.stringify(run)}`);
    return run?.state === "completed" ? run : undefined;
  });

const oneCleanImport = { lines: LINES, imported: LINES, skipped: 0, quarantined: 0 };

describe("npm start in its own process", () => {
  it(
    "finishes by itself an import killed half-way (SIGKILL), with the counts of one clean import",
    async () => {
      const first = await local.start();
      await upload(first.config, "killed");
      const storedBeforeKill = await midImport(first.config, "killed");
      first.process.kill("SIGKILL");
      await first.exited;
      expect(storedBeforeKill).toBeLessThan(LINES);

      local.clearOutput();
      const second = await local.start();
      expect(local.output).toContain("queued messages recovered: 1 on flywheel-run-uploads");
      const run = await completedRun(second.config, "killed");
      expect(run.counts).toMatchObject(oneCleanImport);
      expect(await storedCandidates(second.config, "killed")).toBe(LINES);
      second.process.kill("SIGKILL");
      await second.exited;
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    "first Ctrl-C says what runs and how far; the second stops at a checkpoint that the next start finishes",
    async () => {
      local.clearOutput();
      const running = await local.start();
      await upload(running.config, "interrupted");
      await midImport(running.config, "interrupted");

      running.process.kill("SIGINT");
      await local.until("the first Ctrl-C answered", async () =>
        local.output.includes("Ctrl-C again") ? true : undefined,
      );
      expect(local.output).toMatch(
        /SIGINT: stopping once this finishes:\n\[flywheel\] {3}import of run interrupted \(runs\/interrupted\/sft_candidates\.jsonl, [\d.]+ MB\): [\d,]+ lines read, [\d,]+ imported/,
      );
      // A second signal within a second is tsx passing the first one on, not a person.
      await new Promise((r) => setTimeout(r, 1_100));
      running.process.kill("SIGINT");
      expect(await running.exited).toBe(0);
      expect(local.output).toContain("SIGINT again: stopping at the next checkpoint");
      expect(local.output).toContain("stopped at a checkpoint");

      local.clearOutput();
      const restarted = await local.start();
      const run = await completedRun(restarted.config, "interrupted");
      expect(run.counts).toMatchObject(oneCleanImport);
      // The first invocation stopped at its checkpoint; the continuation read on from there.
      expect(run.invocations).toBe(2);
      expect(await storedCandidates(restarted.config, "interrupted")).toBe(LINES);

      // With nothing running, one Ctrl-C stops at once.
      restarted.process.kill("SIGINT");
      expect(await restarted.exited).toBe(0);
      expect(local.output).toMatch(/SIGINT: stopping\n/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    "ingests a burst of corrections killed half-way (SIGKILL) exactly once each after the restart",
    async () => {
      local.clearOutput();
      const running = await local.start();
      const burst = await correctionBurst(BURST, "burst");
      const queueUrl = running.config.queues["flywheel-corrections"] as string;
      // The runs imported above count too.
      const before = await statsTotal(running.config);
      const reports = await publishCorrection(localClients(running.config).sqs, queueUrl, burst);
      expect(reports.filter((report) => !report.ok)).toEqual([]);
      const storedAtKill = await local.until("the burst under way", async () => {
        const stored = (await statsTotal(running.config)) - before;
        return stored >= 50 ? stored : undefined;
      });
      running.process.kill("SIGKILL");
      await running.exited;
      expect(storedAtKill).toBeLessThan(BURST);

      local.clearOutput();
      const restarted = await local.start();
      await local.until("the burst ingested", async () =>
        (await correctionsDrained(restarted.config)) ? true : undefined,
      );
      expect(await statsTotal(restarted.config)).toBe(before + BURST);
      const ids = reports.map((report) => (report as { recordId: string }).recordId);
      expect(await storedCount(restarted.config, ids)).toBe(BURST);
      restarted.process.kill("SIGKILL");
      await restarted.exited;
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, DynamoDBDocumentClient, GetCommand, QueryCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import type { LocalConfig } from "../../../local/local-config.ts";
import { generateRunLines } from "../../../samples/generate-run.ts";
import { samplePath } from "../../../samples/index.ts";

/**
 * `npm start` as a person runs it, in a process of its own: killed outright in the middle of an
 * import, and stopped with two Ctrl-Cs, each time started again on the same data folder.
 */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const LINES = 3_000;
const BURST = 1_000;
/** Each test starts the runtime two or three times; a busy 2-core machine takes 10 s a start. */
const PROCESS_TEST_TIMEOUT_MS = 180_000;
let dataDir: string;
let child: ChildProcess | undefined;
let output = "";

interface Running {
  readonly process: ChildProcess;
  readonly config: LocalConfig;
  readonly exited: Promise<number | null>;
}

async function startRuntime(): Promise<Running> {
  const started = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "local/start.ts")], {
    cwd: repoRoot,
    env: { ...process.env, FLYWHEEL_DATA_DIR: dataDir, FLYWHEEL_API_PORT: "0", POWERTOOLS_LOG_LEVEL: "WARN" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child = started;
  const exited = new Promise<number | null>((done) => started.once("exit", (code) => done(code)));
  await new Promise<void>((ready, fail) => {
    started.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes("local runtime ready")) ready();
    });
    started.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    void exited.then((code) =>
      fail(new Error(`the runtime exited (${code}) before it was ready:\n${output}`)),
    );
  });
  const config = JSON.parse(await readFile(join(dataDir, "local.json"), "utf8")) as LocalConfig;
  return { process: started, config, exited };
}

const clients = (config: LocalConfig) => ({
  s3: new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true }),
  db: DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  ),
});

async function upload(config: LocalConfig, runId: string) {
  const body = `${[...generateRunLines({ count: LINES, runId, seed: 3 })].join("\n")}\n`;
  await clients(config).s3.send(
    new PutObjectCommand({ Bucket: config.bucket, Key: `runs/${runId}/sft_candidates.jsonl`, Body: body }),
  );
}

/** Candidates stored for the run, counted through the by-run index. */
async function storedCandidates(config: LocalConfig, runId: string): Promise<number> {
  let total = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await clients(config).db.send(
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

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not in time\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the import has stored some candidates but not all: the middle of the import. */
const midImport = (config: LocalConfig, runId: string) =>
  until("the import under way", async () => {
    const stored = await storedCandidates(config, runId);
    return stored >= 150 ? stored : undefined;
  });

const runRecord = async (config: LocalConfig, runId: string) =>
  (
    await clients(config).db.send(
      new GetCommand({ TableName: config.tableName, Key: { pk: `RUN#${runId}`, sk: "RUN" } }),
    )
  ).Item;

const completedRun = (config: LocalConfig, runId: string) =>
  until(`run ${runId} completed`, async () => {
    const run = await runRecord(config, runId);
    if (run?.state === "failed") throw new Error(`import failed: ${JSON.stringify(run)}`);
    return run?.state === "completed" ? run : undefined;
  });

/** The candidates the stats counters hold, as `GET /api/sft/stats` reads them. */
async function statsTotal(config: LocalConfig): Promise<number> {
  const response = await fetch(`${config.apiUrl}/api/sft/stats`, {
    headers: { authorization: `Bearer ${config.reviewerToken}` },
  });
  if (!response.ok) throw new Error(`stats: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { total: number }).total;
}

const oneCleanImport = { lines: LINES, imported: LINES, skipped: 0, quarantined: 0 };

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "flywheel-process-"));
});

/** A test that failed half-way leaves its runtime running: the next one needs the data folder. */
async function killLeftover() {
  const running = child;
  if (running && running.exitCode === null && running.signalCode === null) {
    running.kill("SIGKILL");
    await new Promise((r) => running.once("exit", r));
  }
}

afterEach(killLeftover);

afterAll(async () => {
  await killLeftover();
  // Give the DynamoDB Local of a killed runtime its moment to see its stdin close and stop.
  await new Promise((r) => setTimeout(r, 500));
  await rm(dataDir, { recursive: true, force: true });
});

describe("npm start in its own process", () => {
  it(
    "finishes by itself an import killed half-way (SIGKILL), with the counts of one clean import",
    async () => {
      const first = await startRuntime();
      await upload(first.config, "killed");
      const storedBeforeKill = await midImport(first.config, "killed");
      first.process.kill("SIGKILL");
      await first.exited;
      expect(storedBeforeKill).toBeLessThan(LINES);

      output = "";
      const second = await startRuntime();
      expect(output).toContain("queued messages recovered: 1 on flywheel-run-uploads");
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
      output = "";
      const running = await startRuntime();
      await upload(running.config, "interrupted");
      await midImport(running.config, "interrupted");

      running.process.kill("SIGINT");
      await until("the first Ctrl-C answered", async () =>
        output.includes("Ctrl-C again") ? true : undefined,
      );
      expect(output).toMatch(
        /SIGINT: stopping once this finishes:\n\[flywheel\] {3}import of run interrupted \(runs\/interrupted\/sft_candidates\.jsonl, [\d.]+ MB\): [\d,]+ lines read, [\d,]+ imported/,
      );
      // A second signal within a second is tsx passing the first one on, not a person.
      await new Promise((r) => setTimeout(r, 1_100));
      running.process.kill("SIGINT");
      expect(await running.exited).toBe(0);
      expect(output).toContain("SIGINT again: stopping at the next checkpoint");
      expect(output).toContain("stopped at a checkpoint");

      output = "";
      const restarted = await startRuntime();
      const run = await completedRun(restarted.config, "interrupted");
      expect(run.counts).toMatchObject(oneCleanImport);
      // The first invocation stopped at its checkpoint; the continuation read on from there.
      expect(run.invocations).toBe(2);
      expect(await storedCandidates(restarted.config, "interrupted")).toBe(LINES);

      // With nothing running, one Ctrl-C stops at once.
      restarted.process.kill("SIGINT");
      expect(await restarted.exited).toBe(0);
      expect(output).toMatch(/SIGINT: stopping\n/);
    },
    PROCESS_TEST_TIMEOUT_MS,
  );

  it(
    "ingests a burst of corrections killed half-way (SIGKILL) exactly once each after the restart",
    async () => {
      output = "";
      const running = await startRuntime();
      const examples = (await readFile(samplePath("corrections", "valid.jsonl"), "utf8"))
        .split("\n")
        .filter(Boolean);
      const burst = Array.from({ length: BURST }, (_, i) => {
        const example = JSON.parse(examples[i % examples.length] as string);
        const prompt = typeof example.prompt === "string" ? { prompt: `${example.prompt} (#${i})` } : {};
        return { ...example, ...prompt, idempotency_key: `burst-${i}` };
      });
      const sqs = (config: LocalConfig) =>
        new SQSClient({ region: config.region, endpoint: config.sqsEndpoint, useQueueUrlAsEndpoint: false });
      const queueUrl = running.config.queues["flywheel-corrections"] as string;
      // The runs imported above count too.
      const before = await statsTotal(running.config);
      const reports = await publishCorrection(sqs(running.config), queueUrl, burst);
      expect(reports.filter((report) => !report.ok)).toEqual([]);
      const storedAtKill = await until("the burst under way", async () => {
        const stored = (await statsTotal(running.config)) - before;
        return stored >= 50 ? stored : undefined;
      });
      running.process.kill("SIGKILL");
      await running.exited;
      expect(storedAtKill).toBeLessThan(BURST);

      output = "";
      const restarted = await startRuntime();
      const queueDrained = async () => {
        const { Attributes } = await sqs(restarted.config).send(
          new GetQueueAttributesCommand({
            QueueUrl: restarted.config.queues["flywheel-corrections"],
            AttributeNames: ["All"],
          }),
        );
        return (
          Attributes?.ApproximateNumberOfMessages === "0" &&
          Attributes?.ApproximateNumberOfMessagesNotVisible === "0"
        );
      };
      await until("the burst ingested", async () => ((await queueDrained()) ? true : undefined));
      expect(await statsTotal(restarted.config)).toBe(before + BURST);
      const ids = reports.map((report) => (report as { recordId: string }).recordId);
      let found = 0;
      for (let offset = 0; offset < ids.length; offset += 100) {
        const Keys = ids.slice(offset, offset + 100).map((id) => ({ pk: `CAND#${id}`, sk: "CAND" }));
        const got = await clients(restarted.config).db.send(
          new BatchGetCommand({
            RequestItems: { [restarted.config.tableName]: { Keys, ProjectionExpression: "pk" } },
          }),
        );
        found += got.Responses?.[restarted.config.tableName]?.length ?? 0;
      }
      expect(found).toBe(BURST);
      restarted.process.kill("SIGKILL");
      await restarted.exited;
    },
    PROCESS_TEST_TIMEOUT_MS,
  );
});

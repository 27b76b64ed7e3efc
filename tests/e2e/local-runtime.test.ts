import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUES } from "../../lib/common/resources.ts";
import { publishCorrection } from "../../lib/ingest/client/publish-correction.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";
import { DAMAGED_RUN_ID, SAMPLES_DIR } from "../../samples/index.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../..");
const runId = "2026-04-07-143022";
const fixtures = SAMPLES_DIR;
const fixture = join(fixtures, "runs", runId, "sft_candidates.jsonl");
const runKey = `runs/${runId}/sft_candidates.jsonl`;

/** The runtime's data lives in `<workDir>/.flywheel`, where the CLI run from `workDir` finds it. */
let workDir: string;
let dataDir: string;
let runtime: LocalRuntime | undefined;
const logs: string[] = [];

const start = async (ports: { apiPort?: number; dynamoPort?: number; awsPort?: number } = {}) => {
  runtime = await startLocalRuntime({ dataDir, ...ports, log: (line) => logs.push(line) });
  return runtime;
};

const clientsFor = ({ config }: LocalRuntime) => ({
  s3: new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true }),
  dynamodb: DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  ),
});

async function getItem(rt: LocalRuntime, key: { pk: string; sk: string }) {
  const { Item } = await clientsFor(rt).dynamodb.send(
    new GetCommand({ TableName: rt.config.tableName, Key: key }),
  );
  return Item;
}

async function waitForCompletedRun(rt: LocalRuntime, id = runId, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getItem(rt, { pk: `RUN#${id}`, sk: "RUN" });
    if (run?.state === "completed") return run;
    if (run?.state === "failed") throw new Error(`import failed: ${JSON.stringify(run)}`);
    if (Date.now() > deadline)
      throw new Error(`run not completed in time: ${JSON.stringify(run)}\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "flywheel-e2e-"));
  dataDir = join(workDir, ".flywheel");
});

afterAll(async () => {
  await runtime?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe("local runtime", () => {
  let firstPorts: { apiPort: number; dynamoPort: number; awsPort: number };
  let firstConfig: LocalRuntime["config"];

  it("starts on loopback and publishes its endpoints in local.json", async () => {
    const rt = await start();
    firstConfig = rt.config;
    for (const url of [
      rt.config.apiUrl,
      rt.config.s3Endpoint,
      rt.config.sqsEndpoint,
      rt.config.dynamodbEndpoint,
    ]) {
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    }
    firstPorts = {
      apiPort: Number(new URL(rt.config.apiUrl).port),
      dynamoPort: Number(new URL(rt.config.dynamodbEndpoint).port),
      awsPort: Number(new URL(rt.config.s3Endpoint).port),
    };
    expect(JSON.parse(await readFile(join(dataDir, "local.json"), "utf8"))).toEqual(rt.config);
    expect(rt.config).toMatchObject({ bucket: "flywheel-local", tableName: "flywheel", region: "us-east-1" });
    const queueNames = Object.values(QUEUES).flatMap((q) => [`flywheel-${q.name}`, `flywheel-${q.name}-dlq`]);
    expect(Object.keys(rt.config.queues).sort()).toEqual(queueNames.sort());
    expect(Object.keys(rt.config.ingestTokens).sort()).toEqual(["kiwi", "peregrine"]);
  });

  it("serves the API", async () => {
    const response = await fetch(`${firstConfig.apiUrl}/api/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
  });

  it("gives each role a dev token that reaches exactly its role's routes", async () => {
    const roleTokens = (runtime as LocalRuntime).config.roleTokens ?? {};
    expect(Object.keys(roleTokens).sort()).toEqual([
      "admin",
      "eval-lead",
      "eval-writer",
      "exporter",
      "reviewer",
    ]);
    const status = async (role: string, path: string) =>
      (
        await fetch(`${firstConfig.apiUrl}${path}`, {
          headers: { authorization: `Bearer ${roleTokens[role]}` },
        })
      ).status;
    expect(await status("reviewer", "/api/sft/stats")).toBe(200);
    expect(await status("reviewer", "/api/exports")).toBe(403);
    expect(await status("exporter", "/api/exports")).toBe(200);
    expect(await status("exporter", "/api/sft/stats")).toBe(403);
    const refused = await fetch(`${firstConfig.apiUrl}/api/sft/queue`, {
      headers: { authorization: `Bearer ${roleTokens["eval-writer"]}` },
    });
    expect(await refused.json()).toEqual({
      detail: "This route needs the scope flywheel/review, which local-eval-writer does not hold",
    });
  });

  it("imports a run uploaded to S3", async () => {
    const rt = runtime as LocalRuntime;
    await clientsFor(rt).s3.send(
      new PutObjectCommand({ Bucket: rt.config.bucket, Key: runKey, Body: await readFile(fixture) }),
    );

    const run = await waitForCompletedRun(rt);
    expect(run.counts.imported).toBe(30);
    const candidate = await getItem(rt, { pk: `CAND#${runId}-0000000`, sk: "CAND" });
    expect(candidate?.status).toBe("needs_review");
    expect(
      logs.filter((line) => line.includes(`queued import of s3://flywheel-local/${runKey}`)),
    ).toHaveLength(1);
  });

  it("imports a run uploaded with the flywheel CLI", async () => {
    const rt = runtime as LocalRuntime;
    const cli = (...args: string[]) =>
      promisify(execFile)(process.execPath, [join(repoRoot, "bin/flywheel.mjs"), ...args], { cwd: workDir });

    const upload = await cli("runs", "upload", join(fixtures, "runs", runId), "--run-id", "cli-run");
    expect(upload.stdout).toContain("s3://flywheel-local/runs/cli-run/sft_candidates.jsonl");
    const run = await waitForCompletedRun(rt, "cli-run");
    expect(run.counts.imported + run.counts.skipped).toBe(30);

    const list = await cli("runs", "list");
    expect(list.stdout).toMatch(/^cli-run {2}1 file\(s\)/m);
  });

  it("consumes the other queues with their own handlers", async () => {
    const rt = runtime as LocalRuntime;
    const [line] = (await readFile(join(fixtures, "corrections", "valid.jsonl"), "utf8")).split("\n");
    const message = { ...JSON.parse(line as string), idempotency_key: `e2e-${Date.now()}` };
    const sqs = new SQSClient({
      region: rt.config.region,
      endpoint: rt.config.sqsEndpoint,
      useQueueUrlAsEndpoint: false,
    });
    const [report] = await publishCorrection(sqs, rt.config.queues["flywheel-corrections"] as string, [
      message,
    ]);
    expect(report?.ok).toBe(true);
    const recordId = (report as { recordId: string }).recordId;

    const deadline = Date.now() + 20_000;
    while (!(await getItem(rt, { pk: `CAND#${recordId}`, sk: "CAND" }))) {
      if (Date.now() > deadline) throw new Error(`correction not ingested:\n${logs.join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it("loads the samples with flywheel demo: both runs, the corrections and the chat sessions", async () => {
    const rt = runtime as LocalRuntime;
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [join(repoRoot, "bin/flywheel.mjs"), "demo"],
      {
        cwd: workDir,
      },
    );
    expect(stdout).toContain("published 4 of 4 correction(s); 0 refused");
    expect(stdout).toContain("loaded 3 chat session(s) with 3 rating(s)");

    const damaged = await waitForCompletedRun(rt, DAMAGED_RUN_ID);
    expect(damaged.counts).toMatchObject({ lines: 47, imported: 31, quarantined: 16 });
    const sessions = await fetch(`${rt.config.apiUrl}/api/v2/eval/sessions`, {
      headers: { authorization: `Bearer ${rt.config.reviewerToken}` },
    });
    const ids = ((await sessions.json()) as { sessions: { id: string }[] }).sessions.map((s) => s.id);
    expect(ids.sort()).toEqual(["sess-001", "sess-002", "sess-003"]);
  });

  it("keeps runs, objects and tokens across a restart", async () => {
    await runtime?.stop();
    runtime = undefined;
    expect(existsSync(join(dataDir, "local.json"))).toBe(false);
    logs.length = 0;

    const rt = await start(firstPorts);
    expect(rt.config).toEqual(firstConfig);

    const run = await getItem(rt, { pk: `RUN#${runId}`, sk: "RUN" });
    expect(run?.state).toBe("completed");
    const object = await clientsFor(rt).s3.send(
      new GetObjectCommand({ Bucket: rt.config.bucket, Key: runKey }),
    );
    expect(Buffer.from((await object.Body?.transformToByteArray()) ?? [])).toEqual(await readFile(fixture));
    // Restored objects are not new uploads: nothing is imported again.
    expect(logs.some((line) => line.includes("queued import"))).toBe(false);
  });
});

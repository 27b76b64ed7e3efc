import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { QUEUES } from "../../lib/resources.ts";
import { type LocalRuntime, startLocalRuntime } from "../../local/runtime.ts";

const here = dirname(fileURLToPath(import.meta.url));
const runId = "2026-04-07-143022";
const fixture = resolve(here, "../../../shared/fixtures/runs", runId, "sft_candidates.jsonl");
const runKey = `runs/${runId}/sft_candidates.jsonl`;

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

async function waitForCompletedRun(rt: LocalRuntime, timeoutMs = 45_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await getItem(rt, { pk: `RUN#${runId}`, sk: "RUN" });
    if (run?.state === "completed") return run;
    if (run?.state === "failed") throw new Error(`import failed: ${JSON.stringify(run)}`);
    if (Date.now() > deadline)
      throw new Error(`run not completed in time: ${JSON.stringify(run)}\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), "flywheel-e2e-"));
});

afterAll(async () => {
  await runtime?.stop();
  await rm(dataDir, { recursive: true, force: true });
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

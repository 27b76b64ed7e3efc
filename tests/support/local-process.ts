import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { BatchGetCommand, DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach } from "vitest";
import type { LocalConfig } from "../../local/local-config.ts";
import { samplePath } from "../../samples/index.ts";
import { mulberry32 } from "./random.ts";

/** `npm start` in a process of its own, on a data folder of the test's: started, killed, started again. */
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface RunningRuntime {
  readonly process: ChildProcess;
  readonly config: LocalConfig;
  readonly exited: Promise<number | null>;
}

export class LocalProcess {
  private child: ChildProcess | undefined;
  /** Everything the runtime printed since the last `clearOutput`. */
  output = "";

  constructor(private readonly dataDir: string) {}

  clearOutput(): void {
    this.output = "";
  }

  async start(): Promise<RunningRuntime> {
    const started = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "local/start.ts")], {
      cwd: repoRoot,
      env: {
        ...process.env,
        FLYWHEEL_DATA_DIR: this.dataDir,
        FLYWHEEL_API_PORT: "0",
        POWERTOOLS_LOG_LEVEL: "WARN",
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = started;
    const exited = new Promise<number | null>((done) => started.once("exit", (code) => done(code)));
    await new Promise<void>((ready, fail) => {
      started.stdout?.on("data", (chunk: Buffer) => {
        this.output += chunk.toString();
        if (this.output.includes("local runtime ready")) ready();
      });
      started.stderr?.on("data", (chunk: Buffer) => {
        this.output += chunk.toString();
      });
      void exited.then((code) =>
        fail(new Error(`the runtime exited (${code}) before it was ready:\n${this.output}`)),
      );
    });
    const config = JSON.parse(await readFile(join(this.dataDir, "local.json"), "utf8")) as LocalConfig;
    return { process: started, config, exited };
  }

  /** Kills a runtime a failed test left running (the next test needs the data folder). */
  async killLeftover(): Promise<void> {
    const running = this.child;
    if (running && running.exitCode === null && running.signalCode === null) {
      running.kill("SIGKILL");
      await new Promise((r) => running.once("exit", r));
    }
  }

  /** Polls `probe` until it answers something, failing with the runtime's output after `timeoutMs`. */
  async until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`${what}: not in time\n${this.output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * The suite's runtime process on a data folder of its own (`/tmp/<name>-XXXXXX`): a runtime a
 * failed test left running is killed after each test, and the folder removed after the suite.
 */
export function suiteLocalProcess(name: string): LocalProcess {
  const dataDir = mkdtempSync(join(tmpdir(), `${name}-`));
  const local = new LocalProcess(dataDir);
  afterEach(() => local.killLeftover());
  afterAll(async () => {
    await local.killLeftover();
    // Give the DynamoDB Local of a killed runtime its moment to see its stdin close and stop.
    await new Promise((r) => setTimeout(r, 500));
    await rm(dataDir, { recursive: true, force: true });
  });
  return local;
}

export const localClients = (config: LocalConfig) => ({
  s3: new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true }),
  db: DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
    { marshallOptions: { removeUndefinedValues: true } },
  ),
  sqs: new SQSClient({ region: config.region, endpoint: config.sqsEndpoint, useQueueUrlAsEndpoint: false }),
});

/** A seeded generator (mulberry32), its seed printed so a failing run can be repeated. */
export function seededRandom(name: string): () => number {
  const given = process.env.FLYWHEEL_TEST_SEED;
  const seed = given ? Number(given) : Math.floor(Math.random() * 2 ** 31);
  console.log(`${name}: seed ${seed} (FLYWHEEL_TEST_SEED=${seed} repeats this run)`);
  return mulberry32(seed);
}

/** The candidates the stats counters hold, as `GET /api/sft/stats` reads them. */
export async function statsTotal(config: LocalConfig): Promise<number> {
  const response = await fetch(`${config.apiUrl}/api/sft/stats`, {
    headers: { authorization: `Bearer ${config.reviewerToken}` },
  });
  if (!response.ok) throw new Error(`stats: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { total: number }).total;
}

/**
 * `count` corrections made from the sample's valid ones, each with a prompt and an idempotency
 * key of its own (`name` in both).
 */
export async function correctionBurst(count: number, name: string): Promise<Record<string, unknown>[]> {
  const examples = (await readFile(samplePath("corrections", "valid.jsonl"), "utf8"))
    .split("\n")
    .filter(Boolean);
  return Array.from({ length: count }, (_, i) => {
    const example = JSON.parse(examples[i % examples.length] as string);
    const prompt = typeof example.prompt === "string" ? { prompt: `${example.prompt} (#${i} ${name})` } : {};
    return { ...example, ...prompt, idempotency_key: `${name}-${i}` };
  });
}

/** Whether the corrections queue holds nothing, waiting or in flight. */
export async function correctionsDrained(config: LocalConfig): Promise<boolean> {
  const { Attributes } = await localClients(config).sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: config.queues["flywheel-corrections"],
      AttributeNames: ["All"],
    }),
  );
  return (
    Attributes?.ApproximateNumberOfMessages === "0" &&
    Attributes?.ApproximateNumberOfMessagesNotVisible === "0"
  );
}

/** How many of the candidates `ids` are stored. */
export async function storedCount(config: LocalConfig, ids: readonly string[]): Promise<number> {
  const { db } = localClients(config);
  let found = 0;
  for (let offset = 0; offset < ids.length; offset += 100) {
    const Keys = ids.slice(offset, offset + 100).map((id) => ({ pk: `CAND#${id}`, sk: "CAND" }));
    const got = await db.send(
      new BatchGetCommand({ RequestItems: { [config.tableName]: { Keys, ProjectionExpression: "pk" } } }),
    );
    found += got.Responses?.[config.tableName]?.length ?? 0;
  }
  return found;
}

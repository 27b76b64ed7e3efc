import { type ChildProcess, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { LocalConfig } from "../../local/local-config.ts";
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

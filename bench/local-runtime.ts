import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Upload } from "@aws-sdk/lib-storage";
import type { LocalConfig } from "../local/local-config.ts";
import { writeRun } from "../samples/generate-run.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** DynamoDB Local's JVM in the runtime (`FLYWHEEL_DYNAMODB_JVM`). */
export type DynamoDbJvm = "full" | "quick";

export interface LocalRuntimeImportResult {
  readonly lines: number;
  readonly jvm: DynamoDbJvm;
  readonly imported: number;
  readonly quarantined: number;
  /** From spawning `local/start.ts` to its "ready" line. */
  readonly startupMs: number;
  /** The emulators' share of it, as the runtime reports. */
  readonly emulatorsMs: number;
  /** The import's own duration, from its run record. */
  readonly seconds: number;
  readonly candidatesPerSecond: number;
  /** The runtime process's own RSS high-water mark (`VmHWM`): handlers, API, S3 and SQS emulation. */
  readonly runtimePeakRssMb: number;
  /** DynamoDB Local (its own JVM process) once the import is done. */
  readonly dynamodbRssMb: number;
  /** The machine's 1-minute load average at the start and at the end (the runtime competes for 2 cores). */
  readonly loadAverage: readonly [number, number];
}

/** Row key: lines, then the JVM (full first). */
export const localRuntimeRowKey = (row: LocalRuntimeImportResult): number =>
  row.lines * 10 + (row.jvm === "quick" ? 1 : 0);

/**
 * The import through `npm start`: the local runtime in a process of its own on a fresh data folder
 * (as a person runs it), a generated run (`--broken 0.01`, as the in-process import benchmark)
 * uploaded to its bucket in parts, imported by its own poller with the runtime's deadline and
 * checkpoints, then stopped with Ctrl-C.
 */
export async function benchLocalRuntimeImport(
  lines: number,
  jvm: DynamoDbJvm,
): Promise<LocalRuntimeImportResult> {
  const work = await mkdtemp(join(tmpdir(), "flywheel-bench-local-"));
  const dataDir = join(work, ".flywheel");
  const runFile = join(work, "sft_candidates.jsonl");
  const runId = `bench-local-${lines}`;
  const loadAtStart = loadavg()[0] as number;
  // The emulators take any credentials; the clients below need some.
  process.env.AWS_ACCESS_KEY_ID ??= "local";
  process.env.AWS_SECRET_ACCESS_KEY ??= "local";
  let runtime: ChildProcess | undefined;
  try {
    await writeRun(runFile, { count: lines, runId, broken: 0.01 });
    const spawnedAt = Date.now();
    const started = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "local/start.ts")], {
      cwd: repoRoot,
      env: {
        ...process.env,
        FLYWHEEL_DATA_DIR: dataDir,
        FLYWHEEL_API_PORT: "0",
        FLYWHEEL_DYNAMODB_JVM: jvm,
        POWERTOOLS_LOG_LEVEL: "WARN",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    runtime = started;
    let output = "";
    const emulatorsMs = await new Promise<number>((done, fail) => {
      started.stdout?.on("data", (chunk: Buffer) => {
        output += chunk.toString();
        const ready = /local runtime ready in \d+ ms \(emulators (\d+) ms/.exec(output);
        if (ready) done(Number(ready[1]));
      });
      started.once("exit", (code) => fail(new Error(`the runtime exited (${code}):\n${output}`)));
    });
    const startupMs = Date.now() - spawnedAt;
    const config = JSON.parse(await readFile(join(dataDir, "local.json"), "utf8")) as LocalConfig;
    const s3 = new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true });
    const db = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
    );
    await new Upload({
      client: s3,
      params: {
        Bucket: config.bucket,
        Key: `runs/${runId}/sft_candidates.jsonl`,
        Body: createReadStream(runFile),
      },
      partSize: 8 * 1024 * 1024,
    }).done();

    let run: Record<string, unknown> | undefined;
    do {
      await new Promise((r) => setTimeout(r, 1_000));
      const key = { pk: `RUN#${runId}`, sk: "RUN" };
      run = (await db.send(new GetCommand({ TableName: config.tableName, Key: key }))).Item;
    } while (run?.state !== "completed" && run?.state !== "failed");
    if (run.state === "failed") throw new Error(`the import failed: ${JSON.stringify(run)}`);
    const counts = run.counts as { imported: number; quarantined: number };
    const seconds = Number(run.duration_ms) / 1000;
    const javaPid = Number((await readFile(join(dataDir, "dynamodb", "launcher.pid"), "utf8")).trim());
    const result: LocalRuntimeImportResult = {
      lines,
      jvm,
      imported: counts.imported,
      quarantined: counts.quarantined,
      startupMs,
      emulatorsMs,
      seconds,
      candidatesPerSecond: counts.imported / seconds,
      runtimePeakRssMb: await statusMb(started.pid as number, "VmHWM"),
      dynamodbRssMb: await statusMb(javaPid, "VmRSS"),
      loadAverage: [loadAtStart, loadavg()[0] as number],
    };
    started.kill("SIGINT");
    await new Promise((r) => started.once("exit", r));
    return result;
  } finally {
    if (runtime && runtime.exitCode === null && runtime.signalCode === null) runtime.kill("SIGKILL");
    await rm(work, { recursive: true, force: true });
  }
}

async function statusMb(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) / 1024;
}

// The import through `npm start`: the local runtime in a process of its own (as a person runs it),
// a generated run uploaded to its bucket, imported by its own poller.
//   npx tsx bench/local-runtime.ts --lines 10000 [--jvm full|quick] [--in-memory-table]
// Prints one JSON line: start-up ms, import seconds and candidates/s, the runtime's peak RSS and
// DynamoDB Local's RSS at the end.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import { Upload } from "@aws-sdk/lib-storage";
import type { LocalConfig } from "../local/local-config.ts";
import { writeRun } from "../samples/generate-run.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values } = parseArgs({
  options: {
    lines: { type: "string", default: "10000" },
    jvm: { type: "string", default: "full" },
    "in-memory-table": { type: "boolean", default: false },
  },
});
const lines = Number(values.lines);

process.env.AWS_ACCESS_KEY_ID ??= "local";
process.env.AWS_SECRET_ACCESS_KEY ??= "local";
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const work = await mkdtemp(join(tmpdir(), "flywheel-bench-local-"));
const dataDir = join(work, ".flywheel");
const runFile = join(work, "sft_candidates.jsonl");
const runId = `bench-local-${lines}`;
let runtime: ChildProcess | undefined;
try {
  await writeRun(runFile, { count: lines, runId, broken: 0.01 });

  const spawnedAt = Date.now();
  runtime = spawn(process.execPath, ["--import", "tsx", join(repoRoot, "local/start.ts")], {
    cwd: repoRoot,
    env: {
      ...process.env,
      FLYWHEEL_DATA_DIR: dataDir,
      FLYWHEEL_API_PORT: "0",
      FLYWHEEL_DYNAMODB_JVM: values.jvm,
      ...(values["in-memory-table"] ? { FLYWHEEL_DYNAMODB_IN_MEMORY: "1" } : {}),
      POWERTOOLS_LOG_LEVEL: "WARN",
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let output = "";
  const ready = await new Promise<string>((done, fail) => {
    runtime?.stdout?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
      const line = /local runtime ready in (\d+) ms \(emulators (\d+) ms/.exec(output);
      if (line) done(line[0]);
    });
    runtime?.once("exit", (code) => fail(new Error(`runtime exited (${code}):\n${output}`)));
  });
  const startupMs = Date.now() - spawnedAt;
  const config = JSON.parse(await readFile(join(dataDir, "local.json"), "utf8")) as LocalConfig;
  const s3 = new S3Client({ region: config.region, endpoint: config.s3Endpoint, forcePathStyle: true });
  const db = DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: config.region, endpoint: config.dynamodbEndpoint }),
  );
  const { createReadStream } = await import("node:fs");
  await new Upload({
    client: s3,
    params: {
      Bucket: config.bucket,
      Key: `runs/${runId}/sft_candidates.jsonl`,
      Body: createReadStream(runFile),
    },
    partSize: 8 * 1024 * 1024,
  }).done();

  const pid = runtime.pid as number;
  let peakSampledMb = 0;
  let run: Record<string, unknown> | undefined;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000));
    peakSampledMb = Math.max(peakSampledMb, await statusMb(pid, "VmRSS"));
    run = (
      await db.send(new GetCommand({ TableName: config.tableName, Key: { pk: `RUN#${runId}`, sk: "RUN" } }))
    ).Item;
    if (run?.state === "completed" || run?.state === "failed") break;
  }
  const counts = run?.counts as { imported: number; quarantined: number };
  const seconds = Number(run?.duration_ms ?? 0) / 1000;
  const javaPid = Number(
    (await readFile(join(dataDir, "dynamodb", "launcher.pid"), "utf8").catch(() => "0")).trim(),
  );
  console.log(
    JSON.stringify({
      lines,
      jvm: values.jvm,
      table: values["in-memory-table"] ? "in memory" : "on disk",
      state: run?.state,
      imported: counts.imported,
      quarantined: counts.quarantined,
      startup_ms: startupMs,
      ready: ready,
      seconds: Number(seconds.toFixed(1)),
      candidates_per_s: Math.round(counts.imported / seconds),
      runtime_peak_rss_mb: await statusMb(pid, "VmHWM"),
      runtime_rss_sampled_peak_mb: peakSampledMb,
      dynamodb_rss_mb: await statusMb(javaPid, "VmRSS"),
    }),
  );
  runtime.kill("SIGINT");
  await new Promise((r) => runtime?.once("exit", r));
} finally {
  if (runtime && runtime.exitCode === null && runtime.signalCode === null) runtime.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
}

async function statusMb(pid: number, field: string): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const kb = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return Math.round(kb / 1024);
}

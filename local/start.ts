import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalRuntime, startLocalRuntime } from "./runtime.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** `FLYWHEEL_DATA_DIR` moves it (a test runs the runtime on a folder of its own). */
const dataDir = process.env.FLYWHEEL_DATA_DIR
  ? resolve(process.env.FLYWHEEL_DATA_DIR)
  : join(projectRoot, ".flywheel");
const log = (line: string) => console.log(`[flywheel] ${line}`);
/** While a graceful stop waits, what is still running is told again this often. */
const PROGRESS_EVERY_MS = 10_000;

let runtime: LocalRuntime | undefined;
/** How many deliberate stop signals have arrived, and when the last one did. */
let signals = 0;
let lastSignalAt = 0;

// Registered before start-up, so a Ctrl-C while the emulators boot still stops everything cleanly.
const shutdown = (signal: string) => {
  // Ctrl-C reaches tsx's wrapper process too, which passes the same signal on a moment later:
  // only one a second or more after the last counts as another.
  if (signals > 0 && Date.now() - lastSignalAt < 1_000) return;
  signals += 1;
  lastSignalAt = Date.now();
  if (signals === 1) {
    if (!runtime) log(`${signal}: stopping once start-up has finished`);
    else stopGracefully(runtime, signal);
  } else if (signals === 2 && runtime) {
    stopAtCheckpoint(runtime, signal);
  } else {
    log(`${signal} again: exiting now; what was in flight is delivered again on the next start`);
    process.exit(1);
  }
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

/** The first Ctrl-C: says what is still running and how to stop sooner, then lets it finish. */
function stopGracefully(running: LocalRuntime, signal: string) {
  const activity = running.activity();
  if (activity.length === 0) {
    log(`${signal}: stopping`);
  } else {
    log(`${signal}: stopping once this finishes:`);
    for (const line of activity) log(`  ${line}`);
    log("Ctrl-C again to stop at the next checkpoint instead: the rest is picked up on the next start");
  }
  const progress = setInterval(() => {
    for (const line of running.activity()) log(`  still running: ${line}`);
  }, PROGRESS_EVERY_MS);
  progress.unref();
  running.stop().then(
    () => {
      clearInterval(progress);
      log("stopped");
      process.exit(0);
    },
    (error: unknown) => {
      console.error("[flywheel] stop failed:", error);
      process.exit(1);
    },
  );
}

/** The second Ctrl-C: imports and exports checkpoint and hand the rest on; everything else stays queued. */
function stopAtCheckpoint(running: LocalRuntime, signal: string) {
  log(`${signal} again: stopping at the next checkpoint`);
  for (const line of running.activity()) log(`  ${line}`);
  running.stopNow().then(
    () => {
      log("stopped at a checkpoint; the rest is delivered again on the next start (npm start)");
      process.exit(0);
    },
    (error: unknown) => {
      console.error("[flywheel] stop failed:", error);
      process.exit(1);
    },
  );
}

try {
  runtime = await startLocalRuntime({
    dataDir,
    apiPort: process.env.FLYWHEEL_API_PORT ? undefined : 8787,
    log,
  });
} catch (error) {
  console.error("[flywheel] could not start:", error instanceof Error ? error.message : error);
  process.exit(1);
}

if (signals > 0) {
  stopGracefully(runtime, "SIGINT");
} else {
  const { config } = runtime;
  console.log(
    [
      "",
      `  API          ${config.apiUrl}   (try ${config.apiUrl}/api/health)`,
      `  S3 + SQS     ${config.s3Endpoint}   bucket ${config.bucket}`,
      `  DynamoDB     ${config.dynamodbEndpoint}   table ${config.tableName}`,
      `  Settings     ${join(dataDir, "local.json")} (endpoints, queue URLs, tokens)`,
      "",
      "  Upload a run:  npx flywheel runs upload <folder>",
      "  Stop:          Ctrl-C (work in progress is kept and picked up on the next start)",
      "",
    ].join("\n"),
  );
}

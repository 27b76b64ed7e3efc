import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type LocalRuntime, startLocalRuntime } from "./runtime.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
/** `FLYWHEEL_DATA_DIR` moves it (a test runs the runtime on a folder of its own). */
const dataDir = process.env.FLYWHEEL_DATA_DIR
  ? resolve(process.env.FLYWHEEL_DATA_DIR)
  : join(projectRoot, ".flywheel");
const log = (line: string) => console.log(`[flywheel] ${line}`);

let runtime: LocalRuntime | undefined;
let stoppingSince: number | undefined;

// Registered before start-up, so a Ctrl-C while the emulators boot still stops everything cleanly.
const shutdown = (signal: string) => {
  if (stoppingSince !== undefined) {
    // Ctrl-C reaches tsx's wrapper process too, which may pass the same signal on a moment later;
    // only a deliberate second one forces the exit.
    if (Date.now() - stoppingSince < 1_000) return;
    log(`${signal} again, exiting now`);
    process.exit(1);
  }
  stoppingSince = Date.now();
  log(runtime ? `${signal}: stopping` : `${signal}: stopping once start-up has finished`);
  if (runtime) stop(runtime);
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

function stop(running: LocalRuntime) {
  running.stop().then(
    () => {
      log("stopped");
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

if (stoppingSince !== undefined) {
  stop(runtime);
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
      "  Stop:          Ctrl-C",
      "",
    ].join("\n"),
  );
}

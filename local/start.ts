import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalRuntime } from "./runtime.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dataDir = join(projectRoot, ".flywheel");

const runtime = await startLocalRuntime({
  dataDir,
  apiPort: process.env.FLYWHEEL_API_PORT ? undefined : 8787,
  log: (line) => console.log(`[flywheel] ${line}`),
});
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

let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    console.log(`[flywheel] ${signal} again, exiting now`);
    process.exit(1);
  }
  stopping = true;
  console.log(`[flywheel] ${signal}: stopping`);
  runtime.stop().then(
    () => {
      console.log("[flywheel] stopped");
      process.exit(0);
    },
    (error: unknown) => {
      console.error("[flywheel] stop failed:", error);
      process.exit(1);
    },
  );
};
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));

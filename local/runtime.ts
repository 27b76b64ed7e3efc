import { existsSync } from "node:fs";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { buildCodeVersion } from "../lib/common/code-version.ts";
import { dlqName, QUEUES, type QueueKey } from "../lib/common/resources.ts";
import { importsInProgress } from "../lib/import/usecases/imports-in-progress.ts";
import type { RestoreReport } from "./durable-sqs.ts";
import {
  type RunningDynamoDb,
  type RunningFauxqs,
  startDynamoDbLocal,
  startS3SqsEmulator,
} from "./emulators.ts";
import { loadApiHandler, QUEUE_CONSUMERS } from "./handlers.ts";
import { startHttpApi } from "./http-api.ts";
import { type LocalConfig, loadOrCreateTokens } from "./local-config.ts";
import { type Poller, startPoller } from "./poller.ts";
import { provision } from "./provision.ts";
import { onS3SpyEvent } from "./spy-hook.ts";
import { repairStrandedWork } from "./startup-check.ts";
import { createUploadBridge } from "./upload-bridge.ts";

export type { LocalConfig } from "./local-config.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export const LOCAL_REGION = "us-east-1";
export const LOCAL_NAMES = {
  tableName: "flywheel",
  bucket: "flywheel-local",
  queuePrefix: "flywheel-",
} as const;

export interface LocalRuntimeOptions {
  /** Holds DynamoDB's files, the S3 mirror, tokens.json and local.json. */
  readonly dataDir: string;
  /** Default: env `FLYWHEEL_API_PORT`, else any free port. */
  readonly apiPort?: number;
  /** Default: env `FLYWHEEL_DYNAMODB_PORT`, else any free port. */
  readonly dynamoPort?: number;
  /** S3 + SQS. Default: env `FLYWHEEL_AWS_PORT`, else any free port. */
  readonly awsPort?: number;
  /** Default: env `FLYWHEEL_LOCAL_VISIBILITY_TIMEOUT`, else each queue's own (as deployed). */
  readonly visibilityTimeoutSeconds?: number;
  readonly log?: (line: string) => void;
}

export interface LocalRuntime {
  readonly config: LocalConfig;
  /** What the queue consumers are doing now, one line each (an import with its counts so far). */
  activity(): string[];
  /** Stops receiving, lets what is running finish, then stops everything. */
  stop(): Promise<void>;
  /**
   * Stops at the next checkpoint: every invocation is told its time is up, so an import saves its
   * checkpoint and hands the rest on; resolves once the imports have done so. What else is in
   * flight stays on its queue and is delivered again on the next start. The process should exit
   * next (the emulators are left as they are, their state already on disk).
   */
  stopNow(): Promise<void>;
}

/**
 * The environment the handler modules were first imported with. They read it at module load,
 * so a later runtime in the same process must reuse the same endpoints (it defaults to them).
 */
let handlerEnvironment: { env: Record<string, string>; dynamoPort: number; awsPort: number } | undefined;

/**
 * Runs Flywheel on this machine, everything on 127.0.0.1: DynamoDB Local (persistent under
 * `<dataDir>/dynamodb`), fauxqs for S3 and SQS (objects in files under `<dataDir>/s3`, queued
 * messages journaled under `<dataDir>/queues`), the
 * resources of `lib/resources.ts`, the S3 → SQS notification the stack configures, one poller
 * per consumed queue, and the HTTP API in front of `functions/api.ts`.
 */
export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const started = Date.now();
  const phases: string[] = [];
  let phaseStart = started;
  const phase = (name: string) => {
    phases.push(`${name} ${Date.now() - phaseStart} ms`);
    phaseStart = Date.now();
  };
  const log = options.log ?? ((line: string) => console.log(line));
  const dataDir = resolve(options.dataDir);
  const dynamoPort =
    options.dynamoPort ?? envPort("FLYWHEEL_DYNAMODB_PORT") ?? handlerEnvironment?.dynamoPort ?? 0;
  const awsPort = options.awsPort ?? envPort("FLYWHEEL_AWS_PORT") ?? handlerEnvironment?.awsPort ?? 0;
  const apiPort = options.apiPort ?? envPort("FLYWHEEL_API_PORT") ?? 0;
  const visibilityTimeoutSeconds =
    options.visibilityTimeoutSeconds ?? envInteger("FLYWHEEL_LOCAL_VISIBILITY_TIMEOUT", 0, 43_200);

  const cleanup: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const step of cleanup.splice(0).reverse()) {
      await step().catch((error: unknown) => log(`stop: ${String(error)}`));
    }
  };

  try {
    await mkdir(dataDir, { recursive: true });
    await claimDataDir(dataDir);
    cleanup.push(() => rm(join(dataDir, LOCK_FILE), { force: true }));
    const tokens = await loadOrCreateTokens(join(dataDir, "tokens.json"));

    const [dynamo, fauxqs] = await startEmulators(dynamoPort, awsPort, dataDir, log, cleanup);
    phase("emulators");

    const env: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      TABLE_NAME: LOCAL_NAMES.tableName,
      BUCKET_NAME: LOCAL_NAMES.bucket,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
      REVIEWER_TOKEN: tokens.reviewerToken,
      INGEST_TOKENS: JSON.stringify(tokens.ingestTokens),
      LOCAL_ROLE_TOKENS: JSON.stringify(tokens.roleTokens ?? {}),
    };
    if (handlerEnvironment && JSON.stringify(handlerEnvironment.env) !== JSON.stringify(env)) {
      throw new Error(
        "the handler modules are already loaded in this process with other endpoints or tokens; " +
          "start the runtime again on the same ports and data directory, or in a new process",
      );
    }
    process.env.AWS_ACCESS_KEY_ID ??= "local";
    process.env.AWS_SECRET_ACCESS_KEY ??= "local";
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
    Object.assign(process.env, env);

    const clients = createAwsClients({
      AWS_REGION: LOCAL_REGION,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_S3: fauxqs.endpoint,
      AWS_ENDPOINT_URL_SQS: fauxqs.endpoint,
    });
    const provisioned = await provision(clients, LOCAL_NAMES);
    // Starting a judge run sends to the judge queue, whose URL the stack gives the API function.
    process.env.JUDGE_QUEUE_URL = provisioned.queues.judge.url;
    process.env.SUGGEST_QUEUE_URL = provisioned.queues.suggestions.url;
    process.env.EXPORTS_QUEUE_URL = provisioned.queues.exports.url;
    // An import running short of time hands the rest on to the run-uploads queue.
    process.env.RUN_UPLOADS_QUEUE_URL = provisioned.queues.runUploads.url;
    // Export manifests record the code version; a deployment stamps it at build, locally it is now.
    process.env.CODE_VERSION ??= buildCodeVersion(projectRoot);
    phase("provisioning");

    // Messages that were on the queues when the runtime last stopped (or died) go back on them;
    // those our own pollers had in flight died with them and are delivered again at once.
    const consumedHere = new Set(
      (Object.keys(QUEUE_CONSUMERS) as QueueKey[]).map((key) => provisioned.queues[key].name),
    );
    const recoveredQueues = fauxqs.restoreQueues(consumedHere);
    const recoveredNote = describeRecovered(recoveredQueues);
    if (recoveredNote) log(recoveredNote);
    const queueHandle = (key: QueueKey) => ({
      url: provisioned.queues[key].url,
      bodies: () => fauxqs.queuedBodies(provisioned.queues[key].name) ?? [],
    });
    const repairs = await repairStrandedWork({
      ...clients,
      tableName: provisioned.tableName,
      bucket: provisioned.bucket,
      region: LOCAL_REGION,
      queues: {
        runUploads: {
          ...queueHandle("runUploads"),
          configurationId: `${provisioned.queues.runUploads.name}-notification`,
        },
        exports: queueHandle("exports"),
        judge: queueHandle("judge"),
        suggestions: queueHandle("suggestions"),
      },
      log,
    });
    phase(`start-up check (${repairs.length} repaired)`);

    const restored = fauxqs.restoredObjects;
    const runUploads = provisioned.queues.runUploads;
    const bridge = createUploadBridge({
      s3: clients.s3,
      sqs: clients.sqs,
      bucket: provisioned.bucket,
      queueUrl: runUploads.url,
      region: LOCAL_REGION,
      configurationId: `${runUploads.name}-notification`,
      log,
    });
    const unhook = onS3SpyEvent(fauxqs.server, (event) => {
      if (event.status === "uploaded" || event.status === "copied")
        bridge.objectCreated(event.bucket, event.key);
    });
    cleanup.push(async () => {
      await bridge.drain();
      unhook();
    });

    handlerEnvironment = { env, dynamoPort: dynamo.port, awsPort: fauxqs.port };
    const cutShort = new AbortController();
    const pollers: Poller[] = [];
    cleanup.push(async () => {
      await Promise.all(pollers.splice(0).map((poller) => poller.stop()));
    });
    for (const key of Object.keys(QUEUE_CONSUMERS) as QueueKey[]) {
      const consumer = QUEUE_CONSUMERS[key];
      if (!consumer) continue;
      const handler = await consumer.load();
      const queue = provisioned.queues[key];
      pollers.push(
        startPoller({
          sqs: clients.sqs,
          queueUrl: queue.url,
          queueArn: queue.arn,
          region: LOCAL_REGION,
          handler,
          functionName: consumer.functionName,
          timeoutSeconds: QUEUES[key].handlerTimeoutSeconds,
          batchSize: QUEUES[key].batchSize,
          visibilityTimeoutSeconds,
          cutShort: cutShort.signal,
          log,
        }),
      );
    }

    phase("loading handlers");
    const staticDir = join(projectRoot, "web", "dist");
    const api = await startHttpApi({
      port: apiPort,
      handler: await loadApiHandler(),
      region: LOCAL_REGION,
      staticDir,
      browserConfig: { reviewerToken: tokens.reviewerToken },
      cutShort: cutShort.signal,
      log,
    });
    cleanup.push(() => api.stop());

    const queues: Record<string, string> = {};
    for (const queue of Object.values(provisioned.queues)) {
      queues[queue.name] = queue.url;
      queues[dlqName(queue.name)] = queue.dlqUrl;
    }
    const config: LocalConfig = {
      apiUrl: api.url,
      s3Endpoint: fauxqs.endpoint,
      sqsEndpoint: fauxqs.endpoint,
      dynamodbEndpoint: dynamo.endpoint,
      region: LOCAL_REGION,
      bucket: provisioned.bucket,
      tableName: provisioned.tableName,
      queues,
      reviewerToken: tokens.reviewerToken,
      ingestTokens: tokens.ingestTokens,
      roleTokens: tokens.roleTokens ?? {},
    };
    const configFile = join(dataDir, "local.json");
    await writeFile(configFile, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    // Present only while the runtime runs, so the CLI never targets a stopped stack.
    cleanup.push(() => rm(configFile, { force: true }));

    const staticNote = existsSync(staticDir) ? `, web UI from ${staticDir}` : "";
    phase("api");
    log(
      `local runtime ready in ${Date.now() - started} ms (${phases.join(", ")}): api ${api.url}${staticNote}; ` +
        `${restored} stored object(s) restored; ${pollers.length} queue consumer(s)`,
    );

    let stopping: Promise<void> | undefined;
    let stoppingNow: Promise<void> | undefined;
    // The cleanup empties `pollers`; what is running is still worth telling while it stops.
    const consumers = [...pollers];
    // Imports and exports stop at their next checkpoint once cut short and hand the rest on.
    const importers = consumers.filter(
      (poller) => poller.functionName === IMPORT_FUNCTION || poller.functionName === EXPORT_FUNCTION,
    );
    return {
      config,
      activity: () => describeActivity(consumers),
      stop: () => {
        stopping ??= stopAll();
        return stopping;
      },
      stopNow: () => {
        stoppingNow ??= (async () => {
          cutShort.abort();
          await api.stop();
          await Promise.all(importers.map((poller) => poller.stop()));
          // Imports started by an API request (a manual import) checkpoint the same way.
          while (importsInProgress().length > 0) await sleep(50);
        })();
        return stoppingNow;
      },
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}

async function startEmulators(
  dynamoPort: number,
  awsPort: number,
  dataDir: string,
  log: (line: string) => void,
  cleanup: Array<() => Promise<void>>,
): Promise<[RunningDynamoDb, RunningFauxqs]> {
  const [dynamo, fauxqs] = await Promise.allSettled([
    startDynamoDbLocal({
      port: dynamoPort,
      dbPath: join(dataDir, "dynamodb"),
      quickStart: quickStartDynamoDb(),
    }),
    startS3SqsEmulator({
      port: awsPort,
      persistence: { queuesDir: join(dataDir, "queues"), objectsDir: join(dataDir, "s3"), log },
    }),
  ]);
  if (dynamo.status === "fulfilled") cleanup.push(() => dynamo.value.stop());
  if (fauxqs.status === "fulfilled") cleanup.push(() => fauxqs.value.stop());
  if (dynamo.status === "rejected") throw dynamo.reason;
  if (fauxqs.status === "rejected") throw fauxqs.reason;
  return [dynamo.value, fauxqs.value];
}

const IMPORT_FUNCTION = "import-run";
const EXPORT_FUNCTION = "export";

/** One line per import in progress, then one per other consumer with a batch in hand. */
function describeActivity(pollers: readonly Poller[]): string[] {
  const lines = importsInProgress().map((run) => {
    const { lines: read, imported, skipped, quarantined } = run.counts;
    const extra = [
      skipped > 0 ? `${count(skipped)} skipped` : "",
      quarantined > 0 ? `${count(quarantined)} quarantined` : "",
    ]
      .filter(Boolean)
      .join(", ");
    return `import of run ${run.runId} (${run.key}, ${megabytes(run.sizeBytes)}): ${count(read)} lines read, ${count(imported)} imported${extra ? `, ${extra}` : ""}`;
  });
  for (const poller of pollers) {
    const records = poller.inFlight();
    if (records.length === 0 || (poller.functionName === IMPORT_FUNCTION && lines.length > 0)) continue;
    const exports = records.map((record) => exportIdIn(record.body)).filter((id) => id !== undefined);
    lines.push(
      exports.length > 0
        ? `${poller.functionName}: export ${exports.join(", ")}`
        : `${poller.functionName}: ${records.length} message(s)`,
    );
  }
  return lines;
}

const count = (n: number) => n.toLocaleString("en-US");
const megabytes = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

function exportIdIn(body: string): string | undefined {
  try {
    const id = (JSON.parse(body) as { export_id?: unknown }).export_id;
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * DynamoDB Local's JVM: `full` (C2 JIT, the default collector; what `npm run bench` runs) or
 * `quick` (C1 only, serial GC: starts sooner, imports slower). See bench/RESULTS.md.
 */
function quickStartDynamoDb(): boolean {
  const mode = process.env.FLYWHEEL_DYNAMODB_JVM ?? "full";
  if (mode !== "full" && mode !== "quick") {
    throw new Error(`FLYWHEEL_DYNAMODB_JVM must be "full" or "quick", got "${mode}"`);
  }
  return mode === "quick";
}

const LOCK_FILE = "runtime.pid";

/**
 * One runtime per data folder: a second would serve the same files and journal from another
 * memory. The claim names our pid; one left by a runtime that died is taken over.
 */
async function claimDataDir(dataDir: string): Promise<void> {
  const lock = join(dataDir, LOCK_FILE);
  const holder = Number((await readFile(lock, "utf8").catch(() => "")).trim());
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && isAlive(holder)) {
    throw new Error(`another local runtime (pid ${holder}) is using ${dataDir}; stop it first`);
  }
  await writeFile(lock, `${process.pid}\n`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function describeRecovered(report: RestoreReport | undefined): string | undefined {
  if (!report) return undefined;
  const parts = [
    ...Object.entries(report.visible).map(([queue, count]) => `${count} on ${queue}`),
    ...Object.entries(report.hidden).map(
      ([queue, count]) => `${count} on ${queue} (hidden until their visibility timeout)`,
    ),
  ];
  if (report.orphaned > 0) parts.push(`${report.orphaned} for queues that no longer exist (kept)`);
  return parts.length > 0 ? `queued messages recovered: ${parts.join(", ")}` : undefined;
}

function envPort(name: string): number | undefined {
  return envInteger(name, 0, 65_535);
}

function envInteger(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return undefined;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  }
  return value;
}

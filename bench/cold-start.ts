import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { type RunningFunction, startFunction } from "../tests/deploy/support/lambda-process.ts";
import { localResourceMap, resolveValue } from "../tests/deploy/support/resolve.ts";
import { type SynthesizedFunction, synthesizeStack } from "../tests/deploy/support/synth.ts";
import { httpEvent } from "../tests/support/http-events.ts";
import { BANNER, ESBUILD_OPTIONS } from "./bundle.ts";

/** One synthesized bundle's cold start on this machine. */
export interface ColdStartRow {
  /** The function's entry (`functions/<name>.ts`). */
  readonly name: string;
  readonly bundleKb: number;
  readonly sourceMapKb: number;
  readonly samples: number;
  /** From spawning the process to the handler being ready, with the template's NODE_OPTIONS. */
  readonly coldStartMedianMs: number;
  readonly coldStartP90Ms: number;
  /** The same without `--enable-source-maps`. */
  readonly withoutSourceMapsMedianMs: number;
  /** Of the cold start: importing and evaluating the bundle (the rest is Node starting). */
  readonly importMedianMs: number;
  readonly importWithoutSourceMapsMedianMs: number;
  /** The packages contributing most bytes to the bundle, with their share. */
  readonly largest: { readonly name: string; readonly kb: number }[];
  /** The API function only: its first request after a cold start (`FIRST_REQUEST`). */
  readonly firstRequest?: {
    readonly request: string;
    readonly coldStartMedianMs: number;
    readonly firstRequestMedianMs: number;
    /** Per start, the cold start and the first request added up, then the median. */
    readonly totalMedianMs: number;
    readonly totalP90Ms: number;
  };
}

/**
 * The request the API function is measured answering right after its cold start: the page a
 * reviewer opens first, as an admin (claims as API Gateway's JWT authorizer passes them on). It
 * loads the review capability and makes the SDK's first DynamoDB calls (credentials, endpoint,
 * signing), which a stand-in DynamoDB answers at once with empty results: what is measured is
 * the function's own work, not the database's.
 */
const FIRST_REQUEST = {
  method: "GET",
  path: "/api/sft/queue",
  claims: { sub: "bench-reviewer", "cognito:username": "reviewer", "cognito:groups": "[admin]" },
} as const;

export interface ColdStartResult {
  readonly samples: number;
  /** An empty handler in the same runtime stand-in: what Node's own start costs. */
  readonly emptyMedianMs: number;
  readonly rows: ColdStartRow[];
  /** Bundles of one dependency alone, built the same way: what importing it costs by itself. */
  readonly references: {
    readonly name: string;
    readonly bundleKb: number;
    readonly importMedianMs: number;
  }[];
}

/** The dependencies every bundle carries, measured alone (each module's namespace kept whole). */
const REFERENCES: Record<string, string> = {
  zod: 'export * as z from "zod";',
  "AWS SDK clients (DynamoDB document, S3, SQS)":
    'export * from "@aws-sdk/lib-dynamodb"; export { DynamoDBClient } from "@aws-sdk/client-dynamodb"; export { S3Client, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3"; export { SQSClient, SendMessageCommand } from "@aws-sdk/client-sqs";',
  "Powertools (logger, batch)":
    'export * from "@aws-lambda-powertools/logger"; export * from "@aws-lambda-powertools/batch";',
  "Powertools Metrics": 'export * from "@aws-lambda-powertools/metrics";',
  "Powertools Tracer (with the X-Ray SDK)": 'export * from "@aws-lambda-powertools/tracer";',
};

/**
 * Synthesizes the stack, then starts each function's bundle `samples` times in a fresh Node
 * process (the runtime stand-in of the deploy smoke test) with its template environment, and
 * measures until its handler is ready. No emulator is needed: a cold start makes no AWS call.
 * The starts are interleaved round by round (every bundle once, then again), so a busy moment of
 * the machine falls on all of them rather than on one.
 */
export async function benchColdStart(samples: number): Promise<ColdStartResult> {
  const stack = synthesizeStack();
  const scratch = mkdtempSync(join(tmpdir(), "flywheel-cold-start-"));
  try {
    const names = {
      tableName: "flywheel-bench",
      bucket: "flywheel-bench",
      queues: queueNames(stack.template),
      secrets: Object.fromEntries(
        Object.entries(stack.template.Resources)
          .filter(([, r]) => r.Type === "AWS::SecretsManager::Secret")
          .map(([id]) => [id, `arn:aws:secretsmanager:us-east-1:000000000000:secret:${id}-AbCdEf`]),
      ),
    };
    const map = localResourceMap(stack.template, names);
    const standIn = (name: string): SynthesizedFunction => ({
      logicalId: name,
      handler: "index.handler",
      runtime: "nodejs22.x",
      timeoutSeconds: 3,
      memoryMb: 512,
      environment: {},
      roleId: "",
      bundleDir: join(scratch, name),
      entry: name,
    });
    const empty = standIn("empty");
    mkdirSync(empty.bundleDir);
    writeFileSync(join(empty.bundleDir, "index.mjs"), "export const handler = async () => null;\n");
    const references = Object.entries(REFERENCES).map(([name, source], i) => ({
      name,
      source,
      fn: standIn(`ref${i}`),
    }));
    for (const reference of references) {
      await build({
        stdin: {
          contents: `${reference.source}\nexport const handler = async () => null;`,
          resolveDir: join(import.meta.dirname, ".."),
        },
        ...ESBUILD_OPTIONS,
        outfile: join(reference.fn.bundleDir, "index.mjs"),
        banner: { js: BANNER },
      });
    }

    const variants = [
      { key: "empty", fn: empty, environment: {} },
      ...stack.functions.flatMap((fn) => {
        const environment = environmentOf(fn, map);
        const { NODE_OPTIONS: _, ...withoutMaps } = environment;
        return [
          { key: `${fn.logicalId}:maps`, fn, environment },
          { key: `${fn.logicalId}:plain`, fn, environment: withoutMaps },
        ];
      }),
      ...references.map((r) => ({ key: r.fn.logicalId, fn: r.fn, environment: {} })),
    ];
    const api = stack.functions.find((fn) => fn.entry === "functions/api.ts");
    const dynamodb = await emptyDynamoDb();
    if (api) {
      variants.push({
        key: `${api.logicalId}:first`,
        fn: api,
        environment: { ...environmentOf(api, map), AWS_ENDPOINT_URL_DYNAMODB: dynamodb.url },
      });
    }
    const times = new Map(
      variants.map((v) => [
        v.key,
        { coldStart: [] as number[], init: [] as number[], first: [] as number[], total: [] as number[] },
      ]),
    );
    try {
      for (let round = 0; round < samples; round++) {
        for (const variant of variants) {
          const measured = await startOnce(variant.fn, variant.environment, variant.key.endsWith(":first"));
          const into = times.get(variant.key);
          into?.coldStart.push(measured.coldStartMs);
          into?.init.push(measured.initMs);
          if (measured.firstRequestMs !== undefined) {
            into?.first.push(measured.firstRequestMs);
            into?.total.push(measured.coldStartMs + measured.firstRequestMs);
          }
        }
      }
    } finally {
      dynamodb.server.close();
    }
    const p50 = (key: string, of: "coldStart" | "init" | "first" | "total") =>
      percentile(times.get(key)?.[of] ?? [], 0.5);

    const rows: ColdStartRow[] = [];
    for (const fn of stack.functions) {
      const name = fn.entry;
      rows.push({
        name,
        bundleKb: statSync(join(fn.bundleDir, "index.mjs")).size / 1024,
        sourceMapKb: statSync(join(fn.bundleDir, "index.mjs.map")).size / 1024,
        samples,
        coldStartMedianMs: p50(`${fn.logicalId}:maps`, "coldStart"),
        coldStartP90Ms: percentile(times.get(`${fn.logicalId}:maps`)?.coldStart ?? [], 0.9),
        withoutSourceMapsMedianMs: p50(`${fn.logicalId}:plain`, "coldStart"),
        importMedianMs: p50(`${fn.logicalId}:maps`, "init"),
        importWithoutSourceMapsMedianMs: p50(`${fn.logicalId}:plain`, "init"),
        largest: await largestPackages(name),
        ...(fn === api
          ? {
              firstRequest: {
                request: `${FIRST_REQUEST.method} ${FIRST_REQUEST.path}`,
                coldStartMedianMs: p50(`${fn.logicalId}:first`, "coldStart"),
                firstRequestMedianMs: p50(`${fn.logicalId}:first`, "first"),
                totalMedianMs: p50(`${fn.logicalId}:first`, "total"),
                totalP90Ms: percentile(times.get(`${fn.logicalId}:first`)?.total ?? [], 0.9),
              },
            }
          : {}),
      });
      const row = rows.at(-1) as ColdStartRow;
      console.log(
        `  ${name}: ${row.bundleKb.toFixed(0)} KB, cold start ${row.coldStartMedianMs.toFixed(0)} ms (import ${row.importMedianMs.toFixed(0)} ms; without source maps ${row.withoutSourceMapsMedianMs.toFixed(0)} ms)${row.firstRequest ? `; with its first request ${row.firstRequest.totalMedianMs.toFixed(0)} ms (the request ${row.firstRequest.firstRequestMedianMs.toFixed(0)} ms)` : ""}`,
      );
    }
    return {
      samples,
      emptyMedianMs: p50("empty", "coldStart"),
      rows,
      references: references.map((r) => ({
        name: r.name,
        bundleKb: statSync(join(r.fn.bundleDir, "index.mjs")).size / 1024,
        importMedianMs: p50(r.fn.logicalId, "init"),
      })),
    };
  } finally {
    stack.remove();
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function startOnce(fn: SynthesizedFunction, environment: Record<string, string>, firstRequest = false) {
  const running: RunningFunction = await startFunction(fn, {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "bench",
    AWS_SECRET_ACCESS_KEY: "bench",
    AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
    // As Lambda sets it: the handlers load their tracer (lib/common/tracing.ts) only when it is set.
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    ...environment,
  });
  let firstRequestMs: number | undefined;
  try {
    if (firstRequest) {
      const started = performance.now();
      const reply = await running.invoke<{ statusCode: number; body?: string }>(
        httpEvent(FIRST_REQUEST.method, FIRST_REQUEST.path, { claims: FIRST_REQUEST.claims }),
      );
      firstRequestMs = performance.now() - started;
      if (reply.statusCode !== 200) {
        throw new Error(
          `${FIRST_REQUEST.path} answered ${reply.statusCode}: ${reply.body}\n${running.output()}`,
        );
      }
    }
  } finally {
    await running.stop();
  }
  return { coldStartMs: running.coldStartMs, initMs: running.initMs, firstRequestMs };
}

/** A stand-in DynamoDB on a local port: every call succeeds at once with an empty result. */
async function emptyDynamoDb(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    request.resume();
    request.on("end", () => {
      response.writeHead(200, { "content-type": "application/x-amz-json-1.0" });
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function environmentOf(fn: SynthesizedFunction, map: ReturnType<typeof localResourceMap>) {
  return Object.fromEntries(
    Object.entries(fn.environment).map(([name, value]) => [name, resolveValue(value, map)]),
  );
}

function queueNames(template: ReturnType<typeof synthesizeStack>["template"]) {
  const queues: Record<string, { url: string; arn: string }> = {};
  for (const resource of Object.values(template.Resources)) {
    if (resource.Type !== "AWS::SQS::Queue") continue;
    const name = String(resource.Properties?.QueueName).replace(/^[^-]+-/, "");
    queues[name] = {
      url: `http://127.0.0.1:9/000000000000/bench-${name}`,
      arn: `arn:aws:sqs:us-east-1:000000000000:bench-${name}`,
    };
  }
  return queues;
}

/**
 * The bundle rebuilt with the stack's esbuild options and a metafile: the bytes each package
 * (or the project's own code) puts into it, largest first.
 */
async function largestPackages(entry: string): Promise<{ name: string; kb: number }[]> {
  const result = await build({
    entryPoints: [join(import.meta.dirname, "..", entry)],
    ...ESBUILD_OPTIONS,
    write: false,
    outfile: "index.mjs",
    metafile: true,
  });
  const output = Object.values(result.metafile.outputs).find((o) => o.entryPoint !== undefined);
  const bytes = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const match = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    const name = match ? (match[1] as string) : "flywheel (lib/, functions/)";
    bytes.set(name, (bytes.get(name) ?? 0) + bytesInOutput);
  }
  return [...bytes]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([name, b]) => ({ name, kb: b / 1024 }));
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? Number.NaN;
}

const fixed = (value: number, digits = 0) => value.toFixed(digits);

/** The cold-start section of bench/RESULTS.md. */
export function renderColdStartSection(
  section: (ColdStartResult & { measuredAt?: string; command?: string; loadAverage?: number[] }) | undefined,
): string[] {
  if (!section) return [];
  const api = section.rows.find((r) => r.name === "functions/api.ts");
  return [
    "## Cold start of the deployed bundles",
    "",
    `\`${section.command ?? "npm run bench -- --only coldstart"}\` — ${section.measuredAt ?? ""}.`,
    "Each function's bundle as `cdk synth` builds it (esbuild, ESM, minified, source maps), started",
    `${section.samples} times in a fresh Node process by the deploy smoke test's runtime stand-in`,
    "(`tests/deploy/support/lambda-runtime.mjs`) with its template environment: from spawning the",
    "process to the handler being ready, median and 90th percentile. Import is the part spent",
    "importing and evaluating the bundle; the rest is Node itself starting, measured alone with an",
    `empty handler: ${fixed(section.emptyMedianMs)} ms. The template sets \`NODE_OPTIONS=--enable-source-maps\`;`,
    "the next columns are the same start without it. Lambda's own start (the runtime, the code",
    "download) comes on top in AWS; this machine is not Lambda's, so read the columns against each other.",
    ...(section.loadAverage
      ? [
          `The machine's load average (1 minute) was ${section.loadAverage.map((l) => l.toFixed(1)).join(" before the run and ")} after it;`,
          "cold starts are CPU-bound, so a busy machine stretches every figure here alike.",
        ]
      : []),
    "",
    "| bundle | bundle KB | map KB | cold start ms (p50) | p90 | import ms | without source maps: cold start | import | largest parts of the bundle (KB) |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ...section.rows.map(
      (r) =>
        `| \`${r.name}\` | ${fixed(r.bundleKb)} | ${fixed(r.sourceMapKb)} | ${fixed(r.coldStartMedianMs)} | ${fixed(r.coldStartP90Ms)} | ${fixed(r.importMedianMs)} | ${fixed(r.withoutSourceMapsMedianMs)} | ${fixed(r.importWithoutSourceMapsMedianMs)} | ${r.largest.map((p) => `${p.name} ${fixed(p.kb)}`).join(", ")} |`,
    ),
    "",
    "Each dependency alone, bundled the same way and imported in the same stand-in:",
    "",
    "| bundle of | KB | import ms (p50) |",
    "|---|---:|---:|",
    ...section.references.map((r) => `| ${r.name} | ${fixed(r.bundleKb)} | ${fixed(r.importMedianMs)} |`),
    "",
    ...(api?.firstRequest
      ? [
          `The API function's first request after a cold start, so that work put off to it is counted: \`${api.firstRequest.request}\``,
          "as a reviewer, which loads the review capability and makes the SDK's first DynamoDB calls, answered at once",
          "with empty results by a stand-in DynamoDB on a local port (the function's own work, not the database's);",
          `each start sent it once. Cold start ${fixed(api.firstRequest.coldStartMedianMs)} ms, first request ${fixed(api.firstRequest.firstRequestMedianMs)} ms,`,
          `**together ${fixed(api.firstRequest.totalMedianMs)} ms** (p50; p90 ${fixed(api.firstRequest.totalP90Ms)} ms).`,
          "",
        ]
      : []),
    ...(api ? whatDominates(section, api) : []),
  ];
}

/** The API's cold start taken apart: Node's start, the import, and within it the dependencies. */
function whatDominates(section: ColdStartResult, api: ColdStartRow): string[] {
  const byImport = [...section.references].sort((a, b) => b.importMedianMs - a.importMedianMs);
  const byBytes = [...api.largest].sort((a, b) => b.kb - a.kb);
  const slowest = byImport[0];
  const largest = byBytes[0];
  const largestAlone = section.references.find((r) => r.name === largest?.name);
  const maps = api.coldStartMedianMs - api.withoutSourceMapsMedianMs;
  return [
    `What dominates: the API's cold start is ${fixed(api.coldStartMedianMs)} ms (target: under 250 ms on this machine), of which`,
    `importing the bundle takes ${fixed(api.importMedianMs)} ms (${fixed((100 * api.importMedianMs) / api.coldStartMedianMs)}%) and Node's own start about ${fixed(section.emptyMedianMs)} ms.`,
    "The import is parsing the bundle and evaluating what a cold start needs: the AWS SDK clients (DynamoDB, S3, SQS),",
    "the configuration's schemas, the router with every route's scope check, the logger, and in Lambda the tracer.",
    "Each capability's routes (use cases, adapters, request schemas) are imported by the first request that reaches",
    "one of them (`API_SLICES` in lib/api/wiring.ts), and the OpenAPI contract by the first request for it; zod is",
    "imported as a namespace, so the bundle holds only the parts of it in use.",
    ...(slowest
      ? [
          `Of the dependencies alone, ${slowest.name} take the longest to import (${fixed(slowest.importMedianMs)} ms for ${fixed(slowest.bundleKb)} KB);`,
        ]
      : []),
    ...(largest
      ? [
          `${largest.name} puts the most bytes into the bundle (${fixed(largest.kb)} KB)${largestAlone ? ` but imports in ${fixed(largestAlone.importMedianMs)} ms alone` : ""}.`,
        ]
      : []),
    `The template's --enable-source-maps changes the median start by ${maps >= 0 ? "+" : ""}${fixed(maps)} ms.`,
    "",
  ];
}

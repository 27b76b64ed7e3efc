import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { SQSClient } from "@aws-sdk/client-sqs";
import { QUEUES } from "../lib/common/resources.ts";
import { type PublishReport, publishCorrection } from "../lib/ingest/client/publish-correction.ts";
import { type CommandIo, EXIT, stderrProgress, toIo } from "./output.ts";
import { localRuntimeTarget, UsageError } from "./target.ts";

export const INGEST_USAGE = `  flywheel ingest <file.jsonl> [--progress] [--local | --queue-url URL]
      Publishes each line of <file.jsonl> as a correction on the corrections queue, checked
      against the message contract first; refused lines are reported with their line number.
      Exits 1 when a line was refused. Progress (messages sent, share of the file read) goes to
      stderr on a terminal (or with --progress).
      In AWS the queue is --queue-url or FLYWHEEL_CORRECTIONS_QUEUE_URL.
      JSON: {file, lines, published, refused, refusals: [{line, code, detail}]}.`;

/** Where corrections are published: the local runtime's queue or a deployed stack's. */
export interface QueueTarget {
  readonly sqs: SQSClient;
  readonly queueUrl: string;
  readonly description: string;
}

/** Lines published per call, so a file of any size is read with flat memory. */
const CHUNK_LINES = 500;

export interface IngestFileSummary {
  readonly lines: number;
  readonly published: number;
  readonly refused: number;
}

/** A line that was not published: its number, the code (`invalid` or the SQS error) and why. */
export interface Refusal {
  readonly line: number;
  readonly code: string;
  readonly detail: string;
}

/** `flywheel ingest <file.jsonl>`; returns the exit code (1 when any line was not published). */
export async function ingestCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const io = toIo(output);
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "queue-url": { type: "string" },
      local: { type: "boolean" },
      progress: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    io.print(`Usage:\n${INGEST_USAGE}`);
    return EXIT.ok;
  }
  const [file, ...extra] = positionals;
  if (!file || extra.length > 0) throw new UsageError("ingest takes exactly one .jsonl file");
  if (values.local && values["queue-url"]) throw new UsageError("--local and --queue-url cannot be combined");
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new UsageError(`${file} is not a file`);
  const target = await resolveQueueTarget({ local: values.local, queueUrl: values["queue-url"] }, env);
  const refusals: Refusal[] = [];
  const summary = await ingestFile(target, file, io.print, {
    progress: stderrProgress(values.progress ?? false),
    onRefusal: (refusal) => refusals.push(refusal),
  });
  io.emit({ file, ...summary, refusals });
  return summary.refused === 0 ? EXIT.ok : EXIT.failure;
}

/** Publishes every non-blank line of `file`, printing each refusal and a summary. */
export async function ingestFile(
  target: QueueTarget,
  file: string,
  print: (line: string) => void,
  options: {
    /** Messages sent so far and the share of the file read (a person's terminal). */
    progress?: ((line: string, final?: boolean) => void) | undefined;
    onRefusal?: (refusal: Refusal) => void;
  } = {},
): Promise<IngestFileSummary> {
  const progress = options.progress;
  print(`publishing corrections from ${file} to ${target.description}`);
  const totalBytes = (await stat(file)).size;
  let readBytes = 0;
  let lines = 0;
  let published = 0;
  let refused = 0;
  const refuse = (line: number, code: string, detail: string) => {
    refused += 1;
    options.onRefusal?.({ line, code, detail });
    print(`  line ${line}: ${code}: ${detail}`);
  };
  const showProgress = (final = false) => {
    const percent = totalBytes === 0 ? 100 : Math.min(100, Math.floor((readBytes / totalBytes) * 100));
    progress?.(
      `ingest: ${published} of ${lines} message(s) sent, ${refused} refused (${percent}% of the file read)`,
      final,
    );
  };
  let chunk: { line: number; value: unknown }[] = [];

  const flush = async () => {
    const reports = await publishCorrection(
      target.sqs,
      target.queueUrl,
      chunk.map((entry) => entry.value),
    );
    reports.forEach((report: PublishReport, i) => {
      if (report.ok) published += 1;
      else refuse(chunk[i]?.line ?? 0, report.code, report.detail);
    });
    chunk = [];
    showProgress();
  };

  const input = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
  let number = 0;
  for await (const text of input) {
    number += 1;
    readBytes += Buffer.byteLength(text) + 1;
    if (text.trim() === "") continue;
    lines += 1;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      refuse(number, "invalid", `invalid_json: ${(error as Error).message}`);
      continue;
    }
    chunk.push({ line: number, value });
    if (chunk.length >= CHUNK_LINES) await flush();
  }
  if (chunk.length > 0) await flush();
  readBytes = totalBytes;
  showProgress(true);
  print(`published ${published} of ${lines} correction(s); ${refused} refused`);
  return { lines, published, refused };
}

export async function resolveQueueTarget(
  flags: { local?: boolean; queueUrl?: string },
  env: Record<string, string | undefined>,
): Promise<QueueTarget> {
  const config = await localRuntimeTarget(flags.local, flags.queueUrl);
  if (config) {
    const name = QUEUES.corrections.name;
    const queueUrl = Object.entries(config.queues).find(
      ([key]) => key === name || key.endsWith(`-${name}`),
    )?.[1];
    if (!queueUrl) throw new UsageError(`the local runtime has no ${name} queue`);
    return {
      sqs: new SQSClient({
        region: config.region,
        endpoint: config.sqsEndpoint,
        useQueueUrlAsEndpoint: false,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      queueUrl,
      description: `local runtime (${queueUrl})`,
    };
  }
  const queueUrl = flags.queueUrl ?? env.FLYWHEEL_CORRECTIONS_QUEUE_URL;
  if (!queueUrl) {
    throw new UsageError(
      "no target: start the local runtime (`npm start`), or name the queue with --queue-url or FLYWHEEL_CORRECTIONS_QUEUE_URL",
    );
  }
  return { sqs: new SQSClient({}), queueUrl, description: queueUrl };
}

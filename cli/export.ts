import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { AnyReply, Reply } from "../lib/api/types.ts";
import { usageExit, WaitTimeoutError } from "./output.ts";
import { API_FLAGS, type ApiTarget, apiTargetOf, bearerToken, UsageError } from "./target.ts";

export const EXPORT_USAGE = `  flywheel export --format FORMAT -o OUT.jsonl [filters] [--local | --api-url URL [--token TOKEN]]
      Creates an export job, waits for it with a progress line, downloads the dataset through its
      signed URL and checks its sha256 against the manifest (written beside it, OUT.manifest.json).
      A repeated --format writes those formats too in the same job (under formats/<format>/, one
      manifest); the first is the one downloaded. Formats: openai-sft, openai-preference,
      trl-sft, trl-dpo, trl-kto, bedrock-conversation, rag.
      Filters: --include-category C, --exclude-category C (repeatable), --model M, --task-type T,
      --source S, --run-id R, --from ISO-TIME, --to ISO-TIME, --status S (repeatable; approved
      only by default, the other statuses counted), --limit N. Options: --trl-style
      messages|prompt_completion, --no-kb-sidecars, --quarantine-unselected (read every status and
      list what cannot pass in the quarantine), --pairing correction|same_task and
      --max-pairs-per-task N (preference formats), --include-in-review (rag), --file-name NAME,
      --timeout SECONDS (default 1800).
      In AWS the API is --api-url or FLYWHEEL_API_URL; for its token see "Signing in" below.
      JSON: {id, status, output, manifest_file, sha256, bytes, counts: {exported, lines,
      quarantined, by_reason}, warnings: [message]}.`;

export interface ExportCommandIo {
  readonly print: (line: string) => void;
  /** Shows the progress line; on a terminal it is rewritten in place. */
  readonly progress?: (line: string) => void;
  readonly fetch?: typeof fetch;
  readonly pollIntervalMs?: number;
  /** `--json`: the command's one document (the human lines are left out by `print`). */
  readonly json?: boolean;
  readonly emit?: (document: unknown) => void;
}

/**
 * The job as `POST /api/exports` answers it (its summary), then as `GET /api/exports/{id}` shows
 * it, with its manifest and download once done: the contract's types (lib/api/types.ts).
 */
type JobReply = AnyReply<"POST /api/exports"> &
  Partial<Pick<Reply<"GET /api/exports/:id">, "manifest" | "download">>;

export class ExportFailedError extends Error {}

/** `flywheel export …`; returns the exit code. */
export async function exportCommand(
  argv: string[],
  io: ExportCommandIo,
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      format: { type: "string", multiple: true },
      output: { type: "string", short: "o" },
      manifest: { type: "string" },
      "include-category": { type: "string", multiple: true },
      "exclude-category": { type: "string", multiple: true },
      model: { type: "string" },
      "task-type": { type: "string" },
      source: { type: "string" },
      "run-id": { type: "string" },
      from: { type: "string" },
      to: { type: "string" },
      status: { type: "string", multiple: true },
      limit: { type: "string" },
      "trl-style": { type: "string" },
      "no-kb-sidecars": { type: "boolean" },
      "quarantine-unselected": { type: "boolean" },
      pairing: { type: "string" },
      "max-pairs-per-task": { type: "string" },
      "include-in-review": { type: "boolean" },
      "file-name": { type: "string" },
      timeout: { type: "string" },
      ...API_FLAGS,
    },
  });
  if (values.help) return usageExit(io, EXPORT_USAGE, true);
  if (positionals.length > 0)
    throw new UsageError(`export takes no positional arguments: ${positionals.join(" ")}`);
  const [format, ...otherFormats] = values.format ?? [];
  if (!format) throw new UsageError("export needs --format");
  if (!values.output) throw new UsageError("export needs -o OUT.jsonl");
  const api = apiTargetOf(values, env);
  const limit = values.limit === undefined ? undefined : Number(values.limit);
  if (limit !== undefined && !(Number.isInteger(limit) && limit > 0)) {
    throw new UsageError("--limit must be a positive integer");
  }
  const timeoutSeconds = Number(values.timeout ?? 1800);
  if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number of seconds");

  const request = {
    format,
    // More --format flags: the same job writes those too (formats), downloaded from its links.
    ...(otherFormats.length > 0 ? { formats: otherFormats } : {}),
    filters: compact({
      include_categories: values["include-category"],
      exclude_categories: values["exclude-category"],
      model: values.model,
      task_type: values["task-type"],
      source: values.source,
      run_id: values["run-id"],
      from: values.from,
      to: values.to,
      statuses: values.status,
      limit,
    }),
    options: compact({
      trl_sft_style: values["trl-style"],
      bedrock_kb_sidecars: values["no-kb-sidecars"] ? false : undefined,
      quarantine_unselected: values["quarantine-unselected"] ? true : undefined,
      pairing: values.pairing,
      max_pairs_per_task:
        values["max-pairs-per-task"] === undefined ? undefined : Number(values["max-pairs-per-task"]),
      include_in_review: values["include-in-review"] ? true : undefined,
      file_name: values["file-name"],
    }),
  };
  const target = await api();
  const output = resolve(values.output);
  const manifestFile = resolve(values.manifest ?? output.replace(/(\.jsonl)?$/, ".manifest.json"));
  const job = await runExport(
    target,
    request,
    { output, manifestFile, timeoutMs: timeoutSeconds * 1000 },
    io,
  );
  const manifest = job.manifest;
  io.emit?.({
    id: job.id,
    status: job.status,
    output,
    manifest_file: manifestFile,
    sha256: manifest?.files.dataset.sha256 ?? null,
    bytes: manifest?.files.dataset.bytes ?? null,
    counts: manifest?.counts ?? null,
    warnings: (manifest?.warnings ?? []).map((warning) => warning.message),
  });
  return 0;
}

/** Creates the job, waits for it, downloads and verifies the dataset. Throws on any failure. */
export async function runExport(
  target: ApiTarget,
  request: unknown,
  files: { output: string; manifestFile: string; timeoutMs: number },
  io: ExportCommandIo,
): Promise<JobReply> {
  const call = apiCaller(target, io.fetch ?? fetch);
  const progress = io.progress ?? (io.json ? () => {} : io.print);
  const created = await call<AnyReply<"POST /api/exports">>("POST", "/api/exports", request);
  io.print(`export ${created.id} created on ${target.description}`);

  const deadline = Date.now() + files.timeoutMs;
  let job: JobReply = created;
  let shown = "";
  let delay = io.pollIntervalMs ?? 500;
  while (job.status !== "succeeded") {
    if (job.status === "failed") {
      progress(progressLine(job));
      throw new ExportFailedError(`export ${job.id} failed: ${job.error ?? "no reason given"}`);
    }
    if (Date.now() > deadline)
      throw new WaitTimeoutError(`export ${job.id} is still ${job.status}; gave up waiting`);
    const line = progressLine(job);
    if (line !== shown) progress(line);
    shown = line;
    await sleep(delay);
    delay = Math.min(delay * 1.5, 5_000);
    job = await call<Reply<"GET /api/exports/:id">>("GET", `/api/exports/${encodeURIComponent(job.id)}`);
  }
  progress(progressLine(job));
  const { manifest, download } = job;
  if (!manifest || !download)
    throw new ExportFailedError(`export ${job.id} succeeded without a download link`);

  const received = await downloadTo(download.url, files.output, io.fetch ?? fetch);
  const expected = manifest.files.dataset;
  if (received.sha256 !== expected.sha256 || received.bytes !== expected.bytes) {
    await rm(files.output, { force: true });
    throw new ExportFailedError(
      `the download of export ${job.id} does not match its manifest: sha256 ${received.sha256} (${received.bytes} bytes), expected ${expected.sha256} (${expected.bytes} bytes)`,
    );
  }
  await writeFile(files.manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);

  const { counts } = manifest;
  io.print(
    `wrote ${files.output}: ${counts.lines} line(s) from ${counts.exported} candidate(s), sha256 ${received.sha256} verified`,
  );
  const reasons = Object.entries(counts.by_reason)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  io.print(`${counts.quarantined} quarantined${reasons.length > 0 ? `: ${reasons.join(", ")}` : ""}`);
  const unread = Object.entries(counts.not_read_by_status ?? {}).filter(([, n]) => n > 0);
  if (unread.length > 0) {
    io.print(`not read (cannot pass): ${unread.map(([status, n]) => `${status} ${n}`).join(", ")}`);
  }
  for (const warning of manifest.warnings) io.print(`warning: ${warning.message}`);
  io.print(`manifest: ${files.manifestFile}`);
  return job;
}

function progressLine(job: JobReply): string {
  const p = job.progress ?? { considered: 0, exported: 0, quarantined: 0 };
  const n = (value: number) => value.toLocaleString("en-US");
  return `export ${job.id}: ${job.status}, ${n(p.considered)} considered, ${n(p.exported)} exported, ${n(p.quarantined)} quarantined`;
}

/** Streams the signed URL to `file` (through `<file>.part`), hashing the bytes as they arrive. */
export async function downloadTo(url: string, file: string, doFetch: typeof fetch) {
  const response = await doFetch(url);
  if (!response.ok || !response.body) throw new ExportFailedError(`download failed: HTTP ${response.status}`);
  const hash = createHash("sha256");
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  await mkdir(dirname(file), { recursive: true });
  const partial = `${file}.part`;
  try {
    await pipeline(Readable.fromWeb(response.body as never), counter, createWriteStream(partial));
    await rename(partial, file);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  return { sha256: hash.digest("hex"), bytes };
}

function apiCaller(target: ApiTarget, doFetch: typeof fetch) {
  return async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await doFetch(`${target.apiUrl.replace(/\/$/, "")}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${await bearerToken(target)}`,
        accept: "application/json",
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const parsed = text ? (JSON.parse(text) as unknown) : null;
    if (!response.ok) {
      const detail = (parsed as { detail?: unknown } | null)?.detail;
      throw new ExportFailedError(
        `${method} ${path}: HTTP ${response.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail ?? parsed)}`,
      );
    }
    return parsed as T;
  };
}

function compact(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/** A progress line rewritten in place on a terminal, printed line by line elsewhere. */
export function terminalProgress(
  stream: NodeJS.WriteStream = process.stdout,
): ((line: string) => void) | undefined {
  if (!stream.isTTY) return undefined;
  return (line) => stream.write(`\r${line}\x1b[K${/\b(succeeded|failed)\b/.test(line) ? "\n" : ""}`);
}

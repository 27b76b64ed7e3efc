import { rm } from "node:fs/promises";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { AnyReply, Reply } from "../lib/api/types.ts";
import { downloadTo, ExportFailedError } from "./export.ts";
import { type CommandIo, toIo, usageExit, WaitTimeoutError } from "./output.ts";
import { API_FLAGS, apiTargetOf, callRoute, UsageError } from "./target.ts";

export const DATASETS_USAGE = `  flywheel datasets pin NAME EXPORT_ID [--timeout SECONDS] [--local | --api-url URL [--token TOKEN]]
      Pins a finished export as the next version of dataset NAME (POST /api/datasets): its files
      are copied to datasets/NAME/v<n>/, which never expires. Pinning the same export again answers
      the version it already is; a copy cut short by the request's time is posted again until the
      version is ready (default timeout 600 s).
      JSON: the version {name, version, export_id, format, state, prefix, files, manifest}.
  flywheel datasets list [NAME]
      Every dataset with its versions (every page of the list), or NAME's versions (format,
      records, lines, when pinned).
      JSON: {datasets: [...]} or the dataset {name, last_version, versions: [...]}.
  flywheel datasets diff NAME V1 V2
      The record ids in V2 and not V1 (+) and in V1 and not V2 (-), every page, then the totals.
      JSON: {name, from, to, added: [{record_id, candidate_id}], removed: [...], unchanged}.
  flywheel datasets download NAME VERSION -o OUT.jsonl
      Downloads the version's dataset through its signed URL and checks its sha256 and size
      against the version's files. JSON: {name, version, output, sha256, bytes}.`;

/** The API's replies, as its contract has them (lib/api/types.ts). */
type VersionReply = AnyReply<"POST /api/datasets">;
type DatasetReply = Reply<"GET /api/datasets/:name">;
type DiffPage = Reply<"GET /api/datasets/:name/diff">;

/** `flywheel datasets …`; returns the exit code. */
export async function datasetsCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
  options: { readonly pollIntervalMs?: number } = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      output: { type: "string", short: "o" },
      timeout: { type: "string" },
      ...API_FLAGS,
    },
  });
  const io = toIo(output);
  const [command, ...args] = positionals;
  if (values.help || !command) return usageExit(io, DATASETS_USAGE, values.help);
  const api = apiTargetOf(values, env);
  const path = (name: string) => `/api/datasets/${encodeURIComponent(name)}`;

  if (command === "pin") {
    const [name, exportId, ...extra] = args;
    if (!name || !exportId || extra.length > 0) throw new UsageError("datasets pin takes NAME EXPORT_ID");
    const timeoutSeconds = Number(values.timeout ?? 600);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number of seconds");
    const target = await api();
    const deadline = Date.now() + timeoutSeconds * 1000;
    const pin = () => callRoute(target, "POST /api/datasets", "/api/datasets", { name, export_id: exportId });
    let version = await pin();
    // Still copying when the request's time ran out: the same pin carries on where it stopped.
    while (version.state !== "ready") {
      if (Date.now() > deadline) {
        throw new WaitTimeoutError(`${name} v${version.version} is still copying; gave up waiting`);
      }
      io.print(`${name} v${version.version}: copying…`);
      await sleep(options.pollIntervalMs ?? 1_000);
      version = await pin();
    }
    io.emit(version);
    io.print(`${name} v${version.version} (${version.state}) ← export ${version.export_id}`);
    for (const line of describeVersion(version)) io.print(`  ${line}`);
    return 0;
  }

  if (command === "list") {
    if (args.length > 1) throw new UsageError("datasets list takes at most a NAME");
    const target = await api();
    const [name] = args;
    if (name) {
      const dataset = await callRoute(target, "GET /api/datasets/:name", path(name));
      io.emit(dataset);
      printDataset(io, dataset);
      return 0;
    }
    // Every page, 100 datasets at a time.
    const datasets: Reply<"GET /api/datasets">["datasets"] = [];
    let cursor: string | null = null;
    do {
      const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : "";
      const page: Reply<"GET /api/datasets"> = await callRoute(
        target,
        "GET /api/datasets",
        `/api/datasets?limit=100${query}`,
      );
      datasets.push(...page.datasets);
      cursor = page.next_cursor;
    } while (cursor);
    const listed = { datasets, next_cursor: null };
    io.emit(listed);
    if (listed.datasets.length === 0) io.print("no datasets yet: flywheel datasets pin NAME EXPORT_ID");
    for (const dataset of listed.datasets) printDataset(io, dataset);
    return 0;
  }

  if (command === "diff") {
    const [name, from, to, ...extra] = args;
    if (!name || !from || !to || extra.length > 0) throw new UsageError("datasets diff takes NAME V1 V2");
    for (const v of [from, to]) if (!/^\d+$/.test(v)) throw new UsageError(`${v} is not a version number`);
    const target = await api();
    const added: DiffPage["added"] = [];
    const removed: DiffPage["removed"] = [];
    let unchanged = 0;
    let addedCount = 0;
    let removedCount = 0;
    let formats: DiffPage["formats"] | null = null;
    let cursor: string | null = "0";
    while (cursor !== null) {
      const page: DiffPage = await callRoute(
        target,
        "GET /api/datasets/:name/diff",
        `${path(name)}/diff?from=${from}&to=${to}&cursor=${cursor}`,
      );
      formats = page.formats;
      unchanged += page.unchanged;
      addedCount += page.added.length;
      removedCount += page.removed.length;
      // Only the JSON document needs every id at once; the lines are printed page by page.
      if (io.json) {
        added.push(...page.added);
        removed.push(...page.removed);
      }
      for (const record of page.added) io.print(`+ ${record.record_id} ${record.candidate_id}`);
      for (const record of page.removed) io.print(`- ${record.record_id} ${record.candidate_id}`);
      cursor = page.next_cursor;
    }
    io.emit({ name, from: Number(from), to: Number(to), formats, added, removed, unchanged });
    io.print(
      `${name} v${from} → v${to}: ${addedCount} added, ${removedCount} removed, ${unchanged} unchanged`,
    );
    if (formats && formats.from !== formats.to) {
      io.print(
        `note: v${from} is ${formats.from} and v${to} ${formats.to}; record ids differ across formats`,
      );
    }
    return 0;
  }

  if (command === "download") {
    const [name, version, ...extra] = args;
    if (!name || !version || extra.length > 0) throw new UsageError("datasets download takes NAME VERSION");
    if (!/^\d+$/.test(version)) throw new UsageError(`${version} is not a version number`);
    if (!values.output) throw new UsageError("datasets download needs -o OUT.jsonl");
    const target = await api();
    const reply = await callRoute(
      target,
      "GET /api/datasets/:name/versions/:version",
      `${path(name)}/versions/${version}`,
    );
    if (!reply.downloads) throw new ExportFailedError(`${name} v${version} is still copying: pin it again`);
    const file = resolve(values.output);
    const received = await downloadTo(reply.downloads.dataset.url, file, fetch);
    const expected = reply.files.dataset;
    if (received.sha256 !== expected.sha256 || received.bytes !== expected.bytes) {
      await rm(file, { force: true });
      throw new ExportFailedError(
        `the download of ${name} v${version} does not match its files: sha256 ${received.sha256} (${received.bytes} bytes), expected ${expected.sha256} (${expected.bytes} bytes)`,
      );
    }
    io.emit({ name, version: Number(version), output: file, sha256: received.sha256, bytes: received.bytes });
    io.print(`wrote ${file}: ${expected.lines} line(s), sha256 ${received.sha256} verified`);
    return 0;
  }

  throw new UsageError(`unknown command: datasets ${positionals.join(" ")}`);
}

function describeVersion(version: VersionReply): string[] {
  const { dataset, documents } = version.files;
  return [
    `${version.format}, ${dataset.lines} line(s) from ${version.manifest.counts.exported} candidate(s), pinned ${version.pinned_at}`,
    `dataset s3 key ${dataset.key} (sha256 ${dataset.sha256})`,
    ...(documents ? [`${documents.count} document(s) for a Knowledge Base under ${documents.prefix}`] : []),
  ];
}

function printDataset(io: CommandIo, dataset: DatasetReply): void {
  io.print(`${dataset.name}: ${dataset.versions.length} version(s)`);
  for (const version of dataset.versions) {
    io.print(`  v${version.version} ${version.state} ← export ${version.export_id}`);
    for (const line of describeVersion(version)) io.print(`    ${line}`);
  }
}

import { basename, resolve } from "node:path";
import { parseArgs } from "node:util";
import { ADMIN_USAGE, adminCommand } from "./admin.ts";
import { COMPLETION_USAGE, completionCommand } from "./completion.ts";
import { DATASETS_USAGE, datasetsCommand } from "./datasets.ts";
import { DEMO_USAGE, demoCommand } from "./demo.ts";
import { EVALSETS_USAGE, evalsetsCommand } from "./evalsets.ts";
import { EXPORT_USAGE, exportCommand, terminalProgress } from "./export.ts";
import { INGEST_USAGE, ingestCommand } from "./ingest.ts";
import { AUTH_USAGE, authCommand } from "./login.ts";
import { type CommandIo, commandIo, EXIT, stderrProgress, versionInfo, WaitTimeoutError } from "./output.ts";
import { PROVENANCE_USAGE, provenanceCommand } from "./provenance.ts";
import {
  candidatesStoredAt,
  type ImportResult,
  quarantineByReason,
  runEntry,
  waitForImport,
} from "./run-wait.ts";
import { formatBytes, listRuns, uploadRun } from "./runs.ts";
import { SUGGESTIONS_USAGE, suggestionsCommand } from "./suggestions.ts";
import { findLocalConfig, resolveApiTarget, resolveTarget, UsageError } from "./target.ts";

const DEFAULT_WAIT_SECONDS = 1800;

const USAGE = `Usage:
  flywheel runs upload <folder> [--run-id ID] [--wait [--timeout SECONDS]] [--progress]
                       [--local | --bucket NAME [--api-url URL] [--token TOKEN]]
      Uploads <folder>/sft_candidates.jsonl (and the folder's other files) to runs/<run_id>/,
      which starts the import. The run id defaults to the folder name. Byte progress goes to
      stderr on a terminal (or with --progress). --wait then follows the import through
      GET /api/sft/runs until it completes or fails (default timeout ${DEFAULT_WAIT_SECONDS} s) and prints its
      counts, with the quarantined lines by reason read from the import's quarantine file in the
      bucket (no API route gives them; when the file cannot be read the output says so).
      JSON: {run_id, bucket, files: [{key, size, etag}], import: null | {state, imported, skipped,
      quarantined, by_reason, by_reason_source, by_reason_note?, waited_ms}}.
  flywheel runs list [--local | --bucket NAME]
      Lists the run folders in the bucket.
      JSON: {bucket, runs: [{run_id, files, bytes, has_candidates, last_modified}]}.
${INGEST_USAGE}
${EXPORT_USAGE}
${DATASETS_USAGE}
${EVALSETS_USAGE}
${PROVENANCE_USAGE}
${SUGGESTIONS_USAGE}
${DEMO_USAGE}
${ADMIN_USAGE}
${AUTH_USAGE}
${COMPLETION_USAGE}

Every command takes --json: one JSON document on stdout (its shape is given with the command; the
human lines are left out), and on failure {"error": {"message", "exit_code"}} on stderr.
flywheel --version prints the version (and the git commit of this checkout); with --json
{version, commit}.

Exit codes: 0 done; 1 failed, or found what it reports as a difference (refused or invalid lines,
an import that failed, counters left unrepaired, suggestions that failed); 2 usage error (unknown
command or flag, a missing argument); 3 gave up waiting at --timeout (runs upload --wait, export,
suggestions start --wait; the work may still finish).

Target: the local runtime when .flywheel/local.json exists (npm start) or with --local, with its
dev token; otherwise AWS: the standard credentials and region for S3 and SQS (the bucket from
--bucket or FLYWHEEL_BUCKET), and for the API --api-url or FLYWHEEL_API_URL with a token (above).`;

/** Takes the global `--json` out of the arguments (before a `--`). */
function takeJsonFlag(argv: string[]): { json: boolean; args: string[] } {
  const end = argv.indexOf("--");
  const head = end === -1 ? argv : argv.slice(0, end);
  const tail = end === -1 ? [] : argv.slice(end);
  const args = head.filter((arg) => arg !== "--json");
  return { json: args.length !== head.length, args: [...args, ...tail] };
}

async function main(
  argv: string[],
  json: boolean,
  out: (line: string) => void,
  err: (line: string) => void,
): Promise<number> {
  const io = commandIo(json, out);
  if (argv[0] === "--version" || argv[0] === "-v") {
    const info = versionInfo();
    if (json) io.emit(info);
    else out(`flywheel ${info.version}${info.commit ? ` (${info.commit})` : ""}`);
    return EXIT.ok;
  }
  if (argv[0] === "completion") return completionCommand(argv.slice(1), USAGE, out);
  if (argv[0] === "ingest") return ingestCommand(argv.slice(1), io);
  if (argv[0] === "export") {
    return exportCommand(argv.slice(1), {
      print: io.print,
      progress: json ? undefined : terminalProgress(),
      json,
      emit: io.emit,
    });
  }
  if (argv[0] === "datasets") return datasetsCommand(argv.slice(1), io);
  if (argv[0] === "evalsets") return evalsetsCommand(argv.slice(1), io);
  if (argv[0] === "provenance") return provenanceCommand(argv.slice(1), io);
  if (argv[0] === "suggestions") return suggestionsCommand(argv.slice(1), io);
  if (argv[0] === "demo" && argv.length === 1) return demoCommand(io);
  if (argv[0] === "admin") return adminCommand(argv.slice(1), io);
  if (argv[0] === "login" || argv[0] === "logout" || argv[0] === "token") {
    // login's URL and waiting are for a person: on stderr when stdout carries the JSON document.
    return authCommand(argv[0], argv.slice(1), json ? { ...io, print: err } : io);
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "run-id": { type: "string" },
      bucket: { type: "string" },
      local: { type: "boolean" },
      wait: { type: "boolean" },
      timeout: { type: "string" },
      progress: { type: "boolean" },
      "api-url": { type: "string" },
      token: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) {
    out(USAGE);
    return values.help ? EXIT.ok : EXIT.usage;
  }
  if (values.local && values.bucket) throw new UsageError("--local and --bucket cannot be combined");
  const flags = { local: values.local, bucket: values.bucket };

  if (group === "runs" && command === "upload") {
    const [dir, ...extra] = rest;
    if (!dir || extra.length > 0) throw new UsageError("runs upload takes exactly one folder");
    if (!values.wait && values.timeout !== undefined) throw new UsageError("--timeout goes with --wait");
    const timeoutSeconds = Number(values.timeout ?? DEFAULT_WAIT_SECONDS);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number of seconds");
    return uploadCommand(dir, io, {
      flags,
      runId: values["run-id"],
      wait: values.wait
        ? { timeoutMs: timeoutSeconds * 1000, apiUrl: values["api-url"], token: values.token }
        : undefined,
      progress: stderrProgress(values.progress ?? false),
    });
  }
  if (group === "runs" && command === "list") {
    if (rest.length > 0) throw new UsageError("runs list takes no arguments");
    const target = await resolveTarget(flags);
    const runs = await listRuns(target);
    io.emit({
      bucket: target.bucket,
      runs: runs.map((run) => ({
        run_id: run.runId,
        files: run.files,
        bytes: run.bytes,
        has_candidates: run.hasCandidates,
        last_modified: run.lastModified?.toISOString() ?? null,
      })),
    });
    if (runs.length === 0) io.print(`no runs in s3://${target.bucket}/ on ${target.description}`);
    for (const run of runs) {
      const candidates = run.hasCandidates ? "" : "  (no sft_candidates.jsonl)";
      io.print(
        `${run.runId}  ${run.files} file(s)  ${formatBytes(run.bytes)}  ${run.lastModified?.toISOString() ?? ""}${candidates}`,
      );
    }
    return EXIT.ok;
  }
  throw new UsageError(`unknown command: ${positionals.join(" ")}`);
}

/** `runs upload`, with `--wait` following the import to its counts; exit 1 when the import failed. */
async function uploadCommand(
  dir: string,
  io: CommandIo,
  options: {
    flags: { local?: boolean | undefined; bucket?: string | undefined };
    runId: string | undefined;
    wait: { timeoutMs: number; apiUrl: string | undefined; token: string | undefined } | undefined;
    progress: ((line: string, final?: boolean) => void) | undefined;
  },
): Promise<number> {
  const target = await resolveTarget(options.flags);
  const wait = options.wait;
  if (wait && options.flags.bucket !== undefined && !(wait.apiUrl ?? process.env.FLYWHEEL_API_URL)) {
    throw new UsageError(
      "--wait with --bucket follows the import through the API: name it with --api-url or FLYWHEEL_API_URL",
    );
  }
  const api = wait
    ? await resolveApiTarget({ local: options.flags.local, apiUrl: wait.apiUrl, token: wait.token })
    : undefined;
  const runId = options.runId ?? basename(resolve(dir));
  const before = api ? await runEntry(api, runId) : undefined;
  const uploaded = await uploadRun(target, dir, {
    runId: options.runId,
    print: io.print,
    progress: options.progress,
  });
  const document = {
    run_id: runId,
    bucket: target.bucket,
    files: uploaded.map((file) => ({ key: file.key, size: file.size, etag: file.eTag })),
    import: null as ImportResult | null,
  };
  if (!api || !wait) {
    io.print(`uploaded ${uploaded.length} file(s); the import starts when sft_candidates.jsonl arrives`);
    io.emit(document);
    return EXIT.ok;
  }
  io.print(
    `uploaded ${uploaded.length} file(s); waiting for the import of run ${runId} (${api.description})`,
  );
  const storedAt = await candidatesStoredAt(target, runId).catch(() => undefined);
  const started = Date.now();
  const entry = await waitForImport(api, runId, {
    timeoutMs: wait.timeoutMs,
    before,
    progress: options.progress,
  });
  const quarantined = entry.quarantined ?? 0;
  const reasons =
    quarantined > 0
      ? await quarantineByReason(target, runId, storedAt).catch((error: unknown) => ({
          note: `the quarantine file could not be read: ${error instanceof Error ? error.message : String(error)}`,
        }))
      : { byReason: {}, source: null };
  const result: ImportResult = {
    state: entry.import_state === "completed" ? "completed" : "failed",
    imported: entry.imported,
    skipped: entry.skipped,
    quarantined: entry.quarantined,
    by_reason: "byReason" in reasons ? reasons.byReason : null,
    by_reason_source: "byReason" in reasons ? reasons.source : null,
    ...("note" in reasons ? { by_reason_note: reasons.note } : {}),
    waited_ms: Date.now() - started,
  };
  document.import = result;
  const n = (value: number | null) => (value ?? 0).toLocaleString("en-US");
  io.print(
    `import of run ${runId} ${result.state}: ${n(result.imported)} imported, ${n(result.skipped)} skipped, ${n(result.quarantined)} quarantined`,
  );
  if (result.by_reason && quarantined > 0) {
    const parts = Object.entries(result.by_reason).map(([reason, count]) => `${reason} ${count}`);
    io.print(`quarantined by reason: ${parts.join(", ")} (${result.by_reason_source})`);
  } else if (result.by_reason_note) {
    io.print(`quarantined by reason: not available (${result.by_reason_note})`);
  }
  io.emit(document);
  return result.state === "completed" ? EXIT.ok : EXIT.failure;
}

/** Runs one command line; returns the exit code (see USAGE: 0, 1, 2 usage, 3 timeout). */
export async function runCli(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void },
) {
  const taken = takeJsonFlag(argv);
  const { args } = taken;
  // Help is for reading: it stays text even with --json.
  const json = taken.json && !args.includes("--help") && !args.includes("-h");
  const fail = (code: number, message: string, human: string) => {
    io.err(json ? JSON.stringify({ error: { message, exit_code: code } }) : human);
    return code;
  };
  try {
    return await main(args, json, io.out, io.err);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (
      error instanceof UsageError ||
      String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")
    ) {
      return fail(EXIT.usage, message, `flywheel: ${message}\n\n${USAGE}`);
    }
    if (error instanceof WaitTimeoutError) return fail(EXIT.timeout, message, `flywheel: ${message}`);
    const local = args.includes("--local") || (findLocalConfig() !== undefined && !args.includes("--bucket"));
    const hint =
      local && /ECONNREFUSED/.test(message) ? " (is the local runtime still running? `npm start`)" : "";
    return fail(EXIT.failure, `${message}${hint}`, `flywheel: ${message}${hint}`);
  }
}

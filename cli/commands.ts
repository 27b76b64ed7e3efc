import { parseArgs } from "node:util";
import { ADMIN_USAGE, adminCommand } from "./admin.ts";
import { DEMO_USAGE, demoCommand } from "./demo.ts";
import { EXPORT_USAGE, exportCommand, terminalProgress } from "./export.ts";
import { INGEST_USAGE, ingestCommand } from "./ingest.ts";
import { AUTH_USAGE, authCommand } from "./login.ts";
import { PROVENANCE_USAGE, provenanceCommand } from "./provenance.ts";
import { formatBytes, listRuns, uploadRun } from "./runs.ts";
import { findLocalConfig, resolveTarget, UsageError } from "./target.ts";

const USAGE = `Usage:
  flywheel runs upload <folder> [--run-id ID] [--local | --bucket NAME]
      Uploads <folder>/sft_candidates.jsonl (and the folder's other files) to runs/<run_id>/,
      which starts the import. The run id defaults to the folder name.
  flywheel runs list [--local | --bucket NAME]
      Lists the run folders in the bucket.
${INGEST_USAGE}
${EXPORT_USAGE}
${PROVENANCE_USAGE}
${DEMO_USAGE}
${ADMIN_USAGE}
${AUTH_USAGE}

Target: the local runtime when .flywheel/local.json exists (npm start) or with --local, with its
dev token; otherwise AWS: the standard credentials and region for S3 and SQS (the bucket from
--bucket or FLYWHEEL_BUCKET), and for the API --api-url or FLYWHEEL_API_URL with a token (above).`;

async function main(argv: string[], print: (line: string) => void = console.log): Promise<number> {
  if (argv[0] === "ingest") return ingestCommand(argv.slice(1), print);
  if (argv[0] === "export") return exportCommand(argv.slice(1), { print, progress: terminalProgress() });
  if (argv[0] === "provenance") return provenanceCommand(argv.slice(1), print);
  if (argv[0] === "demo" && argv.length === 1) return demoCommand(print);
  if (argv[0] === "admin") return adminCommand(argv.slice(1), print);
  if (argv[0] === "login" || argv[0] === "logout" || argv[0] === "token") {
    return authCommand(argv[0], argv.slice(1), print);
  }
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "run-id": { type: "string" },
      bucket: { type: "string" },
      local: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  const [group, command, ...rest] = positionals;
  if (values.help || !group) {
    print(USAGE);
    return values.help ? 0 : 2;
  }
  if (values.local && values.bucket) throw new UsageError("--local and --bucket cannot be combined");
  const flags = { local: values.local, bucket: values.bucket };

  if (group === "runs" && command === "upload") {
    const [dir, ...extra] = rest;
    if (!dir || extra.length > 0) throw new UsageError("runs upload takes exactly one folder");
    const target = await resolveTarget(flags);
    const uploaded = await uploadRun(target, dir, { runId: values["run-id"], print });
    print(`uploaded ${uploaded.length} file(s); the import starts when sft_candidates.jsonl arrives`);
    return 0;
  }
  if (group === "runs" && command === "list") {
    if (rest.length > 0) throw new UsageError("runs list takes no arguments");
    const target = await resolveTarget(flags);
    const runs = await listRuns(target);
    if (runs.length === 0) print(`no runs in s3://${target.bucket}/ on ${target.description}`);
    for (const run of runs) {
      const candidates = run.hasCandidates ? "" : "  (no sft_candidates.jsonl)";
      print(
        `${run.runId}  ${run.files} file(s)  ${formatBytes(run.bytes)}  ${run.lastModified?.toISOString() ?? ""}${candidates}`,
      );
    }
    return 0;
  }
  throw new UsageError(`unknown command: ${positionals.join(" ")}`);
}

/** Runs one command line; returns the exit code (2 for usage errors). */
export async function runCli(
  argv: string[],
  io: { out: (line: string) => void; err: (line: string) => void },
) {
  try {
    return await main(argv, io.out);
  } catch (error) {
    if (
      error instanceof UsageError ||
      String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS")
    ) {
      io.err(`flywheel: ${(error as Error).message}\n\n${USAGE}`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    const local = argv.includes("--local") || (findLocalConfig() !== undefined && !argv.includes("--bucket"));
    const hint =
      local && /ECONNREFUSED/.test(message) ? " (is the local runtime still running? `npm start`)" : "";
    io.err(`flywheel: ${message}${hint}`);
    return 1;
  }
}

import { once } from "node:events";
import { createReadStream, createWriteStream } from "node:fs";
import { stat } from "node:fs/promises";
import { userInfo } from "node:os";
import { resolve } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import type { Reply } from "../lib/api/types.ts";
import {
  backfillProvenanceLines,
  validateProvenanceLines,
} from "../lib/provenance/usecases/provenance-files.ts";
import { type CommandIo, toIo, usageExit } from "./output.ts";
import { API_FLAGS, apiTargetOf, callRoute, UsageError } from "./target.ts";

/** `GET /api/provenance/report`, as the API's contract has it (lib/api/types.ts). */
type ProvenanceReport = Reply<"GET /api/provenance/report">;
type ProvenanceCoverage = ProvenanceReport["by_source"][string];
/** What the table shows of a report: the contract's fields, without its room for additive ones. */
type ReportTotals = Pick<
  ProvenanceReport,
  "total" | "valid" | "missing_provenance" | "coverage" | "approved" | "excluded" | "by_source" | "by_model"
>;

export const PROVENANCE_USAGE = `  flywheel provenance report [--local | --api-url URL [--token TOKEN]]
      Prints how much of the store is traceable, by source and by model. In AWS the API is
      --api-url or FLYWHEEL_API_URL; for its token see "Signing in" below.
      JSON: the report as GET /api/provenance/report answers it ({total, valid, coverage, …}).
  flywheel provenance backfill-file <in.jsonl> --source S --model M -o <out.jsonl>
      Copies a JSONL file of training pairs, adding the provenance each line is missing
      (never changing a field a line has); prints {lines, changed, unchanged, skipped}.
  flywheel provenance validate-file <file.jsonl>
      Prints {valid, invalid, errors: [{line, errors}]}; exits 1 when a line is invalid.`;

/** `flywheel provenance …`; returns the exit code. */
export async function provenanceCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const io = toIo(output);
  const print = io.print;
  /** backfill-file and validate-file print their summary as JSON either way. */
  const summary = (document: unknown) => (io.json ? io.emit(document) : print(JSON.stringify(document)));
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      source: { type: "string" },
      model: { type: "string" },
      output: { type: "string", short: "o" },
      ...API_FLAGS,
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || !command) return usageExit(io, PROVENANCE_USAGE, values.help);

  if (command === "report") {
    if (rest.length > 0) throw new UsageError("provenance report takes no arguments");
    const api = await apiTargetOf(values, env)();
    const report = await callRoute(api, "GET /api/provenance/report", "/api/provenance/report");
    io.emit(report);
    for (const line of formatProvenanceReport(report)) print(line);
    return 0;
  }

  if (command === "backfill-file") {
    const [input, ...extra] = rest;
    if (!input || extra.length > 0) throw new UsageError("provenance backfill-file takes exactly one file");
    const { source, model, output } = values;
    if (!source?.trim() || !model?.trim() || !output) {
      throw new UsageError("provenance backfill-file needs --source, --model and -o <out.jsonl>");
    }
    await requireFile(input);
    if (resolve(input) === resolve(output)) throw new UsageError("-o must name another file than the input");
    const out = createWriteStream(output, { flags: "wx" });
    await once(out, "open").catch((error: NodeJS.ErrnoException) => {
      throw error.code === "EEXIST" ? new UsageError(`${output} exists already; name a new file`) : error;
    });
    const write = async (line: string) => {
      if (!out.write(`${line}\n`)) await once(out, "drain");
    };
    try {
      const result = await backfillProvenanceLines(
        readLines(input),
        write,
        { source, model },
        {
          at: new Date(),
          by: `cli:${userInfo().username}`,
        },
      );
      summary(result);
      return result.skipped.length === 0 ? 0 : 1;
    } finally {
      out.end();
      await once(out, "close");
    }
  }

  if (command === "validate-file") {
    const [file, ...extra] = rest;
    if (!file || extra.length > 0) throw new UsageError("provenance validate-file takes exactly one file");
    await requireFile(file);
    const result = await validateProvenanceLines(readLines(file));
    summary(result);
    return result.invalid === 0 ? 0 : 1;
  }

  throw new UsageError(`unknown command: provenance ${positionals.join(" ")}`);
}

/** The report as a table: the totals, then one row per source and per model. */
export function formatProvenanceReport(report: ReportTotals): string[] {
  const lines = [
    `records ${report.total}  valid ${report.valid}  missing provenance ${report.missing_provenance}  ` +
      `coverage ${report.coverage.toFixed(2)}%  approved ${report.approved}  excluded ${report.excluded}`,
  ];
  const table = (title: string, rows: Record<string, ProvenanceCoverage>) => {
    const entries = Object.entries(rows);
    const width = Math.max(title.length, ...entries.map(([name]) => name.length));
    lines.push(
      "",
      `${title.padEnd(width)}  ${["records", "valid", "missing", "coverage"].map(cell).join("  ")}`,
    );
    for (const [name, row] of entries) {
      const cells = [row.total, row.valid, row.missing].map((n) => cell(String(n)));
      lines.push(`${name.padEnd(width)}  ${cells.join("  ")}  ${cell(`${row.coverage.toFixed(2)}%`)}`);
    }
    if (entries.length === 0) lines.push("(none)");
  };
  table("source", report.by_source);
  table("model", report.by_model);
  return lines;
}

const cell = (text: string) => text.padStart(8);

function readLines(file: string): AsyncIterable<string> {
  return createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
}

async function requireFile(file: string) {
  if (!(await stat(file).catch(() => undefined))?.isFile()) throw new UsageError(`${file} is not a file`);
}

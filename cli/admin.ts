import { parseArgs } from "node:util";
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import { DEFAULT_SEGMENTS, MAX_SEGMENTS, type RecountReport } from "../lib/admin/domain/recount.ts";
import { recountCounters } from "../lib/admin/usecases/recount.ts";
import { recountDeps } from "../lib/admin/wiring.ts";
import { type CommandIo, toIo, usageExit } from "./output.ts";
import { API_FLAGS, apiTargetOf, callRoute, localRuntimeTarget, UsageError } from "./target.ts";

export const ADMIN_USAGE = `  flywheel admin recount [--repair] [--segments N] [--json] [--local | --api-url URL [--token TOKEN]]
      Recounts the stats counters from the stored candidates (a parallel scan in N segments,
      default ${DEFAULT_SEGMENTS}) and prints every counter whose stored value differs; --repair corrects them.
      Exits 1 while a difference remains unrepaired. Through the API (POST /api/admin/recount) a
      recount must finish within a request (25 s); a larger table, or an AWS deployment (whose API
      may not scan the table), takes --direct: the recount runs in this process against the local
      runtime's table, or against --table NAME / FLYWHEEL_TABLE with the standard AWS credentials.
      JSON: {repair, segments, candidates, counters_checked, differences: [{name, stored, counted,
      difference, repair, moved_during_recount}], unrepaired, items_scanned, duration_ms, note}.`;

/** `flywheel admin …`; returns the exit code. */
export async function adminCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      repair: { type: "boolean" },
      segments: { type: "string" },
      json: { type: "boolean" },
      direct: { type: "boolean" },
      table: { type: "string" },
      ...API_FLAGS,
    },
  });
  const io = toIo(output, values.json);
  const print = io.print;
  const [command, ...rest] = positionals;
  if (values.help || !command) return usageExit(io, ADMIN_USAGE, values.help);
  if (command !== "recount") throw new UsageError(`unknown command: admin ${positionals.join(" ")}`);
  if (rest.length > 0) throw new UsageError("admin recount takes no arguments");
  const request = { repair: values.repair ?? false, segments: parseSegments(values.segments) };

  let report: RecountReport;
  if (values.direct || values.table) {
    if (values["api-url"] || values.token) throw new UsageError("--direct reads the table, not the API");
    const { dynamodb, tableName } = await directTarget({ local: values.local, table: values.table }, env);
    report = await recountCounters(recountDeps(dynamodb, tableName), request);
  } else {
    const api = await apiTargetOf(values, env)();
    report = await callRoute(api, "POST /api/admin/recount", "/api/admin/recount", request);
  }
  io.emit(report);
  for (const line of formatRecountReport(report)) print(line);
  return report.unrepaired === 0 ? 0 : 1;
}

function parseSegments(text: string | undefined): number {
  if (text === undefined) return DEFAULT_SEGMENTS;
  const segments = Number(text);
  if (!/^\d+$/.test(text.trim()) || segments < 1 || segments > MAX_SEGMENTS) {
    throw new UsageError(`--segments takes a whole number from 1 to ${MAX_SEGMENTS}`);
  }
  return segments;
}

/** The table to recount in this process: the local runtime's, or a named one in AWS. */
async function directTarget(
  flags: { local?: boolean | undefined; table?: string | undefined },
  env: Record<string, string | undefined>,
): Promise<{ dynamodb: DynamoDBDocumentClient; tableName: string }> {
  const table = flags.table ?? env.FLYWHEEL_TABLE;
  const local = await localRuntimeTarget(flags.local, table);
  const config: DynamoDBClientConfig = {};
  if (local) {
    config.region = local.region;
    config.endpoint = local.dynamodbEndpoint;
    config.credentials = { accessKeyId: "local", secretAccessKey: "local" };
  } else {
    if (!table) {
      throw new UsageError(
        "--direct needs a table: start the local runtime (`npm start`), or name it with --table or FLYWHEEL_TABLE",
      );
    }
    if (env.AWS_REGION) config.region = env.AWS_REGION;
    if (env.AWS_ENDPOINT_URL_DYNAMODB) config.endpoint = env.AWS_ENDPOINT_URL_DYNAMODB;
  }
  const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient(config));
  return { dynamodb, tableName: local && !table ? local.tableName : (table as string) };
}

/** The report as a table of the differing counters, then what was read and what to know. */
export function formatRecountReport(report: RecountReport): string[] {
  const lines: string[] = [];
  const { differences } = report;
  if (differences.length === 0) {
    lines.push(
      `no differences: ${report.counters_checked} counters agree with ${report.candidates} candidates`,
    );
  } else {
    const header = ["counter", "stored", "counted", "difference", "repair"];
    const rows = differences.map((d) => [
      d.name,
      String(d.stored),
      String(d.counted),
      d.difference > 0 ? `+${d.difference}` : String(d.difference),
      d.repair ?? (d.moved_during_recount ? "(moved during recount)" : "-"),
    ]);
    const widths = header.map((title, i) =>
      Math.max(title.length, ...rows.map((row) => row[i]?.length ?? 0)),
    );
    const render = (cells: string[]) =>
      cells
        .map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  ")
        .trimEnd();
    lines.push(render(header), ...rows.map(render), "");
    const repaired = differences.length - report.unrepaired;
    lines.push(
      `${differences.length} of ${report.counters_checked} counters differ` +
        (report.repair
          ? `: ${repaired} repaired, ${report.unrepaired} not repaired`
          : "; run with --repair to correct them"),
    );
  }
  lines.push(
    `read ${report.items_scanned} items (${report.candidates} candidates) in ${report.segments} segments, ` +
      `${(report.duration_ms / 1000).toFixed(1)} s`,
  );
  if (differences.length > 0) lines.push(`note: ${report.note}`);
  return lines;
}

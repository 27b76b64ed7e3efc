import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { AnyReply, Reply } from "../lib/api/types.ts";
import { type CommandIo, toIo, usageExit } from "./output.ts";
import { formatBytes } from "./runs.ts";
import { API_FLAGS, apiTargetOf, callApi, callRoute, resolveTarget, TextBody, UsageError } from "./target.ts";

/** Above this a file goes straight to the bucket: the API takes request bodies up to 6 MB. */
export const EVALSET_API_MAX_BYTES = 5 * 1024 * 1024;

export const EVALSETS_USAGE = `  flywheel evalsets add NAME FILE.jsonl [--bucket NAME] [--local | --api-url URL [--token TOKEN]]
      Registers eval set NAME (every export is then checked against it): FILE.jsonl, one item a
      line with an id, a prompt and/or an answer (docs/exports.md), is posted to
      POST /api/evalsets/NAME, which refuses it whole if a line is not an item; a file over 5 MiB
      (or with --bucket) is uploaded to s3://BUCKET/evalsets/NAME/items.jsonl instead, its bad
      lines skipped and listed, and POST /api/evalsets/NAME/index indexes it. Either way the set
      is indexed before the command returns. JSON: the set {name, version, indexed, items,
      indexed_items, bytes, skipped_lines, skipped, files, ngram, grams, indexed_at}.
  flywheel evalsets list
      The registered eval sets with their items, size, version and whether they are indexed
      (one uploaded straight to the bucket is not until the next export). JSON: {evalsets: [...]}.
  flywheel evalsets remove NAME
      Removes the set (its objects and indexes); later exports no longer check it. Needs the
      admin scope.
      JSON: {name, deleted}.`;

/** A registered eval set, as the API's contract has it (lib/api/types.ts). */
export type EvalSetReply = Reply<"GET /api/evalsets/:name">;

/** `flywheel evalsets …`; returns the exit code. */
export async function evalsetsCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      bucket: { type: "string" },
      ...API_FLAGS,
    },
  });
  const io = toIo(output);
  const [command, ...args] = positionals;
  if (values.help || !command) return usageExit(io, EVALSETS_USAGE, values.help);
  const api = apiTargetOf(values, env);
  const path = (name: string) => `/api/evalsets/${encodeURIComponent(name)}`;

  if (command === "add") {
    const [name, file, ...extra] = args;
    if (!name || !file || extra.length > 0) throw new UsageError("evalsets add takes NAME FILE.jsonl");
    const fileName = resolve(file);
    const size = (await stat(fileName)).size;
    const target = await api();
    let set: EvalSetReply;
    if (values.bucket !== undefined || size > EVALSET_API_MAX_BYTES) {
      const bucket = await resolveTarget(
        { ...(values.local ? { local: true } : {}), ...(values.bucket ? { bucket: values.bucket } : {}) },
        env,
      );
      const key = `evalsets/${name}/items.jsonl`;
      await bucket.s3.send(
        new PutObjectCommand({
          Bucket: bucket.bucket,
          Key: key,
          Body: await readFile(fileName),
          ContentType: "application/x-ndjson",
        }),
      );
      io.print(`uploaded ${formatBytes(size)} to s3://${bucket.bucket}/${key}`);
      set = await callRoute(target, "POST /api/evalsets/:name/index", `${path(name)}/index`);
    } else {
      const text = await readFile(fileName, "utf8");
      // The items as they are, one a line: the route takes NDJSON as well as JSON.
      set = await callApi<AnyReply<"POST /api/evalsets/:name">>(
        target,
        "POST",
        path(name),
        new TextBody("application/x-ndjson", text),
      );
    }
    io.emit(set);
    printSet(io, set);
    for (const line of set.skipped) io.print(`  skipped ${line.where}: ${line.reason}`);
    return (set.skipped_lines ?? 0) > 0 ? 1 : 0;
  }

  if (command === "list") {
    if (args.length > 0) throw new UsageError("evalsets list takes no arguments");
    const listed = await callRoute(await api(), "GET /api/evalsets", "/api/evalsets");
    io.emit(listed);
    if (listed.evalsets.length === 0)
      io.print("no eval sets registered: flywheel evalsets add NAME FILE.jsonl");
    for (const set of listed.evalsets) printSet(io, set);
    return 0;
  }

  if (command === "remove") {
    const [name, ...extra] = args;
    if (!name || extra.length > 0) throw new UsageError("evalsets remove takes NAME");
    const removed = await callRoute(await api(), "DELETE /api/evalsets/:name", path(name));
    io.emit(removed);
    io.print(`removed eval set ${removed.name} (${removed.deleted} file(s))`);
    return 0;
  }

  throw new UsageError(`unknown command: evalsets ${positionals.join(" ")}`);
}

function printSet(io: { print: (line: string) => void }, set: EvalSetReply): void {
  if (!set.indexed) {
    io.print(
      `${set.name}: not indexed yet (the next export indexes it), ${formatBytes(set.bytes)}, version ${set.version}`,
    );
    return;
  }
  const skipped = (set.skipped_lines ?? 0) > 0 ? `, ${set.skipped_lines} line(s) skipped` : "";
  io.print(
    `${set.name}: ${set.items} item(s) (${set.indexed_items} long enough to check), ${formatBytes(set.bytes)}, version ${set.version}${skipped}`,
  );
}

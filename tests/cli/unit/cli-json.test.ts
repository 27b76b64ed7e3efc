import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../cli/commands.ts";
import { WaitTimeoutError } from "../../../cli/output.ts";
import { waitForImport } from "../../../cli/run-wait.ts";
import type { ApiTarget } from "../../../cli/target.ts";
import type { RunListing } from "../../../lib/import/domain/run-folders.ts";

let dir: string;
let server: Server;
let apiUrl: string;
/** What the fake API answers to GET /prod/api/sft/runs, one entry per poll (the last repeats). */
let runsReplies: RunListing[][] = [];
const requested: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flywheel-cli-json-"));
  server = createServer((req, res) => {
    requested.push(req.url ?? "");
    res.setHeader("content-type", "application/json");
    if (req.url === "/prod/api/sft/runs") {
      const reply = runsReplies.length > 1 ? runsReplies.shift() : runsReplies[0];
      res.end(JSON.stringify(reply ?? []));
    } else if (req.url === "/prod/api/provenance/report") {
      res.end(
        JSON.stringify({
          total: 2,
          valid: 1,
          missing_provenance: 1,
          coverage: 50,
          approved: 0,
          excluded: 0,
          by_source: {},
          by_model: {},
        }),
      );
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ detail: "Not Found" }));
    }
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});

afterAll(async () => {
  await new Promise((done) => server?.close(done));
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const entry = (fields: Partial<RunListing>): RunListing => ({
  run_id: "r1",
  timestamp: null,
  candidate_count: null,
  already_imported: false,
  import_state: null,
  imported: null,
  skipped: null,
  quarantined: null,
  ...fields,
});

describe("flywheel --version", () => {
  const { version } = JSON.parse(readFileSync("package.json", "utf8")) as { version: string };

  it("prints package.json's version, with the commit of the checkout", async () => {
    const text = await cli("--version");
    expect(text.code).toBe(0);
    expect(text.out).toMatch(
      new RegExp(`^flywheel ${version.replaceAll(".", "\\.")}( \\([0-9a-f]{12}\\))?$`),
    );
    const json = await cli("--version", "--json");
    expect(JSON.parse(json.out)).toEqual({ version, commit: expect.toBeOneOf([null, expect.any(String)]) });
  });
});

describe("exit codes and --json errors", () => {
  it("documents the exit codes and --json in --help", async () => {
    const help = await cli("--help");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/Exit codes: 0 done; 1 failed/);
    expect(help.out).toMatch(/2 usage error/);
    expect(help.out).toMatch(/3 gave up waiting/);
    expect(help.out).toMatch(/runs upload <folder>.*--wait/);
  });

  it("exits 2 on a usage error: text with the usage, or one JSON error on stderr", async () => {
    const text = await cli("runs", "frobnicate");
    expect(text).toMatchObject({ code: 2, out: "" });
    expect(text.err).toMatch(/^flywheel: unknown command: runs frobnicate\n\nUsage:/);

    const json = await cli("runs", "upload", "--json");
    expect(json).toMatchObject({ code: 2, out: "" });
    expect(JSON.parse(json.err)).toEqual({
      error: { message: "runs upload takes exactly one folder", exit_code: 2 },
    });
    expect((await cli("--no-such-flag", "--json")).code).toBe(2);
    expect((await cli("runs", "upload", dir, "--timeout", "5")).err).toMatch(/--timeout goes with --wait/);
  });

  it("exits 1 on a failure, with the error as JSON on stderr under --json", async () => {
    const failed = await cli("provenance", "validate-file", join(dir, "missing.jsonl"), "--json");
    expect(failed.code).toBe(2);
    await writeFile(join(dir, "bad.jsonl"), '{"messages": 1}\n');
    const invalid = await cli("provenance", "validate-file", join(dir, "bad.jsonl"), "--json");
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.out)).toMatchObject({ valid: 0, invalid: 1 });

    const unreachable = await cli(
      "provenance",
      "report",
      "--api-url",
      "http://127.0.0.1:9/x",
      "--token",
      "t",
      "--json",
    );
    expect(unreachable.code).toBe(1);
    expect(JSON.parse(unreachable.err).error).toMatchObject({ exit_code: 1, message: expect.any(String) });
  });
});

describe("--json shapes", () => {
  it("provenance report: the API's report as one document, the API's base path kept", async () => {
    const json = await cli("provenance", "report", "--api-url", apiUrl, "--token", "t", "--json");
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toMatchObject({ total: 2, valid: 1, coverage: 50 });
    expect(requested).toContain("/prod/api/provenance/report");

    const text = await cli("provenance", "report", "--api-url", apiUrl, "--token", "t");
    expect(text.out).toMatch(/^records 2 {2}valid 1/);
    expect(() => JSON.parse(text.out)).toThrow();
  });

  it("help stays text with --json", async () => {
    const help = await cli("ingest", "--help", "--json");
    expect(help.code).toBe(0);
    expect(help.out).toMatch(/JSON: \{file, lines, published, refused, refusals/);
  });
});

describe("waitForImport", () => {
  const api = (): ApiTarget => ({ apiUrl, token: "t", description: apiUrl });

  it("follows a new run's import until it completes", async () => {
    runsReplies = [
      [],
      [entry({ import_state: "importing", imported: 3 })],
      [entry({ import_state: "completed", imported: 5, skipped: 0, quarantined: 2 })],
    ];
    const lines: string[] = [];
    const done = await waitForImport(api(), "r1", {
      timeoutMs: 10_000,
      intervalMs: 10,
      progress: (line) => lines.push(line),
    });
    expect(done).toMatchObject({ import_state: "completed", imported: 5, quarantined: 2 });
    expect(lines[0]).toMatch(/waiting for the import to start/);
    expect(lines.at(-1)).toMatch(/completed, 5 imported, 0 skipped, 2 quarantined/);
  });

  it("after a re-upload, waits for the entry to change from the previous import", async () => {
    const previous = entry({ import_state: "completed", imported: 5, skipped: 0, quarantined: 2 });
    const reimported = entry({ import_state: "completed", imported: 0, skipped: 5, quarantined: 2 });
    runsReplies = [[previous], [previous], [reimported]];
    const done = await waitForImport(api(), "r1", { timeoutMs: 10_000, intervalMs: 10, before: previous });
    expect(done).toEqual(reimported);
  });

  it("gives up at the timeout (exit code 3 through the CLI)", async () => {
    runsReplies = [[entry({ import_state: "importing" })]];
    await expect(waitForImport(api(), "r1", { timeoutMs: 100, intervalMs: 20 })).rejects.toThrow(
      WaitTimeoutError,
    );
  });
});

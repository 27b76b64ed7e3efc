import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../../cli/commands.ts";
import { commandIo } from "../../../cli/output.ts";
import { type SuggestionJobView, suggestionsCommand } from "../../../cli/suggestions.ts";

/** A fake API under a base path (`/prod`): what it was asked, and the job's states in turn. */
let server: Server;
let apiUrl: string;
const requests: { method: string; url: string; body: unknown; authorization: string | undefined }[] = [];
/** The job as each GET answers it, one per poll (the last repeats). */
let polls: SuggestionJobView[] = [];

const job = (fields: Partial<SuggestionJobView> = {}): SuggestionJobView => ({
  id: "job-1",
  state: "running",
  filters: { run_id: "r1" },
  limit: 3,
  replace: false,
  model: "m-suggest",
  backend: "openai",
  prompt_version: "suggest-1",
  total: 3,
  pending: 3,
  passed_over: 1,
  suggested: 0,
  failed: 0,
  failed_by_reason: {},
  skipped: 0,
  skipped_by_reason: {},
  created_at: "2026-12-06T01:00:00.000Z",
  created_by: "dev-reviewer",
  completed_at: null,
  ...fields,
});

const done = (fields: Partial<SuggestionJobView> = {}) =>
  job({ state: "done", pending: 0, suggested: 3, completed_at: "2026-12-06T01:00:05.000Z", ...fields });

beforeAll(async () => {
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", () => {
      requests.push({
        method: req.method ?? "",
        url: req.url ?? "",
        body: text ? JSON.parse(text) : undefined,
        authorization: req.headers.authorization,
      });
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url === "/prod/api/sft/suggestions") {
        res.statusCode = 202;
        res.end(JSON.stringify(job()));
      } else if (req.method === "GET" && req.url === "/prod/api/sft/suggestions/job-1") {
        res.end(JSON.stringify(polls.length > 1 ? polls.shift() : polls[0]));
      } else {
        res.statusCode = 404;
        res.end(JSON.stringify({ detail: `Suggestion job not found: ${req.url}` }));
      }
    });
  });
  await new Promise<void>((ready) => server.listen(0, "127.0.0.1", ready));
  apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod`;
});

afterAll(async () => {
  await new Promise((closed) => server?.close(closed));
});

beforeEach(() => {
  requests.length = 0;
  polls = [done()];
});

const target = () => ["--api-url", apiUrl, "--token", "t0k"];

async function cli(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** The command with its progress lines and a short poll interval. */
async function suggestions(json: boolean, ...argv: string[]) {
  const out: string[] = [];
  const progress: { line: string; final: boolean }[] = [];
  const code = await suggestionsCommand(
    argv,
    commandIo(json, (line) => out.push(line)),
    {},
    { progress: (line, final) => progress.push({ line, final: final ?? false }), pollIntervalMs: 5 },
  );
  return { code, out: out.join("\n"), progress };
}

describe("flywheel suggestions start", () => {
  it("posts the filters, limit and LLM as the API names them, under the API's base path", async () => {
    const started = await cli(
      "suggestions",
      "start",
      "--run",
      "r1",
      "--model",
      "m-a",
      "--task-type",
      "qa",
      "--source",
      "bench",
      "--limit",
      "3",
      "--suggest-model",
      "m-suggest",
      "--backend",
      "openai",
      "--replace",
      ...target(),
    );
    expect(started.code).toBe(0);
    expect(requests).toEqual([
      {
        method: "POST",
        url: "/prod/api/sft/suggestions",
        authorization: "Bearer t0k",
        body: {
          run_id: "r1",
          model: "m-a",
          task_type: "qa",
          source: "bench",
          limit: 3,
          suggest_model: "m-suggest",
          backend: "openai",
          replace: true,
        },
      },
    ]);
    expect(started.out).toMatch(
      /^suggestion job job-1 started on .*: 3 candidate\(s\) selected, 1 passed over/,
    );
    expect(started.out).toMatch(/model m-suggest \(openai\), prompt suggest-1; run_id=r1, limit 3/);
  });

  it("sends only what is given: the API's defaults hold for the rest", async () => {
    expect((await cli("suggestions", "start", ...target())).code).toBe(0);
    expect(requests[0]?.body).toEqual({});
    const withRunId = await cli("suggestions", "start", "--run-id", "r2", ...target());
    expect(withRunId.code).toBe(0);
    expect(requests[1]?.body).toEqual({ run_id: "r2" });
  });

  it("--wait follows the job to done with progress lines, and --json prints the final job", async () => {
    polls = [job({ pending: 2, suggested: 1 }), job({ pending: 1, suggested: 2 }), done()];
    const waited = await suggestions(true, "start", "--run", "r1", "--wait", ...target());
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.out)).toEqual(done());
    expect(requests.map((r) => `${r.method} ${r.url}`)).toEqual([
      "POST /prod/api/sft/suggestions",
      "GET /prod/api/sft/suggestions/job-1",
      "GET /prod/api/sft/suggestions/job-1",
      "GET /prod/api/sft/suggestions/job-1",
    ]);
    expect(waited.progress.map((p) => p.line.replace(/ \(\d+ s\)$/, ""))).toEqual([
      "suggestion job job-1: running, 0 of 3 counted (0 suggested, 0 failed, 0 skipped)",
      "suggestion job job-1: running, 1 of 3 counted (1 suggested, 0 failed, 0 skipped)",
      "suggestion job job-1: running, 2 of 3 counted (2 suggested, 0 failed, 0 skipped)",
      "suggestion job job-1: done, 3 of 3 counted (3 suggested, 0 failed, 0 skipped)",
    ]);
    expect(waited.progress.map((p) => p.final)).toEqual([false, false, false, true]);
  });

  it("--wait waits a moment for the done job's completed_at, which follows its last count", async () => {
    polls = [done({ completed_at: null }), done()];
    const waited = await suggestions(true, "start", "--wait", ...target());
    expect(waited.code).toBe(0);
    expect(JSON.parse(waited.out).completed_at).toBe("2026-12-06T01:00:05.000Z");
    expect(waited.progress.filter((p) => p.final)).toHaveLength(1);
    // A job never stamped is printed as it is after a few polls, not waited for until the timeout.
    requests.length = 0;
    polls = [done({ completed_at: null })];
    const unstamped = await suggestions(true, "start", "--wait", ...target());
    expect(unstamped.code).toBe(0);
    expect(JSON.parse(unstamped.out).completed_at).toBeNull();
    expect(requests.filter((r) => r.method === "GET")).toHaveLength(4);
  });

  it("--wait exits 1 when a candidate failed, and says why by reason", async () => {
    polls = [done({ suggested: 1, failed: 2, failed_by_reason: { timeout: 1, malformed: 1 } })];
    const waited = await suggestions(false, "start", "--wait", ...target());
    expect(waited.code).toBe(1);
    expect(waited.out).toMatch(/1 suggested, 2 failed \(timeout 1, malformed 1\), 0 skipped/);
    // Without --wait the command only starts the job: it succeeded.
    expect((await suggestions(false, "start", ...target())).code).toBe(0);
  });

  it("--wait gives up at --timeout with exit code 3, as JSON under --json", async () => {
    polls = [job()];
    const waited = await cli("suggestions", "start", "--wait", "--timeout", "0.05", "--json", ...target());
    expect(waited.code).toBe(3);
    expect(waited.out).toBe("");
    expect(JSON.parse(waited.err).error).toEqual({
      exit_code: 3,
      message: expect.stringMatching(
        /^suggestion job job-1 is still running \(3 of 3 candidate\(s\) pending\)/,
      ),
    });
  });

  it("refuses bad flags with exit code 2 before calling the API", async () => {
    for (const argv of [
      ["--limit", "0"],
      ["--limit", "1001"],
      ["--limit", "ten"],
      ["--backend", "nope"],
      ["--timeout", "5"],
      ["--wait", "--timeout", "-1"],
      ["--run", "a", "--run-id", "b"],
      ["extra"],
      ["--no-such-flag"],
    ]) {
      const refused = await cli("suggestions", "start", ...argv, ...target());
      expect(refused.code, argv.join(" ")).toBe(2);
    }
    expect(requests).toEqual([]);
  });
});

describe("flywheel suggestions show", () => {
  it("prints the job, or as --json the job as the API answers it", async () => {
    polls = [done({ skipped: 1, suggested: 2, skipped_by_reason: { decided: 1 } })];
    const text = await cli("suggestions", "show", "job-1", ...target());
    expect(text.code).toBe(0);
    expect(text.out.split("\n")[0]).toBe("suggestion job job-1: done, 3 candidate(s), 0 pending");
    expect(text.out).toMatch(/2 suggested, 0 failed, 1 skipped \(decided 1\), 1 passed over/);
    expect(text.out).toMatch(/completed 2026-12-06T01:00:05.000Z/);

    const json = await cli("suggestions", "show", "job-1", "--json", ...target());
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual(polls[0]);
  });

  it("exits 1 with the API's reason for an unknown job, and 2 without an id", async () => {
    const missing = await cli("suggestions", "show", "no-such-job", "--json", ...target());
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.err).error.message).toMatch(/answered 404: .*Suggestion job not found/);
    expect((await cli("suggestions", "show", ...target())).code).toBe(2);
  });
});

describe("help", () => {
  it("lists both commands with their flags, JSON shapes and exit codes", async () => {
    const help = await cli("--help");
    expect(help.out).toMatch(/flywheel suggestions start \[--run ID\] \[--model M\] \[--task-type T\]/);
    expect(help.out).toMatch(/flywheel suggestions show ID/);
    expect(help.out).toMatch(/suggestions start --wait; the work may still finish/);
    const own = await cli("suggestions", "--help");
    expect(own.code).toBe(0);
    expect(own.out).toMatch(/Exits 1 when --wait saw a candidate fail/);
    expect((await cli("suggestions")).code).toBe(2);
  });

  it("completes the commands and their flags", async () => {
    const script = (await cli("completion", "bash")).out;
    expect(script).toMatch(/"suggestions start"\) flags="[^"]*--limit[^"]*--task-type[^"]*--wait/);
    expect(script).toMatch(/suggestions\) subcommands="show start"/);
  });
});

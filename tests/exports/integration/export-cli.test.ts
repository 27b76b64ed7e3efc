import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExportFailedError, exportCommand } from "../../../cli/export.ts";
import { UsageError } from "../../../cli/target.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import type { Poller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { startExportStack } from "../../support/export-stack.ts";
import { callApi } from "../../support/http-events.ts";
import { candidateLines, uploadRun } from "../../support/review-fixtures.ts";

const TOKEN = "reviewer-token-for-export-cli";
const RUN = "2026-05-03-080000-cli";

let aws: TestAws;
let server: HttpApiServer;
let poller: Poller;
let dir: string;

beforeAll(async () => {
  aws = await provisionTestAws("export-cli");
  const stack = await startExportStack(aws, TOKEN);
  poller = stack.poller;
  const { api } = stack;
  server = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
  dir = await mkdtemp(join(tmpdir(), "flywheel-export-cli-"));

  const call = (path: string, body: unknown) =>
    callApi(api, lambdaContext("api"), "POST", path, { token: TOKEN, body });
  await uploadRun(aws, RUN, candidateLines(RUN, 6));
  expect((await call("/api/sft/import", { run_id: RUN })).status).toBe(200);
  for (let n = 0; n < 6; n++) {
    const category = n === 1 ? "scoring_artifact" : "wrong_answer";
    const body =
      n === 5
        ? { id: `${RUN}-0000${n}`, action: "discard", failure_category: category }
        : {
            id: `${RUN}-0000${n}`,
            action: "correct",
            corrected_response: `right ${n}`,
            failure_category: category,
          };
    expect((await call("/api/sft/submit", body)).status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([poller?.stop(), server?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

const target = () => ["--api-url", server.url, "--token", TOKEN];

describe("flywheel export", () => {
  it("creates the job, shows its progress, downloads the dataset and checks it against the manifest", async () => {
    const printed: string[] = [];
    const out = join(dir, "dpo.jsonl");
    const code = await exportCommand(
      ["--format", "trl-dpo", "--exclude-category", "scoring_artifact", "-o", out, ...target()],
      { print: (line) => printed.push(line), pollIntervalMs: 100 },
    );
    expect(code).toBe(0);

    const bytes = await readFile(out);
    const manifest = JSON.parse(await readFile(join(dir, "dpo.manifest.json"), "utf8"));
    expect(createHash("sha256").update(bytes).digest("hex")).toBe(manifest.files.dataset.sha256);
    const lines = bytes
      .toString()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.chosen[0].content)).toEqual(["right 0", "right 2", "right 3", "right 4"]);
    // Only the approved partition is read; the discarded candidate is counted, not listed.
    expect(manifest.counts.by_reason).toMatchObject({ category_disallowed: 1, status_disallowed: 0 });
    expect(manifest.counts.not_read_by_status).toEqual({ needs_review: 0, discarded: 1, model_rejected: 0 });

    expect(printed[0]).toMatch(/^export [0-9a-f-]{36} created on http:\/\/127\.0\.0\.1:\d+$/);
    expect(printed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^export [0-9a-f-]{36}: succeeded, 5 considered, 4 exported, 1 quarantined$/),
        expect.stringMatching(
          /^wrote .*dpo\.jsonl: 4 line\(s\) from 4 candidate\(s\), sha256 [0-9a-f]{64} verified$/,
        ),
        "1 quarantined: category_disallowed 1",
        "not read (cannot pass): discarded 1",
      ]),
    );
    // TRL's DPO trainer has no minimum, and Bedrock's preference minimum is not for a format it never reads.
    expect(printed.filter((line) => line.startsWith("warning:"))).toEqual([]);
  });

  it("refuses a download whose bytes do not match the manifest, and keeps no file", async () => {
    const out = join(dir, "tampered.jsonl");
    const tampering: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!String(input).includes("X-Amz-Signature")) return response;
      return new Response(`${await response.text()}{"extra": true}\n`, { status: 200 });
    };
    await expect(
      exportCommand(["--format", "openai-sft", "-o", out, ...target()], {
        print: () => {},
        fetch: tampering,
        pollIntervalMs: 100,
      }),
    ).rejects.toThrow(ExportFailedError);
    expect(existsSync(out)).toBe(false);
  });

  it("reports the API's refusal of a bad request, and checks its own arguments", async () => {
    await expect(
      exportCommand(["--format", "csv", "-o", join(dir, "x.jsonl"), ...target()], { print: () => {} }),
    ).rejects.toThrow(/HTTP 422/);
    await expect(exportCommand(["-o", "x.jsonl", ...target()], { print: () => {} })).rejects.toThrow(
      UsageError,
    );
    await expect(exportCommand(["--format", "rag", ...target()], { print: () => {} })).rejects.toThrow(
      UsageError,
    );
    await expect(
      exportCommand(["--format", "rag", "-o", "x", "--limit", "0", ...target()], { print: () => {} }),
    ).rejects.toThrow(UsageError);
    const printed: string[] = [];
    expect(await exportCommand(["--help"], { print: (line) => printed.push(line) })).toBe(0);
    expect(printed.join("\n")).toContain("flywheel export --format FORMAT -o OUT.jsonl");
  });
});

import { createHash, randomUUID } from "node:crypto";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { QUEUES } from "../../../lib/common/resources.ts";
import { EXPORT_FORMATS, type ExportFormat } from "../../../lib/exports/domain/export-request.ts";
import type { Poller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { exportThroughApi, startExportStack } from "../../support/export-stack.ts";
import { type ApiHandler, callApi, type HttpRequest, httpEvent } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";

const TOKEN = "reviewer-token-for-export-tests";
const RUN = "2026-05-02-100000-exports";

let aws: TestAws;
let api: ApiHandler;
let poller: Poller;
const context = lambdaContext("api");

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });
const id = (n: number) => `${RUN}-${String(n).padStart(5, "0")}`;
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const jsonLines = (text: string) =>
  text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));

/** Prompts of the run: two lines share one, so their corrections make a duplicate. */
function runLine(n: number, prompt: string) {
  return JSON.stringify({
    id: id(n),
    source: "cf-orch-benchmark",
    benchmark_run_id: RUN,
    timestamp: new Date(Date.UTC(2026, 4, 2, 10, 0, n)).toISOString(),
    status: "needs_review",
    prompt_messages: [
      { role: "system", content: "Answer with a number." },
      { role: "user", content: prompt },
    ],
    model_response: `wrong answer ${n}`,
    corrected_response: null,
    task_type: "math",
    model_name: "model-x",
  });
}

/** What happens to each line of the run, and what each export must then do with it. */
const PLAN: {
  n: number;
  prompt?: string;
  action: "correct" | "discard" | "flag" | "none";
  correction?: string;
  category?: string;
  expect: string;
}[] = [
  { n: 0, action: "correct", correction: "42", category: "wrong_answer", expect: "exported" },
  { n: 1, action: "correct", correction: "7", category: "hallucination", expect: "exported" },
  { n: 2, action: "correct", correction: "9", category: "scoring_artifact", expect: "category_disallowed" },
  { n: 3, action: "discard", category: "format_error", expect: "status_disallowed" },
  { n: 4, action: "flag", category: "wrong_answer", expect: "status_disallowed" },
  { n: 5, prompt: "How many legs has a spider?", action: "correct", correction: "8", expect: "exported" },
  {
    n: 6,
    prompt: "how many legs has a  SPIDER?",
    action: "correct",
    correction: " 8 ",
    expect: "duplicate_content",
  },
  { n: 7, action: "correct", correction: "11", expect: "missing_provenance" },
  { n: 8, action: "none", expect: "status_disallowed" },
  {
    n: 9,
    prompt: `Summarise: ${"a very long document. ".repeat(16_000)}`,
    action: "correct",
    correction: "It is long.",
    expect: "exported",
  },
];

const exportJob = (body: unknown) => exportThroughApi(call, body);

async function download(url: string) {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return { bytes: Buffer.from(await response.arrayBuffer()), type: response.headers.get("content-type") };
}

/** `GET /api/sft/export` as Avocet's clients call it: the 303 and where it points. */
async function avocetExport() {
  const result = await api(httpEvent("GET", "/api/sft/export", { token: TOKEN }), context);
  return { status: result.statusCode, location: String(result.headers?.location ?? "") };
}

beforeAll(async () => {
  aws = await provisionTestAws("exports");
  // Batches of the deployed size.
  ({ api, poller } = await startExportStack(aws, TOKEN, {
    env: { CODE_VERSION: "0.1.0+0123456789ab" },
    batchSize: QUEUES.exports.batchSize,
  }));
  await uploadRun(
    aws,
    RUN,
    PLAN.map(({ n, prompt }) => runLine(n, prompt ?? `What is question ${n}?`)).join("\n"),
  );
  const imported = await call("POST", "/api/sft/import", { body: { run_id: RUN } });
  expect(imported.body).toEqual({ imported: PLAN.length, skipped: 0 });
}, 120_000);

afterAll(async () => {
  await poller?.stop();
});

describe("before anything is approved", () => {
  it("GET /api/sft/export answers 303 to an empty file, not an error", async () => {
    const { status, location } = await avocetExport();
    expect(status).toBe(303);
    const { bytes } = await download(location);
    expect(bytes.length).toBe(0);
    expect(new URL(location).pathname).toMatch(/\/exports\/[^/]+\/dataset\.jsonl$/);
    expect(new URL(location).searchParams.get("response-content-disposition")).toMatch(
      /^attachment; filename="sft_export_\d{8}-\d{6}\.jsonl"$/,
    );
  });
});

describe("exports of a reviewed run", () => {
  beforeAll(async () => {
    for (const { n, action, correction, category } of PLAN) {
      if (action === "none") continue;
      const reply = await call("POST", "/api/sft/submit", {
        body: { id: id(n), action, corrected_response: correction, failure_category: category ?? null },
      });
      expect(reply.status).toBe(200);
    }
    // A record stripped of its provenance after approval.
    await aws.clients.dynamodb.send(
      new UpdateCommand({
        TableName: aws.resources.tableName,
        Key: keys.candidate(id(7)),
        UpdateExpression: "REMOVE provenance",
      }),
    );
  });

  const request = (format: ExportFormat) => ({
    format,
    // Not by run: the run is named in provenance, and one record here has none left.
    filters: { exclude_categories: ["scoring_artifact"], task_type: "math" },
  });

  it.each(EXPORT_FORMATS)(
    "%s: the dataset holds exactly the clean records, the quarantine every other with its reason",
    async (format) => {
      const job = await exportJob(request(format));
      expect(job).toMatchObject({ status: "succeeded", format, requested_by: "local-reviewer", error: null });
      const { manifest } = job;

      const dataset = await download(job.download.url);
      expect(dataset.type).toBe("application/x-ndjson");
      expect(sha256(dataset.bytes)).toBe(manifest.files.dataset.sha256);
      expect(dataset.bytes.length).toBe(manifest.files.dataset.bytes);
      const quarantine = await download(job.quarantine_download.url);
      expect(sha256(quarantine.bytes)).toBe(manifest.files.quarantine.sha256);

      const clean = PLAN.filter((p) => p.expect === "exported").map((p) => id(p.n));
      const linesPerRecord = format === "trl-kto" ? 2 : 1;
      expect(jsonLines(dataset.bytes.toString())).toHaveLength(clean.length * linesPerRecord);
      // Only the approved partition is read: what could never pass is counted, not listed.
      const read = PLAN.filter((p) => p.expect !== "status_disallowed");
      expect(
        jsonLines(quarantine.bytes.toString()).map((entry) => [entry.candidate_id, entry.reason]),
      ).toEqual(read.filter((p) => p.expect !== "exported").map((p) => [id(p.n), p.expect]));
      expect(manifest.counts).toMatchObject({
        considered: read.length,
        exported: clean.length,
        quarantined: read.length - clean.length,
        not_read_by_status: { needs_review: 1, discarded: 1, model_rejected: 1 },
        by_reason: {
          status_disallowed: 0,
          category_disallowed: 1,
          missing_provenance: 1,
          duplicate_content: 1,
          empty_content: 0,
          schema_violation: 0,
          self_pairing: 0,
          trainer_rule: 0,
        },
      });
      expect(manifest).toMatchObject({
        code_version: "0.1.0+0123456789ab",
        requested_by: "local-reviewer",
        filters: { exclude_categories: ["scoring_artifact"], task_type: "math" },
      });
      // The big prompt was moved out of its item; the export loaded it back whole.
      expect(dataset.bytes.toString()).toContain("a very long document. ".repeat(16_000).trim());
    },
  );

  it("lists every candidate that cannot pass in the quarantine with options.quarantine_unselected", async () => {
    const job = await exportJob({ ...request("trl-dpo"), options: { quarantine_unselected: true } });
    expect(job.manifest.filters.statuses).toEqual([
      "needs_review",
      "approved",
      "discarded",
      "model_rejected",
    ]);
    const quarantine = jsonLines((await download(job.quarantine_download.url)).bytes.toString());
    expect(quarantine.map((entry) => [entry.candidate_id, entry.reason])).toEqual(
      PLAN.filter((p) => p.expect !== "exported").map((p) => [id(p.n), p.expect]),
    );
    expect(job.manifest.counts).toMatchObject({
      considered: PLAN.length,
      by_reason: { status_disallowed: 3 },
    });
    expect(job.manifest.counts).not.toHaveProperty("not_read_by_status");
  });

  it("writes several formats in one job (formats), each as that format alone, with one manifest", async () => {
    const job = await exportJob({ ...request("openai-sft"), formats: ["trl-dpo"] });
    expect(job.manifest.formats.map((part: { format: string }) => part.format)).toEqual([
      "openai-sft",
      "trl-dpo",
    ]);
    const alone = await exportJob(request("trl-dpo"));
    const part = await download(job.format_downloads["trl-dpo"].download.url);
    expect(part.bytes.equals((await download(alone.download.url)).bytes)).toBe(true);
    expect(sha256(part.bytes)).toBe(job.manifest.formats[1].files.dataset.sha256);
    expect(job.manifest.formats[1].counts).toEqual(alone.manifest.counts);
  });

  it("writes the same bytes for the same request over the same data", async () => {
    const [first, second] = [await exportJob(request("trl-dpo")), await exportJob(request("trl-dpo"))];
    expect(second.id).not.toBe(first.id);
    const [a, b] = [await download(first.download.url), await download(second.download.url)];
    expect(b.bytes.equals(a.bytes)).toBe(true);
    expect(second.manifest.files.quarantine.sha256).toBe(first.manifest.files.quarantine.sha256);
  });

  it("signs links that expire in 15 minutes by default, or as asked", async () => {
    const job = await exportJob({ format: "openai-sft", filters: { run_id: RUN, statuses: ["approved"] } });
    expect(new URL(job.download.url).searchParams.get("X-Amz-Expires")).toBe("900");
    const shorter = await call("GET", `/api/exports/${job.id}`, { query: { expires_in: "120" } });
    expect(new URL(shorter.body.download.url).searchParams.get("X-Amz-Expires")).toBe("120");
    expect((await call("GET", `/api/exports/${job.id}`, { query: { expires_in: "999999" } })).status).toBe(
      422,
    );
  });

  it("GET /api/sft/export answers 303 to the approved SFT lines, firewall applied", async () => {
    const { status, location } = await avocetExport();
    expect(status).toBe(303);
    const lines = jsonLines((await download(location)).bytes.toString());
    // No category filter here: the scoring artifact goes in; the untraceable one and the duplicate do not.
    expect(lines.map((line) => line.messages.at(-1).content)).toEqual(["42", "7", "9", "8", "It is long."]);
    expect(lines[0]).toEqual({
      messages: [
        { role: "system", content: "Answer with a number." },
        { role: "user", content: "What is question 0?" },
        { role: "assistant", content: "42" },
      ],
    });
  });

  it("makes one job for a retried request with the same Idempotency-Key, and refuses the key for another", async () => {
    const headers = { "Idempotency-Key": `nightly-${randomUUID()}` };
    const body = { format: "openai-sft", filters: { run_id: RUN } };
    const first = await call("POST", "/api/exports", { headers, body });
    const retry = await call("POST", "/api/exports", { headers, body });
    const other = await call("POST", "/api/exports", {
      headers,
      body: { format: "trl-sft", filters: { run_id: RUN } },
    });

    expect(first.status).toBe(202);
    // The retry answers with the same job, as it stands now (it may have started meanwhile).
    expect(retry.status).toBe(202);
    expect(retry.body).toMatchObject({ id: first.body.id, created_at: first.body.created_at });
    expect(other.status).toBe(409);
    expect(other.body.detail).toContain(first.body.id);
    const listed = await call("GET", "/api/exports", { query: { limit: "100" } });
    expect(listed.body.exports.filter((job: { id: string }) => job.id === first.body.id)).toHaveLength(1);
  });

  it("lists jobs newest first, and refuses bad requests with 422 and unknown ones with 404", async () => {
    const listed = await call("GET", "/api/exports", { query: { limit: "3" } });
    expect(listed.status).toBe(200);
    expect(listed.body.exports).toHaveLength(3);
    const created = listed.body.exports.map((job: { created_at: string }) => job.created_at);
    expect([...created].sort().reverse()).toEqual(created);

    expect((await call("POST", "/api/exports", { body: { format: "csv" } })).status).toBe(422);
    expect(
      (await call("POST", "/api/exports", { body: { format: "rag", filters: { exclude_category: ["x"] } } }))
        .status,
    ).toBe(422);
    expect((await call("GET", "/api/exports/no-such-export")).status).toBe(404);
    expect((await callApi(api, context, "GET", "/api/exports")).status).toBe(401);
  });
});

import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { exportCommand } from "../../../cli/export.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import type { Poller } from "../../../local/poller.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { exportThroughApi, startExportStack } from "../../support/export-stack.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";

/**
 * The distillation exporter Flywheel replaces, replayed as its users ran it: what it did that
 * Flywheel's exports first did not — preference pairs across the candidates of one task (approved
 * corrections and answers over rejected answers, partial answers as the fallback, at most 5 pairs
 * a task), `--dry-run` (counts and reasons, no files), and RAG's opt-in for records still in
 * review (never rejected ones) — asked of Flywheel through `POST /api/exports` and `flywheel
 * export`, and the old output shapes checked field by field: DPO lines `{prompt, chosen, rejected}`
 * (Flywheel adds `id`), KTO lines `{prompt, completion, label}`, SFT `{messages}`, RAG `{text,
 * metadata}`. A rename or a dropped field in any of them fails here.
 */

const TOKEN = "reviewer-token-for-distillation-compat";
const RUN = "2026-05-04-090000-distill";
const QUESTION = "What is 17 + 25? End with 'Answer: <number>'.";

let aws: TestAws;
let api: ApiHandler;
let poller: Poller;
let server: HttpApiServer;
let dir: string;
const context = lambdaContext("api");
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });

/**
 * One benchmark task asked of five models (one prompt), a second task asked of two, and a line
 * that came with its own correction (left in review): what the old exporter's users fed it.
 */
const LINES = [
  {
    n: 0,
    task: "add-1",
    model: "model-a",
    answer: "Answer: 32",
    review: { action: "correct", correction: "Adding gives 42. Answer: 42", category: "wrong_answer" },
  },
  {
    n: 1,
    task: "add-1",
    model: "model-b",
    answer: "Answer: 41",
    review: { action: "correct", correction: "17 + 25 = 42. Answer: 42", category: "wrong_answer" },
  },
  {
    n: 2,
    task: "add-1",
    model: "model-c",
    answer: "Answer: 42",
    review: { action: "correct", correction: "Answer: 42", category: "scoring_artifact" },
  },
  {
    n: 3,
    task: "add-1",
    model: "model-d",
    answer: "42",
    review: { action: "correct", correction: "42 is the sum. Answer: 42", category: "partial_answer" },
  },
  {
    n: 4,
    task: "add-1",
    model: "model-e",
    answer: "Answer: 24",
    review: { action: "discard", category: "wrong_answer" },
  },
  {
    n: 5,
    task: "add-2",
    model: "model-a",
    answer: "Answer: 8",
    review: { action: "correct", correction: "Answer: 9", category: "wrong_answer" },
  },
  {
    n: 6,
    task: "add-2",
    model: "model-b",
    answer: "Answer: 9",
    review: { action: "correct", correction: "Answer: 9", category: "scoring_artifact" },
  },
  { n: 7, task: "add-3", model: "model-a", answer: "Answer: 3", upstream: "Answer: 4" },
  {
    n: 8,
    task: "add-3",
    model: "model-b",
    answer: "Answer: 5",
    review: { action: "flag", category: "hallucination" },
  },
] as const;
const id = (n: number) => `${RUN}-${n}`;
const prompt = (task: string) => (task === "add-1" ? QUESTION : `Task ${task}: add the numbers.`);

function runLine(line: (typeof LINES)[number]) {
  return JSON.stringify({
    id: id(line.n),
    source: "cf-orch-benchmark",
    benchmark_run_id: RUN,
    timestamp: new Date(Date.UTC(2026, 4, 4, 9, 0, line.n)).toISOString(),
    status: "needs_review",
    prompt_messages: [
      { role: "system", content: "Solve the problem." },
      { role: "user", content: prompt(line.task) },
    ],
    model_response: line.answer,
    corrected_response: "upstream" in line ? line.upstream : null,
    task_id: line.task,
    task_type: "math",
    model_name: line.model,
  });
}

const exportJob = (body: unknown) => exportThroughApi(call, body);

async function linesAt(url: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return (await response.text())
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

const keysOf = (value: unknown) => Object.keys(value as object).sort();
const text = (messages: unknown) => (messages as { content: string }[])[0]?.content;

beforeAll(async () => {
  aws = await provisionTestAws("distill-compat");
  ({ api, poller } = await startExportStack(aws, TOKEN));
  server = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
  dir = await mkdtemp(join(tmpdir(), "distill-compat-"));
  await uploadRun(aws, RUN, LINES.map(runLine).join("\n"));
  expect((await call("POST", "/api/sft/import", { body: { run_id: RUN } })).body.imported).toBe(LINES.length);
  for (const line of LINES) {
    if (!("review" in line)) continue;
    const { action, category } = line.review;
    const reply = await call("POST", "/api/sft/submit", {
      body: {
        id: id(line.n),
        action,
        corrected_response: "correction" in line.review ? line.review.correction : undefined,
        failure_category: category,
      },
    });
    expect(reply.status).toBe(200);
  }
}, 120_000);

afterAll(async () => {
  await Promise.all([poller?.stop(), server?.stop()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("the distillation exporter's same-task DPO pairs", () => {
  it("pairs one task's approved corrections and answers with its rejected answers, at most 5, never a discarded one", async () => {
    const job = await exportJob({ format: "trl-dpo", options: { pairing: "same_task" } });
    expect(job.status).toBe("succeeded");
    const lines = await linesAt(job.download.url);
    for (const line of lines) {
      // The old line's fields, and Flywheel's record id beside them.
      expect(keysOf(line)).toEqual(["chosen", "id", "prompt", "rejected"]);
      expect(line.prompt).toEqual([
        { role: "system", content: "Solve the problem." },
        { role: "user", content: expect.any(String) },
      ]);
      for (const side of [line.chosen, line.rejected] as { role: string; content: string }[][]) {
        expect(side).toHaveLength(1);
        expect(keysOf(side[0])).toEqual(["content", "role"]);
        expect(side[0]?.role).toBe("assistant");
      }
      expect(text(line.chosen)?.toLowerCase().trim()).not.toBe(text(line.rejected)?.toLowerCase().trim());
    }
    const add1 = lines.filter((line) => (line.prompt as { content: string }[])[1]?.content === QUESTION);
    expect(add1).toHaveLength(5);
    const rejected = add1.map((line) => text(line.rejected));
    // Outright wrong answers first; the partial answer ("42") only if they do not reach 5, and
    // model-e's discarded answer never.
    expect(rejected).not.toContain("Answer: 24");
    expect(new Set(rejected)).toEqual(new Set(["Answer: 32", "Answer: 41"]));
    // The answer approved as it was (model-c's "Answer: 42") is a preferred side, never a rejected one.
    expect(rejected).not.toContain("Answer: 42");
    // add-2: model-b's approved answer repeats model-a's correction (a duplicate): model-a's own pair.
    const add2 = lines.filter((line) => text(line.rejected) === "Answer: 8");
    expect(add2.map((line) => text(line.chosen))).toEqual(["Answer: 9"]);
    expect(job.manifest.counts.by_reason).toHaveProperty("unpaired");
  });

  it("uses the partial answer as the fallback once the wrong ones have paired with every correction", async () => {
    const job = await exportJob({
      format: "trl-dpo",
      options: { pairing: "same_task", max_pairs_per_task: 10 },
    });
    const add1 = (await linesAt(job.download.url)).filter(
      (line) => (line.prompt as { content: string }[])[1]?.content === QUESTION,
    );
    expect(add1).toHaveLength(10);
    // 2 wrong answers × 4 corrections = 8 pairs, then the partial answer under its own and one more.
    const partial = add1.filter((line) => text(line.rejected) === "42").map((line) => text(line.chosen));
    expect(partial.sort()).toEqual(["42 is the sum. Answer: 42", "Adding gives 42. Answer: 42"]);
  });

  it("answers the same request through the CLI, checked against the manifest", async () => {
    const out = join(dir, "pairs.jsonl");
    const printed: string[] = [];
    const code = await exportCommand(
      ["--format", "trl-dpo", "--pairing", "same_task", "-o", out, "--api-url", server.url, "--token", TOKEN],
      { print: (line) => printed.push(line), pollIntervalMs: 100 },
    );
    expect(code).toBe(0);
    const lines = (await readFile(out, "utf8")).trim().split("\n");
    expect(lines.length).toBeGreaterThanOrEqual(6);
    expect(printed.some((line) => /sha256 [0-9a-f]{64} verified/.test(line))).toBe(true);
  });
});

describe("the distillation exporter's --dry-run", () => {
  it("counts and gives reasons, and writes no file", async () => {
    const job = await exportJob({ format: "trl-dpo", options: { pairing: "same_task", dry_run: true } });
    expect(job.status).toBe("succeeded");
    expect(job.manifest.dry_run).toBe(true);
    expect(keysOf(job.manifest.counts)).toEqual(
      expect.arrayContaining(["considered", "exported", "lines", "quarantined", "by_reason"]),
    );
    expect(job.manifest.counts.lines).toBeGreaterThan(0);
    expect(job.download ?? null).toBeNull();
    const listed = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: `exports/${job.id}/` }),
    );
    expect(listed.Contents ?? []).toEqual([]);
  });
});

describe("the distillation exporter's RAG records still in review", () => {
  it("takes a record in review that came with a correction, never a discarded or flagged one", async () => {
    const job = await exportJob({ format: "rag", options: { include_in_review: true } });
    const lines = await linesAt(job.download.url);
    for (const line of lines) {
      expect(keysOf(line)).toEqual(["id", "metadata", "text"]);
      expect(keysOf(line.metadata)).toEqual(
        expect.arrayContaining([
          "candidate_id",
          "captured_at",
          "failure_category",
          "model",
          "question",
          "run_id",
          "source",
          "task_type",
        ]),
      );
    }
    const byCandidate = new Map(
      lines.map((line) => [(line.metadata as { candidate_id: string }).candidate_id, line]),
    );
    expect(byCandidate.get(id(7))?.text).toBe("Answer: 4");
    const inReview = byCandidate.get(id(7))?.metadata as { review_status?: string } | undefined;
    expect(inReview?.review_status).toBe("needs_review");
    expect(byCandidate.has(id(4))).toBe(false);
    expect(byCandidate.has(id(8))).toBe(false);
    // Without the opt-in, only what was approved.
    const plain = await exportJob({ format: "rag" });
    const approvedOnly = await linesAt(plain.download.url);
    expect(
      approvedOnly.map((line) => (line.metadata as { candidate_id: string }).candidate_id),
    ).not.toContain(id(7));
  });
});

describe("the distillation exporter's export-all", () => {
  it("writes every format from one job, each with its old line fields", async () => {
    const job = await exportJob({ format: "trl-dpo", formats: ["trl-dpo", "trl-kto", "rag"] });
    expect(job.status).toBe("succeeded");
    expect(job.manifest.formats.map((part: { format: string }) => part.format)).toEqual([
      "trl-dpo",
      "trl-kto",
      "rag",
    ]);
    for (const line of await linesAt(job.download.url)) {
      expect(keysOf(line)).toEqual(["chosen", "id", "prompt", "rejected"]);
    }
    const kto = await linesAt(job.format_downloads["trl-kto"].download.url);
    for (const line of kto) expect(keysOf(line)).toEqual(["completion", "id", "label", "prompt"]);
    const rag = await linesAt(job.format_downloads.rag.download.url);
    for (const line of rag) expect(keysOf(line)).toEqual(["id", "metadata", "text"]);
  });
});

describe("the distillation exporter's other formats keep their shapes", () => {
  it.each([
    ["trl-kto", ["completion", "id", "label", "prompt"]],
    ["trl-sft", ["id", "messages"]],
    ["openai-sft", ["messages"]],
  ])("%s lines carry exactly %j", async (format, fields) => {
    const job = await exportJob({ format });
    const lines = await linesAt(job.download.url);
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(keysOf(line)).toEqual(fields);
  });
});

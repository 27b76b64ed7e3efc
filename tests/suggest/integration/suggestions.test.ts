import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { commandIo } from "../../../cli/output.ts";
import { suggestionsCommand } from "../../../cli/suggestions.ts";
import { SUGGESTION_PROMPT_VERSION } from "../../../lib/suggest/domain/prompt.ts";
import { type HttpApiServer, startHttpApi } from "../../../local/http-api.ts";
import { deliverBatch, provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import {
  type FakeJudgeServer,
  isSuggestionRequest,
  startFakeJudgeServer,
} from "../../support/fake-judge-server.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import {
  candidateLines,
  recount,
  reviewStateCountersStored,
  uploadRun,
} from "../../support/review-fixtures.ts";

/** Suggestion jobs through the real API and suggestion handlers, against the emulators and a fake LLM server. */

const TOKEN = "suggest-test-token";
const KEY = "sk-test-suggest-key";
const TIMEOUT_MS = 400;

let aws: TestAws;
let server: FakeJudgeServer;
let api: ApiHandler;
let suggest: SqsBatchHandler;

const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, lambdaContext("api"), method, path, { token: TOKEN, ...request });

/** A run of `count` waiting candidates of its own, imported through the API; their ids. */
async function newRun(count: number): Promise<{ runId: string; ids: string[] }> {
  const runId = `2026-05-01-${randomUUID().slice(0, 8)}`;
  await uploadRun(aws, runId, candidateLines(runId, count));
  expect((await call("POST", "/api/sft/import", { body: { run_id: runId } })).status).toBe(200);
  return { runId, ids: Array.from({ length: count }, (_, i) => `${runId}-${String(i).padStart(5, "0")}`) };
}

/** Receives the suggestion queue's messages and hands them to the real handler until the job is done. */
async function drain(jobId: string) {
  for (let round = 0; round < 30; round++) {
    await deliverBatch(aws, aws.resources.queues.suggestions, suggest, "suggest");
    const job = await call("GET", `/api/sft/suggestions/${jobId}`);
    if (job.body.state === "done") return job.body;
  }
  throw new Error(`suggestion job ${jobId} did not finish`);
}

async function startJob(body: Record<string, unknown>) {
  const started = await call("POST", "/api/sft/suggestions", { body });
  expect(started.status).toBe(202);
  return started.body;
}

const candidate = async (id: string) =>
  (await call("GET", `/api/sft/candidates/${encodeURIComponent(id)}`)).body;

beforeAll(async () => {
  [aws, server] = await Promise.all([
    provisionTestAws("suggest"),
    startFakeJudgeServer({ apiKey: KEY, slowMs: 3_000 }),
  ]);
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("SUGGEST_QUEUE_URL", aws.resources.queues.suggestions.url);
  vi.stubEnv("JUDGE_OPENAI_BASE_URL", server.baseUrl);
  vi.stubEnv("JUDGE_OPENAI_API_KEY", KEY);
  vi.stubEnv("JUDGE_TIMEOUT_MS", String(TIMEOUT_MS));
  ({ handler: api } = await import("../../../functions/api.ts"));
  ({ handler: suggest } = await import("../../../functions/suggest.ts"));
}, 60_000);

afterAll(async () => {
  await server?.close();
});

describe("a suggestion job against an OpenAI-compatible server", () => {
  it("stores a suggestion beside each selected candidate, shown in the queue, next and the detail", async () => {
    const { runId, ids } = await newRun(4);
    const before = server.requests.length;

    const started = await startJob({ run_id: runId, limit: 3, suggest_model: "good" });
    expect(started).toMatchObject({
      state: "running",
      filters: { run_id: runId },
      model: "good",
      backend: "openai",
      prompt_version: SUGGESTION_PROMPT_VERSION,
      total: 3,
      pending: 3,
      suggested: 0,
    });
    const job = await drain(started.id);

    expect(job).toMatchObject({ state: "done", total: 3, suggested: 3, failed: 0, skipped: 0, pending: 0 });
    expect(job.completed_at).toEqual(expect.any(String));
    const asked = server.requests.slice(before);
    expect(asked).toHaveLength(3);
    expect(asked.every((r) => isSuggestionRequest(r) && r.authorization === `Bearer ${KEY}`)).toBe(true);
    // The oldest three of the run, each with the fake's answer: its numbers doubled.
    for (const [i, id] of ids.slice(0, 3).entries()) {
      expect((await candidate(id)).candidate).toMatchObject({
        status: "needs_review",
        version: 1,
        suggestion: {
          id: started.id,
          text: `wrong answer ${i * 2}`,
          model: "good",
          backend: "openai",
          prompt_version: SUGGESTION_PROMPT_VERSION,
          suggested_at: expect.any(String),
        },
      });
    }
    expect((await candidate(ids[3] as string)).candidate.suggestion).toBeUndefined();
    const queue = await call("GET", "/api/sft/queue", { query: { run_id: runId } });
    expect(queue.body.items[0]).toMatchObject({ id: ids[0], suggestion: { text: "wrong answer 0" } });
    const next = await call("POST", "/api/sft/next", { body: { run_id: runId } });
    expect(next.body.candidate).toMatchObject({ id: ids[0], suggestion: { text: "wrong answer 0" } });
    await call("POST", "/api/sft/release", { body: { id: ids[0] } });

    // A second job passes over what already holds this model's suggestion of this prompt version.
    const again = await startJob({ run_id: runId, suggest_model: "good" });
    expect(again).toMatchObject({ total: 1, passed_over: 3 });
    expect(await drain(again.id)).toMatchObject({ suggested: 1 });
  });

  it("records accepted, edited and written corrections in provenance and history, and the stats' acceptance rate", async () => {
    const { runId, ids } = await newRun(3);
    const job = await drain((await startJob({ run_id: runId, suggest_model: "good" })).id);
    expect(job.suggested).toBe(3);
    const statsBefore = (await call("GET", "/api/sft/stats")).body.suggestions;
    const [accepted, edited, written] = ids as [string, string, string];

    const submit = (body: Record<string, unknown>) => call("POST", "/api/sft/submit", { body });
    expect(
      (
        await submit({
          id: accepted,
          action: "correct",
          corrected_response: "wrong answer 0",
          suggestion_id: job.id,
        })
      ).status,
    ).toBe(200);
    expect(
      (
        await submit({
          id: edited,
          action: "correct",
          corrected_response: "right answer 1",
          suggestion_id: job.id,
        })
      ).status,
    ).toBe(200);
    expect(
      (await submit({ id: written, action: "correct", corrected_response: "wrong answer 4" })).status,
    ).toBe(200);

    const detail = await candidate(accepted);
    expect(detail.candidate).toMatchObject({
      status: "approved",
      corrected_response: "wrong answer 0",
      provenance: {
        approved: true,
        correction_origin: "accepted",
        suggestion_id: job.id,
        suggestion_model: "good",
        suggestion_prompt_version: SUGGESTION_PROMPT_VERSION,
      },
    });
    expect(detail.history.at(-1)).toMatchObject({ action: "correct", correction_origin: "accepted" });
    expect((await candidate(edited)).candidate.provenance).toMatchObject({ correction_origin: "edited" });
    const writtenDetail = await candidate(written);
    expect(writtenDetail.candidate.provenance.correction_origin).toBe("written");
    expect(writtenDetail.candidate.provenance.suggestion_id).toBeUndefined();

    const stats = (await call("GET", "/api/sft/stats")).body.suggestions;
    expect(stats.accepted - statsBefore.accepted).toBe(1);
    expect(stats.edited - statsBefore.edited).toBe(1);
    expect(stats.written - statsBefore.written).toBe(1);
    expect(stats.acceptance_rate).toBe(
      Math.round((stats.accepted / (stats.accepted + stats.edited)) * 10_000) / 10_000,
    );

    // Undo takes the origin away with the approval; the suggestion stays for the next reviewer.
    expect((await call("POST", "/api/sft/undo", { body: { id: accepted } })).status).toBe(200);
    const undone = (await candidate(accepted)).candidate;
    expect(undone.provenance.correction_origin).toBeUndefined();
    expect(undone.suggestion.text).toBe("wrong answer 0");
    expect((await call("GET", "/api/sft/stats")).body.suggestions.accepted).toBe(stats.accepted - 1);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  });

  it("never writes to a candidate decided after the job selected it: it is skipped and counted", async () => {
    const { runId, ids } = await newRun(2);
    const started = await startJob({ run_id: runId, suggest_model: "good" });
    expect((await call("POST", "/api/sft/submit", { body: { id: ids[0], action: "discard" } })).status).toBe(
      200,
    );

    const job = await drain(started.id);

    expect(job).toMatchObject({ total: 2, suggested: 1, skipped: 1, skipped_by_reason: { decided: 1 } });
    const decided = (await candidate(ids[0] as string)).candidate;
    expect(decided.status).toBe("discarded");
    expect(decided.suggestion).toBeUndefined();
  });

  it("counts malformed answers (after one retry) and timeouts as failures, by reason", async () => {
    const { runId: garbageRun, ids } = await newRun(2);
    const before = server.requests.length;
    const garbage = await drain((await startJob({ run_id: garbageRun, suggest_model: "garbage" })).id);
    expect(garbage).toMatchObject({ total: 2, suggested: 0, failed: 2, failed_by_reason: { malformed: 2 } });
    // One retry each, with the problem named.
    const asked = server.requests.slice(before);
    expect(asked).toHaveLength(4);
    expect(asked.filter((r) => r.messages.at(-1)?.content.includes("That reply is not valid"))).toHaveLength(
      2,
    );
    expect((await candidate(ids[0] as string)).candidate.suggestion).toBeUndefined();

    const { runId: flakyRun } = await newRun(1);
    expect(await drain((await startJob({ run_id: flakyRun, suggest_model: "flaky" })).id)).toMatchObject({
      suggested: 1,
      failed: 0,
    });

    const { runId: slowRun } = await newRun(1);
    const slow = await drain((await startJob({ run_id: slowRun, suggest_model: "slow" })).id);
    expect(slow).toMatchObject({ suggested: 0, failed: 1, failed_by_reason: { timeout: 1 } });
  });

  it("tries a 429 again after a pause; a model that stays busy is retried by the queue and counted as busy on the last delivery", async () => {
    const { runId: onceRun } = await newRun(1);
    const before = server.requests.length;
    expect(await drain((await startJob({ run_id: onceRun, suggest_model: "busy-once" })).id)).toMatchObject({
      suggested: 1,
    });
    expect(server.requests.length - before).toBe(2);

    const { runId, ids } = await newRun(1);
    const started = await startJob({ run_id: runId, suggest_model: "busy" });
    // Take the job's message off the queue and deliver it by hand, as Lambda would.
    const body = JSON.stringify({ job_id: started.id, candidate_id: ids[0] });
    const deliver = async (count: number) => {
      const record = sqsRecord(body, {
        attributes: { ...sqsRecord("").attributes, ApproximateReceiveCount: String(count) },
      });
      try {
        return (await suggest(sqsEvent(record), lambdaContext("suggest"))).batchItemFailures.length;
      } catch (error) {
        // A batch whose every record failed is thrown whole, as Lambda's event source expects.
        if ((error as Error).message.startsWith("All records failed processing")) return 1;
        throw error;
      }
    };
    expect(await deliver(1)).toBe(1);
    expect((await call("GET", `/api/sft/suggestions/${started.id}`)).body).toMatchObject({
      state: "running",
      failed: 0,
    });
    expect(await deliver(3)).toBe(1);
    const job = (await call("GET", `/api/sft/suggestions/${started.id}`)).body;
    expect(job).toMatchObject({ state: "done", failed: 1, failed_by_reason: { busy: 1 } });
    expect(job.completed_at).toEqual(expect.any(String));

    // The queued copy, delivered late, changes nothing.
    const requests = server.requests.length;
    await drain(started.id);
    expect(await deliver(1)).toBe(0);
    expect((await call("GET", `/api/sft/suggestions/${started.id}`)).body).toMatchObject({
      failed: 1,
      suggested: 0,
    });
    expect(server.requests.length).toBe(requests);
  });

  it("a redelivered message changes nothing", async () => {
    const { runId, ids } = await newRun(1);
    const started = await startJob({ run_id: runId, suggest_model: "good" });
    const job = await drain(started.id);
    const stored = (await candidate(ids[0] as string)).candidate.suggestion;
    const requests = server.requests.length;

    const record = sqsRecord(JSON.stringify({ job_id: started.id, candidate_id: ids[0] }));
    expect((await suggest(sqsEvent(record), lambdaContext("suggest"))).batchItemFailures).toEqual([]);

    expect(server.requests.length).toBe(requests);
    expect((await call("GET", `/api/sft/suggestions/${started.id}`)).body).toEqual(job);
    expect((await candidate(ids[0] as string)).candidate.suggestion).toEqual(stored);
  });

  it("answers 422 for a bad request and 404 for an unknown job", async () => {
    expect((await call("POST", "/api/sft/suggestions", { body: { limit: 0 } })).status).toBe(422);
    expect((await call("POST", "/api/sft/suggestions", { body: { backend: "gpt" } })).status).toBe(422);
    expect((await call("GET", "/api/sft/suggestions/nope")).status).toBe(404);
  });
});

describe("flywheel suggestions, through the API over HTTP", () => {
  let http: HttpApiServer;
  const target = () => ["--api-url", http.url, "--token", TOKEN];

  beforeAll(async () => {
    http = await startHttpApi({ port: 0, handler: api, region: "us-east-1" });
  });
  afterAll(async () => {
    await http?.stop();
  });

  /** Hands the queue's messages to the real handler until `done` settles. */
  async function pump(done: Promise<unknown>) {
    let settled = false;
    void done.finally(() => {
      settled = true;
    });
    while (!settled) {
      await deliverBatch(aws, aws.resources.queues.suggestions, suggest, "suggest");
    }
  }

  it("start --wait --json follows the job to done and prints it; show prints the same job", async () => {
    const { runId, ids } = await newRun(3);
    const printed: string[] = [];
    const progress: string[] = [];
    const command = suggestionsCommand(
      ["start", "--run", runId, "--limit", "2", "--suggest-model", "good", "--wait", ...target()],
      commandIo(true, (line) => printed.push(line)),
      {},
      { progress: (line) => progress.push(line), pollIntervalMs: 50 },
    );
    await pump(command);
    expect(await command).toBe(0);
    expect(printed).toHaveLength(1);
    const job = JSON.parse(printed[0] as string);
    expect(job).toMatchObject({
      state: "done",
      filters: { run_id: runId },
      limit: 2,
      model: "good",
      total: 2,
      pending: 0,
      suggested: 2,
      failed: 0,
    });
    expect(progress.at(-1)).toMatch(new RegExp(`^suggestion job ${job.id}: done, 2 of 2 counted`));
    expect((await candidate(ids[0] as string)).candidate.suggestion).toMatchObject({ id: job.id });

    const shown: string[] = [];
    expect(
      await suggestionsCommand(
        ["show", job.id, ...target()],
        commandIo(true, (line) => shown.push(line)),
      ),
    ).toBe(0);
    expect(JSON.parse(shown[0] as string)).toEqual(job);
  });
});

import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { counterUpdate, readCounters } from "../../../lib/common/adapters/counters.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { CANDIDATE_STATUSES } from "../../../lib/common/domain/candidate.ts";
import { validateProvenance } from "../../../lib/common/domain/provenance.ts";
import {
  type CountedCandidate,
  type CounterDelta,
  countersOf,
  deltaForChange,
  mergeDeltas,
  provenanceReport,
} from "../../../lib/common/domain/stats.ts";
import { correctionRecordId } from "../../../lib/ingest/domain/correction.ts";
import { samplePath } from "../../../samples/index.ts";
import { candidatesWithStatus, provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { uploadRun } from "../../support/review-fixtures.ts";
import { storedCandidate } from "../../support/steps.ts";

const TOKEN = "reviewer-token-for-provenance-tests";
const INGEST_TOKENS = { kiwi: `kiwi-${randomUUID()}`, peregrine: `peregrine-${randomUUID()}` };
const CLEAN_RUN = "2026-04-07-143022";
const DAMAGED_RUN = "2026-04-09-080000-damaged";
const CORRECTIONS = readFileSync(samplePath("corrections", "valid.jsonl"), "utf8")
  .split("\n")
  .filter(Boolean);

let aws: TestAws;
let api: ApiHandler;
let ingestQueue: SqsBatchHandler;
const context = lambdaContext("api");
const call = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(api, context, method, path, { token: TOKEN, ...request });

type Item = Record<string, unknown> & CountedCandidate & { id: string; version: number };

const stored = async (id: string) => (await storedCandidate(aws, id)) as Item;

/** Every candidate, read partition by partition from the status index (what a recount must read). */
async function allCandidates(): Promise<Item[]> {
  const byStatus = await Promise.all(CANDIDATE_STATUSES.map((status) => candidatesWithStatus(aws, status)));
  return byStatus.flat() as Item[];
}

const nonZero = (delta: CounterDelta) => Object.fromEntries(Object.entries(delta).filter(([, v]) => v !== 0));

/** The stored counters next to what a recount of every record gives. */
async function countersAndRecount() {
  const counters = nonZero(await readCounters(aws.clients.dynamodb, aws.resources.tableName));
  const recount = nonZero(mergeDeltas((await allCandidates()).map(countersOf)));
  return { counters, recount };
}

/**
 * Takes provenance (or some of its fields) away from a stored record, as a record written before
 * provenance existed would look, moving the counters with it so that they stay true.
 */
async function stripProvenance(id: string, fields?: string[]) {
  const before = await stored(id);
  const block = { ...(before.provenance as Record<string, unknown>) };
  for (const field of fields ?? []) delete block[field];
  const after = { ...before, provenance: fields ? block : undefined };
  const names: Record<string, string> = { "#prov": "provenance", "#version": "version" };
  const removes = fields
    ? fields.map((field, i) => {
        names[`#f${i}`] = field;
        return `#prov.#f${i}`;
      })
    : ["#prov"];
  await aws.clients.dynamodb.send(
    new TransactWriteCommand({
      TransactItems: [
        {
          Update: {
            TableName: aws.resources.tableName,
            Key: keys.candidate(id),
            UpdateExpression: `SET #version = :next REMOVE ${removes.join(", ")}`,
            ConditionExpression: "#version = :version",
            ExpressionAttributeNames: names,
            ExpressionAttributeValues: { ":version": before.version, ":next": before.version + 1 },
          },
        },
        { Update: counterUpdate(aws.resources.tableName, deltaForChange(before, after), 0) },
      ],
    }),
  );
}

/** Run → line → the id of the candidate imported from that line. */
const lineIds = new Map<string, Map<number, string>>();
const candidateId = (run: string, line: number) => {
  const id = lineIds.get(run)?.get(line);
  if (!id) throw new Error(`no candidate from line ${line} of ${run}`);
  return id;
};

beforeAll(async () => {
  aws = await provisionTestAws("provenance");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  vi.stubEnv("INGEST_TOKENS", JSON.stringify(INGEST_TOKENS));
  ({ handler: api } = await import("../../../functions/api.ts"));
  ({ handler: ingestQueue } = await import("../../../functions/ingest-corrections.ts"));

  for (const run of [CLEAN_RUN, DAMAGED_RUN]) {
    await uploadRun(aws, run, readFileSync(samplePath("runs", run, "sft_candidates.jsonl")));
    const imported = await call("POST", "/api/sft/import", { body: { run_id: run } });
    expect(imported.status).toBe(200);
  }
  for (const item of await allCandidates()) {
    const { source_run_id: run, line } = item.provenance as { source_run_id: string; line: number };
    if (!lineIds.has(run)) lineIds.set(run, new Map());
    lineIds.get(run)?.set(line, item.id);
  }
});

describe("every entry path stamps provenance", () => {
  it("an imported line names its run, object, ETag, line and model", async () => {
    const [first] = (await allCandidates()).filter(
      (item) => (item.provenance as { line?: number }).line === 1 && item.benchmark_run_id === CLEAN_RUN,
    );
    expect(first?.provenance).toEqual({
      source: "cf-orch-benchmark",
      channel: "s3-upload",
      model: "Qwen2.5-3B",
      captured_at: expect.any(String),
      source_run_id: CLEAN_RUN,
      bucket: aws.resources.bucket,
      key: `runs/${CLEAN_RUN}/sft_candidates.jsonl`,
      etag: expect.any(String),
      line: 1,
      import_id: expect.any(String),
    });
    expect(validateProvenance(first ?? {})).toEqual({ valid: true });
  });

  it("a correction names its message or request, its sender, and who approved it", async () => {
    const [queued, posted] = [CORRECTIONS[0], CORRECTIONS[1]] as [string, string];
    const record = sqsRecord(queued);
    expect((await ingestQueue(sqsEvent(record), lambdaContext("ingest"))).batchItemFailures).toEqual([]);
    const source = JSON.parse(posted).source as keyof typeof INGEST_TOKENS;
    const reply = await callApi(api, context, "POST", "/api/sft/ingest", {
      token: INGEST_TOKENS[source],
      body: posted,
    });
    expect(reply.status).toBeLessThan(300);
    for (const line of CORRECTIONS.slice(2)) {
      expect(
        (await ingestQueue(sqsEvent(sqsRecord(line)), lambdaContext("ingest"))).batchItemFailures,
      ).toEqual([]);
    }

    const fromQueue = await stored(
      correctionRecordId(JSON.parse(queued).source, JSON.parse(queued).idempotency_key, record.messageId),
    );
    expect(fromQueue.provenance).toMatchObject({
      channel: "sqs",
      source: "peregrine",
      model: "Qwen2.5-3B",
      message_id: record.messageId,
      principal: "sqs:AIDAEXAMPLE",
      approved: true,
      approved_by: "sqs:AIDAEXAMPLE",
    });
    const fromHttp = await stored(reply.body.id);
    expect(fromHttp.provenance).toMatchObject({
      channel: "http",
      source,
      request_id: expect.any(String),
      principal: `ingest-token:${source}`,
      approved_by: `ingest-token:${source}`,
    });
    for (const item of [fromQueue, fromHttp]) expect(validateProvenance(item)).toEqual({ valid: true });
  });

  it("an eval candidate names its session, the answer's index and its model", async () => {
    const session = {
      id: `s-${randomUUID()}`,
      profile_id: "support-bot",
      created_at: "2026-06-01T09:00:00Z",
      messages: [
        { role: "user", content: "Refund for order 8812?" },
        { role: "assistant", content: "I can't help with billing.", model: "support-llm-1" },
      ],
    };
    expect((await call("POST", "/api/eval/sessions", { body: session })).status).toBe(201);
    const created = await call("POST", `/api/eval/sessions/${session.id}/candidates`, {
      body: { message_index: 1 },
    });
    expect(created.status).toBe(201);
    const candidate = await stored(created.body.id);
    expect(candidate.provenance).toMatchObject({
      source: "eval",
      channel: "eval",
      model: "support-llm-1",
      source_session_id: session.id,
      message_index: 1,
    });
    expect(validateProvenance(candidate)).toEqual({ valid: true });
  });

  it("the report shows full coverage, and its counts equal a recount by source and model", async () => {
    const report = await call("GET", "/api/provenance/report");
    const items = await allCandidates();

    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ total: items.length, missing_provenance: 0, coverage: 100 });
    expect(report.body.approved).toBe(items.filter((item) => item.status === "approved").length);
    expect(report.body.by_source["cf-orch-benchmark"]).toMatchObject({ coverage: 100 });
    expect(Object.keys(report.body.by_model)).toEqual(
      expect.arrayContaining(["Qwen2.5-3B", "Phi-3.5-mini", "gemma-2-2b", "Llama-3.2-3B", "support-llm-1"]),
    );
    const recount = mergeDeltas(items.map(countersOf));
    expect(report.body).toEqual(provenanceReport(recount));
    const { counters } = await countersAndRecount();
    expect(counters).toEqual(nonZero(recount));
  });
});

describe("decisions and undo", () => {
  it("record review facts beside the origin; undo keeps the origin and resets the facts", async () => {
    const id = candidateId(CLEAN_RUN, 2);
    const origin = (await stored(id)).provenance;

    expect(
      (await call("POST", "/api/sft/submit", { body: { id, action: "correct", corrected_response: "42" } }))
        .status,
    ).toBe(200);
    expect((await stored(id)).provenance).toEqual({
      ...(origin as object),
      approved: true,
      approved_by: "local-reviewer",
      approved_at: expect.any(String),
      correction_origin: "written",
    });
    expect((await call("POST", "/api/sft/undo", { body: { id } })).status).toBe(200);
    expect((await stored(id)).provenance).toEqual(origin);

    const other = candidateId(CLEAN_RUN, 3);
    const otherOrigin = (await stored(other)).provenance as object;
    const discard = { id: other, action: "discard", failure_category: "hallucination" };
    expect((await call("POST", "/api/sft/submit", { body: discard })).status).toBe(200);
    expect((await stored(other)).provenance).toEqual({
      ...otherOrigin,
      approved: false,
      excluded: true,
      exclusion_reason: "discarded:hallucination",
      excluded_by: "local-reviewer",
      excluded_at: expect.any(String),
    });

    const report = await call("GET", "/api/provenance/report");
    expect(report.body).toMatchObject({ excluded: 1, coverage: 100 });
    const { counters, recount } = await countersAndRecount();
    expect(counters).toEqual(recount);
  });
});

describe("validate and backfill", () => {
  it("lists a record stripped of provenance; backfill restores it without touching any other", async () => {
    const stripped = candidateId(CLEAN_RUN, 5);
    const partial = candidateId(CLEAN_RUN, 6);
    await stripProvenance(stripped);
    const partialOrigin = (await stored(partial)).provenance as Record<string, unknown>;
    await stripProvenance(partial, ["model", "captured_at"]);

    const report = await call("GET", "/api/provenance/report");
    expect(report.body.missing_provenance).toBe(2);
    expect(report.body.coverage).toBeLessThan(100);

    const listed = await call("GET", "/api/provenance/validate", { query: { status: "needs_review" } });
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          id: stripped,
          run_id: CLEAN_RUN,
          missing: ["source", "channel", "model", "captured_at"],
          errors: expect.arrayContaining(["provenance: is missing"]),
        }),
        expect.objectContaining({ id: partial, missing: ["model", "captured_at"] }),
      ]),
    );
    expect(listed.body.items).toHaveLength(2);
    const paged: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await call("GET", "/api/provenance/validate", {
        query: { limit: "1", ...(cursor ? { cursor } : {}) },
      });
      paged.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.next_cursor ?? undefined;
    } while (cursor);
    expect(paged.sort()).toEqual([stripped, partial].sort());

    const before = new Map((await allCandidates()).map((item) => [item.id, item]));
    const body = { filter: { run_id: CLEAN_RUN }, source: "cf-orch-benchmark", model: "Qwen2.5-3B" };
    // A dry run says what the backfill would fill, field by field, and writes nothing.
    const preview = await call("POST", "/api/provenance/backfill", { body: { ...body, dry_run: true } });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({
      dry_run: true,
      matched: 30,
      changed: 0,
      would_change: 2,
      still_invalid: 0,
      next_cursor: null,
    });
    const planned = Object.fromEntries(
      (preview.body.changes as { id: string; fill: Record<string, unknown> }[]).map((c) => [c.id, c]),
    );
    expect(Object.keys(planned).sort()).toEqual([stripped, partial].sort());
    expect(planned[stripped]).toMatchObject({
      status: "needs_review",
      fill: {
        source: "cf-orch-benchmark",
        channel: "backfill",
        model: "Qwen2.5-3B",
        captured_at: expect.any(String),
      },
      still_missing: [],
    });
    expect(Object.keys(planned[partial]?.fill ?? {})).toEqual(["model", "captured_at"]);
    for (const item of await allCandidates()) expect(item).toEqual(before.get(item.id));
    expect((await call("GET", "/api/provenance/report")).body.missing_provenance).toBe(2);

    const filled = await call("POST", "/api/provenance/backfill", { body });
    expect(filled).toEqual({
      status: 200,
      body: { matched: 30, changed: 2, still_invalid: 0, conflicts: 0, next_cursor: null },
    });

    expect((await stored(stripped)).provenance).toEqual({
      source: "cf-orch-benchmark",
      channel: "backfill",
      model: "Qwen2.5-3B",
      captured_at: expect.any(String),
      backfilled: true,
      backfilled_at: expect.any(String),
      backfilled_by: "local-reviewer",
      backfilled_fields: ["source", "channel", "model", "captured_at", "backfilled_at"],
    });
    expect((await stored(partial)).provenance).toEqual({
      ...partialOrigin,
      model: "Qwen2.5-3B",
      captured_at: expect.any(String),
      backfilled: true,
      backfilled_at: expect.any(String),
      backfilled_by: "local-reviewer",
      backfilled_fields: ["model", "captured_at"],
    });
    for (const item of await allCandidates()) {
      if (item.id !== stripped && item.id !== partial) expect(item).toEqual(before.get(item.id));
    }

    const again = await call("POST", "/api/provenance/backfill", { body });
    expect(again.body).toMatchObject({ matched: 30, changed: 0 });
    const after = await call("GET", "/api/provenance/report");
    expect(after.body).toMatchObject({ missing_provenance: 0, coverage: 100 });
    expect((await call("GET", "/api/provenance/validate")).body.items).toEqual([]);
    const { counters, recount } = await countersAndRecount();
    expect(counters).toEqual(recount);
  });

  it("lets a record without provenance be decided, and backfill completes it", async () => {
    const id = candidateId(DAMAGED_RUN, 1);
    await stripProvenance(id);
    const approve = { id, action: "correct", corrected_response: "fixed" };
    expect((await call("POST", "/api/sft/submit", { body: approve })).status).toBe(200);
    expect((await stored(id)).provenance).toEqual({
      approved: true,
      approved_by: "local-reviewer",
      approved_at: expect.any(String),
      correction_origin: "written",
    });
    const listed = await call("GET", "/api/provenance/validate", { query: { status: "approved" } });
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([id]);

    const body = {
      filter: { status: "approved", run_id: DAMAGED_RUN },
      source: "cf-orch-benchmark",
      model: "m",
    };
    expect((await call("POST", "/api/provenance/backfill", { body })).body).toMatchObject({ changed: 1 });
    expect((await stored(id)).provenance).toMatchObject({
      channel: "backfill",
      approved_by: "local-reviewer",
    });
    expect((await call("GET", "/api/provenance/report")).body.coverage).toBe(100);
    const { counters, recount } = await countersAndRecount();
    expect(counters).toEqual(recount);
  });

  it("answers 401 without a reviewer token and 422 to a request that fails its schema", async () => {
    for (const [method, path] of [
      ["GET", "/api/provenance/report"],
      ["GET", "/api/provenance/validate"],
      ["POST", "/api/provenance/backfill"],
    ] as const) {
      expect(
        (await callApi(api, context, method, path, { body: method === "POST" ? {} : undefined })).status,
      ).toBe(401);
    }
    const noModel = await call("POST", "/api/provenance/backfill", { body: { source: "x" } });
    expect(noModel.status).toBe(422);
    expect(noModel.body.detail).toEqual([expect.objectContaining({ loc: ["body", "model"] })]);
    expect((await call("GET", "/api/provenance/validate", { query: { status: "done" } })).status).toBe(422);
    expect((await call("GET", "/api/provenance/validate", { query: { cursor: "nope" } })).status).toBe(422);
  });
});

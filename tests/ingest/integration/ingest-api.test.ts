import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_INGEST_BODY_BYTES } from "../../../lib/ingest/edge/ingest-routes.ts";
import { samplePath } from "../../../samples/index.ts";
import { freshIngestApi } from "../../support/api-module.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { type ApiHandler, callApi, type HttpRequest } from "../../support/http-events.ts";
import { storedCandidate, storedCounters } from "../../support/steps.ts";

const TOKENS = { kiwi: `kiwi-${randomUUID()}`, peregrine: `peregrine-${randomUUID()}` };
const PATH = "/api/sft/ingest";
const fixtureLines = (name: string) =>
  readFileSync(samplePath("corrections", name), "utf8").split("\n").filter(Boolean);
const INVALID = fixtureLines("invalid.jsonl");

let aws: TestAws;
let handler: ApiHandler;
const context = lambdaContext("api");

const ingest = (request: HttpRequest, api: ApiHandler = handler) =>
  callApi(api, context, "POST", PATH, request);

/** A kiwi correction with a key of its own, in Avocet's field set unless told otherwise. */
const kiwiCorrection = (overrides: Record<string, unknown> = {}) => ({
  source: "kiwi",
  task_type: "recipe_suggestion",
  prompt: "How long should I rest a 2 kg roast chicken?",
  response: "No resting needed.",
  correction: "Rest it loosely covered for 15 to 20 minutes.",
  label: null,
  ...overrides,
});

const stored = (id: string) => storedCandidate(aws, id);
const counters = () => storedCounters(aws);

const loadApi = (env: Record<string, string>) => freshIngestApi(aws.env, env);

beforeAll(async () => {
  aws = await provisionTestAws("ingest-api");
  handler = await loadApi({ INGEST_TOKENS: JSON.stringify(TOKENS) });
});

describe("POST /api/sft/ingest: authentication before the body", () => {
  it("answers 503 when no ingest token is configured, whatever is sent", async () => {
    const unconfigured = await loadApi({ INGEST_TOKENS: "" });
    for (const request of [{}, { token: TOKENS.kiwi, body: kiwiCorrection() }, { body: "not json" }]) {
      const reply = await ingest(request, unconfigured);
      expect(reply.status).toBe(503);
      expect(reply.body).toEqual({ detail: expect.any(String) });
    }
  });

  it.each([
    ["no header", {}],
    ["an empty header", { authorization: "" }],
    ["another scheme", { authorization: `Basic ${TOKENS.kiwi}` }],
    ["the scheme alone", { authorization: "Bearer" }],
    ["two tokens", { authorization: `Bearer ${TOKENS.kiwi} ${TOKENS.kiwi}` }],
  ])("answers 401 for %s, before looking at an invalid body", async (_, headers) => {
    const reply = await ingest({ headers, body: "not json" });
    expect(reply).toEqual({ status: 401, body: { detail: expect.any(String) } });
  });

  it("answers 403 for a wrong token, before looking at an invalid or oversized body", async () => {
    for (const body of ["not json", "x".repeat(MAX_INGEST_BODY_BYTES + 1)]) {
      const reply = await ingest({ token: `${TOKENS.kiwi}x`, body });
      expect(reply).toEqual({ status: 403, body: { detail: "Invalid ingest token" } });
    }
  });

  it.each(["Bearer", "bearer", "BEARER", "bEaReR"])("accepts the scheme written %s", async (scheme) => {
    const reply = await ingest({
      headers: { authorization: `${scheme} ${TOKENS.kiwi}` },
      body: kiwiCorrection(),
    });
    expect(reply.status).toBe(200);
  });
});

describe("POST /api/sft/ingest: the body", () => {
  it("answers 413 above the documented limit, and accepts a body just under it", async () => {
    const padding = (bytes: number) =>
      "x".repeat(bytes - JSON.stringify(kiwiCorrection({ metadata: { pad: "" } })).length);
    const over = JSON.stringify(kiwiCorrection({ metadata: { pad: padding(MAX_INGEST_BODY_BYTES + 1) } }));
    const under = JSON.stringify(kiwiCorrection({ metadata: { pad: padding(MAX_INGEST_BODY_BYTES) } }));
    expect(Buffer.byteLength(over)).toBe(MAX_INGEST_BODY_BYTES + 1);
    expect(Buffer.byteLength(under)).toBe(MAX_INGEST_BODY_BYTES);

    expect(await ingest({ token: TOKENS.kiwi, body: over })).toEqual({
      status: 413,
      body: { detail: expect.stringContaining(String(MAX_INGEST_BODY_BYTES)) },
    });
    expect((await ingest({ token: TOKENS.kiwi, body: under })).status).toBe(200);
  });

  it("answers 422 with a distinct type for every invalid fixture, and stores nothing", async () => {
    const before = await counters();
    const types: string[] = [];
    for (const line of INVALID) {
      const reply = await ingest({ token: TOKENS.kiwi, body: line });
      expect(reply.status, line).toBe(422);
      expect(reply.body.detail).toEqual(
        expect.arrayContaining([
          { loc: expect.arrayContaining(["body"]), msg: expect.any(String), type: expect.any(String) },
        ]),
      );
      types.push(reply.body.detail[0].type);
    }
    expect(types).toEqual([
      "blank_correction",
      "missing_prompt",
      "empty_source",
      "unknown_failure_category",
      "invalid_json",
      "invalid_field",
    ]);
    expect((await counters()).total).toBe(before.total);
  });

  it("answers 403 when a kiwi token ingests for peregrine, and stores nothing", async () => {
    const before = await counters();
    const reply = await ingest({
      token: TOKENS.kiwi,
      body: kiwiCorrection({ source: "peregrine", task_type: "email_classification" }),
    });
    expect(reply).toEqual({ status: 403, body: { detail: expect.stringContaining("own source") } });
    expect((await counters()).total).toBe(before.total);
  });

  it("stores Avocet's body as an approved record stamped with the http channel and the token's principal", async () => {
    const reply = await ingest({
      token: TOKENS.peregrine,
      body: {
        source: "peregrine",
        task_type: "email_classification",
        prompt: "Classify: offer letter",
        response: "rejection",
        correction: "offer",
        label: "offer",
      },
    });
    expect(reply).toEqual({
      status: 200,
      body: {
        ok: true,
        id: expect.stringMatching(/^ingest-[0-9a-f]{32}$/),
        // No model, and none configured for peregrine: stored, but no export will take it.
        warnings: [expect.stringMatching(/^provenance model: is required: send "model", or configure/)],
      },
    });
    expect(await stored(reply.body.id)).toMatchObject({
      status: "approved",
      prompt_messages: [{ role: "user", content: "Classify: offer letter" }],
      model_response: "rejection",
      corrected_response: "offer",
      label: "offer",
      task_type: "email_classification",
      provenance: {
        source: "peregrine",
        channel: "http",
        principal: "ingest-token:peregrine",
        request_id: expect.any(String),
        received_at: expect.any(String),
      },
    });
  });

  it("never loses a product's correction: undone, it stays in the record's history and draft", async () => {
    const api = await loadApi({ INGEST_TOKENS: JSON.stringify(TOKENS), REVIEWER_TOKEN: "reviewer" });
    const reply = await ingest(
      { token: TOKENS.kiwi, body: kiwiCorrection({ idempotency_key: "undo-me" }) },
      api,
    );
    const recordId = reply.body.id as string;

    const undone = await callApi(api, context, "POST", "/api/sft/undo", {
      token: "reviewer",
      body: { id: recordId },
    });
    expect(undone.status).toBe(200);

    const detail = await callApi(api, context, "GET", `/api/sft/candidates/${recordId}`, {
      token: "reviewer",
    });
    expect(detail.body.candidate).toMatchObject({
      status: "needs_review",
      draft_correction: kiwiCorrection().correction,
    });
    expect(detail.body.history).toEqual([
      expect.objectContaining({ action: "undo", replaced_correction: kiwiCorrection().correction }),
    ]);
  });

  it("returns the first id for a retry with the same Idempotency-Key header, and counts once", async () => {
    const before = await counters();
    const headers = { "Idempotency-Key": `retry-${randomUUID()}` };
    const first = await ingest({ token: TOKENS.kiwi, headers, body: kiwiCorrection() });
    const retry = await ingest({ token: TOKENS.kiwi, headers, body: kiwiCorrection() });
    const changed = await ingest({
      token: TOKENS.kiwi,
      headers,
      body: kiwiCorrection({ correction: "changed" }),
    });

    expect(first).toEqual({
      status: 200,
      body: { ok: true, id: expect.any(String), warnings: [expect.stringContaining("model")] },
    });
    expect(retry).toEqual(first);
    // The same key with another correction is a conflict, never silently the first record.
    expect(changed.status).toBe(409);
    expect(changed.body.detail).toContain(first.body.id);
    expect(await stored(first.body.id)).toMatchObject({
      corrected_response: "Rest it loosely covered for 15 to 20 minutes.",
    });
    const after = await counters();
    expect((after.total ?? 0) - (before.total ?? 0)).toBe(1);
    expect((after["status#approved"] ?? 0) - (before["status#approved"] ?? 0)).toBe(1);
    // Approved, but untraceable (no model): not counted as ready for an export that would refuse it.
    expect((after.export_ready ?? 0) - (before.export_ready ?? 0)).toBe(0);
    expect((after.prov_missing ?? 0) - (before.prov_missing ?? 0)).toBe(1);
  });

  it("fills a source's configured model into a body without one, says so, and counts it export-ready", async () => {
    const configured = await loadApi({
      INGEST_TOKENS: JSON.stringify(TOKENS),
      INGEST_SOURCE_DEFAULTS: JSON.stringify({ kiwi: { model: "Llama-3.2-3B" } }),
    });
    const before = await counters();
    const defaulted = await ingest({ token: TOKENS.kiwi, body: kiwiCorrection() }, configured);
    const named = await ingest(
      { token: TOKENS.kiwi, body: kiwiCorrection({ model: "Phi-3.5-mini", correction: "Rest 15 minutes." }) },
      configured,
    );

    expect(defaulted).toEqual({ status: 200, body: { ok: true, id: expect.any(String), warnings: [] } });
    expect(named.body.warnings).toEqual([]);
    expect((await stored(defaulted.body.id))?.provenance).toMatchObject({
      model: "Llama-3.2-3B",
      defaults_applied: ["model"],
    });
    // A model the product names wins over the default, and nothing says a default was applied.
    const namedProvenance = (await stored(named.body.id))?.provenance as Record<string, unknown>;
    expect(namedProvenance.model).toBe("Phi-3.5-mini");
    expect(namedProvenance).not.toHaveProperty("defaults_applied");
    const after = await counters();
    expect((after.export_ready ?? 0) - (before.export_ready ?? 0)).toBe(2);
    expect(
      (after["prov_valid#model#Llama-3.2-3B"] ?? 0) - (before["prov_valid#model#Llama-3.2-3B"] ?? 0),
    ).toBe(1);
  });

  it("refuses to start with source defaults that are not a map of source to model", async () => {
    await expect(loadApi({ INGEST_SOURCE_DEFAULTS: '{"kiwi":"Llama"}' })).rejects.toThrow(
      /INGEST_SOURCE_DEFAULTS/,
    );
  });

  it("treats the idempotency_key field like the header, and refuses the two disagreeing", async () => {
    const key = `field-${randomUUID()}`;
    const viaField = await ingest({ token: TOKENS.kiwi, body: kiwiCorrection({ idempotency_key: key }) });
    const viaHeader = await ingest({
      token: TOKENS.kiwi,
      headers: { "idempotency-key": key },
      body: kiwiCorrection(),
    });
    expect(viaHeader).toEqual(viaField);

    const disagreeing = await ingest({
      token: TOKENS.kiwi,
      headers: { "Idempotency-Key": "other" },
      body: kiwiCorrection({ idempotency_key: key }),
    });
    expect(disagreeing.status).toBe(422);
  });

  it("stores two requests without a key as two records", async () => {
    const first = await ingest({ token: TOKENS.kiwi, body: kiwiCorrection() });
    const second = await ingest({ token: TOKENS.kiwi, body: kiwiCorrection() });
    expect(first.body.id).not.toBe(second.body.id);
  });
});

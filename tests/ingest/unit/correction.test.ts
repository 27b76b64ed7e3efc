import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { validateProvenance } from "../../../lib/common/domain/provenance.ts";
import { deltaForNew } from "../../../lib/common/domain/stats.ts";
import {
  CORRECTION_SCHEMA_VERSION,
  CorrectionMessage,
  candidateFromCorrection,
  classifyCorrection,
  correctionFingerprint,
  correctionRecordId,
  earlierRecordId,
} from "../../../lib/ingest/domain/correction.ts";
import { samplePath } from "../../../samples/index.ts";

const fixtureLines = (name: string) =>
  readFileSync(samplePath("corrections", name), "utf8").split("\n").filter(Boolean);

const base = {
  source: "kiwi",
  task_type: "recipe_suggestion",
  prompt: "What replaces eggs?",
  response: "Baking soda.",
  correction: "Applesauce.",
};
const origin = {
  channel: "sqs" as const,
  deliveryId: "8f1e0c9a-0000-4000-8000-000000000001",
  principal: "sqs:AIDAEXAMPLE",
  receivedAt: "2026-05-01T10:00:00.000Z",
};

function parse(value: unknown) {
  const verdict = classifyCorrection(JSON.stringify(value));
  if (!verdict.ok) throw new Error(verdict.detail);
  return verdict.message;
}

describe("CorrectionMessage", () => {
  it.each(fixtureLines("valid.jsonl"))("accepts the valid fixture %s", (line) => {
    expect(classifyCorrection(line)).toMatchObject({ ok: true });
  });

  it("refuses every invalid fixture, each with a reason of its own", () => {
    const reasons = fixtureLines("invalid.jsonl").map((line) => {
      const verdict = classifyCorrection(line);
      if (verdict.ok) throw new Error(`accepted: ${line}`);
      return verdict.reason;
    });
    expect(reasons).toEqual([
      "blank_correction",
      "missing_prompt",
      "empty_source",
      "unknown_failure_category",
      "invalid_json",
      "invalid_field",
    ]);
    expect(new Set(reasons).size).toBe(reasons.length);
  });

  it.each([
    ["a number beyond 2^53 in metadata", '{"metadata": {"n": 1e16}}', "metadata.n"],
    ["1e300", '{"metadata": {"n": 1e300}}', "metadata.n"],
    ["40 levels of nesting", `{"metadata": {"deep": ${"[".repeat(40)}${"]".repeat(40)}}}`, "metadata.deep"],
    // Unknown fields are kept under `extra_fields`: 31 levels there would be 32 below the item.
    ["an unknown field nested 31 levels", `{"extra": ${"[".repeat(31)}${"]".repeat(31)}}`, "extra"],
    ["a map with a field named constructor", '{"metadata": {"constructor": {"name": "Map"}}}', "metadata"],
  ])("refuses what the store cannot hold: %s, naming where", (_, extra, where) => {
    const body = JSON.stringify(base).replace(/}$/, `, ${extra.slice(1, -1)}}`);
    const verdict = classifyCorrection(body);
    expect(verdict).toMatchObject({ ok: false, reason: "invalid_field" });
    expect((verdict as { detail: string }).detail).toContain(where);
  });

  it("keeps an unknown field nested 30 levels, which is 31 under extra_fields", () => {
    const body = JSON.stringify(base).replace(/}$/, `, "extra": ${"[".repeat(30)}${"]".repeat(30)}}`);
    expect(classifyCorrection(body)).toMatchObject({ ok: true });
  });

  it("defaults schema_version to 1 and refuses another version", () => {
    expect(parse(base).schema_version).toBe(CORRECTION_SCHEMA_VERSION);
    expect(classifyCorrection(JSON.stringify({ ...base, schema_version: 2 }))).toMatchObject({
      ok: false,
      reason: "unsupported_schema_version",
    });
  });

  it.each([
    ["both prompt forms", { prompt_messages: [{ role: "user", content: "x" }] }, "ambiguous_prompt"],
    ["a blank prompt", { prompt: "  " }, "missing_prompt"],
    ["an empty prompt_messages", { prompt: undefined, prompt_messages: [] }, "invalid_field"],
    ["a blank source", { source: " \t" }, "empty_source"],
    ["a missing response", { response: undefined }, "missing_field"],
    ["a missing correction", { correction: undefined }, "missing_field"],
    ["an occurred_at that is not ISO", { occurred_at: "yesterday" }, "invalid_field"],
    ["metadata that is not an object", { metadata: [1, 2] }, "invalid_field"],
  ])("refuses %s", (_, overrides, reason) => {
    expect(classifyCorrection(JSON.stringify({ ...base, ...overrides }))).toMatchObject({
      ok: false,
      reason,
    });
  });

  it.each([
    ["null", "null"],
    ["an array", "[]"],
    ["a string", '"text"'],
  ])("refuses %s as not an object", (_, body) => {
    expect(classifyCorrection(body)).toMatchObject({ ok: false, reason: "not_an_object" });
  });

  it("is the schema producers import: the same rules through safeParse", () => {
    expect(CorrectionMessage.safeParse({ ...base, correction: "   " }).success).toBe(false);
    expect(CorrectionMessage.safeParse(base).success).toBe(true);
  });
});

describe("correctionFingerprint", () => {
  it("is the same for the same content in any key order, whatever the idempotency key", () => {
    const message = parse(base);
    const reordered = parse(Object.fromEntries(Object.entries(base).reverse()));
    expect(correctionFingerprint(reordered)).toBe(correctionFingerprint(message));
    expect(correctionFingerprint({ ...message, idempotency_key: "another" })).toBe(
      correctionFingerprint(message),
    );
    expect(correctionFingerprint({ ...message, correction: "changed" })).not.toBe(
      correctionFingerprint(message),
    );
  });
});

describe("correctionRecordId", () => {
  it("is derived from source and idempotency key, whatever the delivery", () => {
    const a = correctionRecordId("kiwi", "fb-1", "message-1");
    expect(a).toMatch(/^ingest-[0-9a-f]{32}$/);
    expect(correctionRecordId("kiwi", "fb-1", "message-2")).toBe(a);
    expect(correctionRecordId("peregrine", "fb-1", "message-1")).not.toBe(a);
    expect(correctionRecordId("kiwi", "fb-2", "message-1")).not.toBe(a);
  });

  it("falls back to the delivery id without a key, and never collides with a key of that value", () => {
    const byDelivery = correctionRecordId("kiwi", null, "message-1");
    expect(correctionRecordId("kiwi", undefined, "message-1")).toBe(byDelivery);
    expect(correctionRecordId("kiwi", null, "message-2")).not.toBe(byDelivery);
    expect(correctionRecordId("kiwi", "message-1", "message-1")).not.toBe(byDelivery);
  });

  it("keeps two different (source, key) pairs apart even when a source holds a newline", () => {
    // Joined by newlines, both pairs read "a\nkey\nb\nkey\nc".
    const first = correctionRecordId("a", "b\nkey\nc", "m");
    const second = correctionRecordId("a\nkey\nb", "c", "m");
    expect(first).not.toBe(second);
    expect(second).toMatch(/^ingest-[0-9a-f]{32}$/);
    // Ids of sources without a newline are those stored before; only the others changed.
    expect(first).toBe(earlierRecordIdOf("a", "b\nkey\nc", "m"));
    expect(earlierRecordId("a", "b\nkey\nc", "m")).toBeNull();
    expect(earlierRecordId("a\nkey\nb", "c", "m")).toBe(first);
  });
});

/** The id as first computed: sha256 of the parts joined by newlines. */
function earlierRecordIdOf(source: string, key: string, _delivery: string) {
  return `ingest-${createHash("sha256").update(`${source}\nkey\n${key}`).digest("hex").slice(0, 32)}`;
}

describe("candidateFromCorrection", () => {
  it("makes an approved, export-ready record with its provenance", () => {
    const message = parse({
      ...base,
      label: "substitution",
      failure_category: "wrong_answer",
      model: "Llama-3.2-3B",
      idempotency_key: "fb-77120",
      occurred_at: "2026-04-30T08:00:00Z",
      metadata: { app_version: "4.2" },
    });
    const candidate = candidateFromCorrection(message, origin, "2026-05-01T10:00:05.000Z");

    expect(candidate).toEqual({
      id: correctionRecordId("kiwi", "fb-77120", origin.deliveryId),
      source: "kiwi",
      timestamp: "2026-04-30T08:00:00Z",
      status: "approved",
      task_type: "recipe_suggestion",
      prompt_messages: [{ role: "user", content: "What replaces eggs?" }],
      model_response: "Baking soda.",
      corrected_response: "Applesauce.",
      failure_category: "wrong_answer",
      label: "substitution",
      model_name: "Llama-3.2-3B",
      metadata: { app_version: "4.2" },
      correction_sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      version: 1,
      provenance: {
        source: "kiwi",
        channel: "sqs",
        model: "Llama-3.2-3B",
        captured_at: "2026-05-01T10:00:05.000Z",
        message_id: origin.deliveryId,
        principal: "sqs:AIDAEXAMPLE",
        received_at: origin.receivedAt,
        idempotency_key: "fb-77120",
        schema_version: 1,
        approved: true,
        approved_by: "sqs:AIDAEXAMPLE",
        approved_at: "2026-05-01T10:00:05.000Z",
      },
    });
    expect(validateProvenance(candidate)).toEqual({ valid: true });
    expect(deltaForNew(candidate)).toMatchObject({
      "status#approved": 1,
      export_ready: 1,
      "model#Llama-3.2-3B": 1,
      "prov_valid#source#kiwi": 1,
      prov_approved: 1,
    });
  });

  it("keeps prompt_messages as sent, a request id for http, and unknown fields aside", () => {
    const message = parse({
      ...base,
      prompt: undefined,
      prompt_messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Eggs?" },
      ],
      app_build: 812,
    });
    const candidate = candidateFromCorrection(
      message,
      { ...origin, channel: "http", deliveryId: "req-1", principal: "ingest-token:kiwi" },
      origin.receivedAt,
    );
    expect(candidate.prompt_messages).toHaveLength(2);
    expect(candidate.provenance).toMatchObject({ channel: "http", request_id: "req-1", model: null });
    expect(candidate.provenance).not.toHaveProperty("message_id");
    expect(candidate.extra_fields).toEqual({ app_build: 812 });
    expect(candidate).toMatchObject({
      failure_category: null,
      label: null,
      model_name: null,
      timestamp: null,
    });
  });
});

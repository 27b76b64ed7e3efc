import { describe, expect, it } from "vitest";
import { ProvenanceRecord, validateProvenance } from "../../lib/domain/provenance.ts";

const CAPTURED = "2026-05-01T10:00:00.000Z";

const blocks = {
  "s3-upload": {
    source: "cf-orch-benchmark",
    channel: "s3-upload",
    model: "Qwen2.5-3B",
    captured_at: CAPTURED,
    source_run_id: "2026-04-07-143022",
    bucket: "flywheel",
    key: "runs/2026-04-07-143022/sft_candidates.jsonl",
    etag: '"abc"',
    line: 3,
    import_id: "imp-1",
  },
  sqs: {
    source: "peregrine",
    channel: "sqs",
    model: "Qwen2.5-3B",
    captured_at: CAPTURED,
    message_id: "m-1",
    principal: "sqs:AIDA1",
    received_at: CAPTURED,
    idempotency_key: null,
    schema_version: 1,
  },
  http: {
    source: "kiwi",
    channel: "http",
    model: "Llama-3.2-3B",
    captured_at: CAPTURED,
    request_id: "req-1",
    principal: "ingest-token:kiwi",
  },
  eval: {
    source: "eval",
    channel: "eval",
    model: "gpt-x",
    captured_at: CAPTURED,
    source_session_id: "s-1",
    message_index: 0,
  },
  backfill: {
    source: "legacy",
    channel: "backfill",
    model: "Phi-3.5-mini",
    captured_at: CAPTURED,
    backfilled: true,
    backfilled_at: CAPTURED,
  },
} as const;

const without = (block: Record<string, unknown>, ...fields: string[]) =>
  Object.fromEntries(Object.entries(block).filter(([name]) => !fields.includes(name)));

describe("validateProvenance", () => {
  it.each(Object.entries(blocks))("accepts a complete %s block", (_, block) => {
    expect(validateProvenance({ provenance: block, status: "needs_review" })).toEqual({ valid: true });
    expect(ProvenanceRecord.safeParse(block).success).toBe(true);
  });

  it.each([
    ["s3-upload", ["source_run_id", "key", "line"]],
    ["sqs", ["message_id"]],
    ["http", ["request_id", "principal"]],
    ["eval", ["source_session_id", "message_index"]],
    ["backfill", ["backfilled_at"]],
  ] as const)("names each origin field a %s block misses", (channel, fields) => {
    for (const field of fields) {
      const verdict = validateProvenance({ provenance: without(blocks[channel], field) });
      expect(verdict).toEqual({ valid: false, missing: [field], errors: [`${field}: is required`] });
    }
    const verdict = validateProvenance({ provenance: without(blocks[channel], ...fields) });
    expect(verdict).toMatchObject({ valid: false, missing: [...fields] });
  });

  it("names the common fields, and treats null and blank as missing", () => {
    const verdict = validateProvenance({
      provenance: { ...without(blocks.http, "source", "captured_at"), model: null, principal: "  " },
    });
    expect(verdict).toEqual({
      valid: false,
      missing: ["source", "model", "captured_at", "principal"],
      errors: [
        "source: is required",
        "model: is required",
        "captured_at: is required",
        "principal: is required",
      ],
    });
  });

  it("reports an absent block as every common field missing", () => {
    expect(validateProvenance({})).toEqual({
      valid: false,
      missing: ["source", "channel", "model", "captured_at"],
      errors: [
        "provenance: is missing",
        "source: is required",
        "channel: is required",
        "model: is required",
        "captured_at: is required",
      ],
    });
    expect(validateProvenance({ provenance: "s3", status: "approved" })).toMatchObject({
      valid: false,
      missing: ["source", "channel", "model", "captured_at", "approved_by", "approved_at"],
      errors: expect.arrayContaining(["provenance: must be an object"]),
    });
  });

  it("requires who approved and when for an approved record only", () => {
    expect(validateProvenance({ provenance: blocks.eval, status: "approved" })).toEqual({
      valid: false,
      missing: ["approved_by", "approved_at"],
      errors: ["approved_by: is required", "approved_at: is required"],
    });
    const approved = { ...blocks.eval, approved: true, approved_by: "ana", approved_at: CAPTURED };
    expect(validateProvenance({ provenance: approved, status: "approved" })).toEqual({ valid: true });
    expect(
      validateProvenance({ provenance: { ...approved, approved: false }, status: "approved" }),
    ).toMatchObject({ valid: false, missing: [] });
    expect(validateProvenance({ provenance: blocks.eval, status: "discarded" })).toEqual({ valid: true });
  });

  it("reports present fields of the wrong type without calling them missing", () => {
    const verdict = validateProvenance({
      provenance: { ...blocks["s3-upload"], line: "3", captured_at: "yesterday" },
    });
    expect(verdict).toMatchObject({ valid: false, missing: [] });
    if (verdict.valid) return;
    expect(verdict.errors).toHaveLength(2);
    expect(verdict.errors.some((error) => error.startsWith("line: "))).toBe(true);
    expect(verdict.errors.some((error) => error.startsWith("captured_at: "))).toBe(true);
  });

  it("rejects an unknown channel and still names the common fields it misses", () => {
    const verdict = validateProvenance({
      provenance: { channel: "email", source: "x", captured_at: CAPTURED },
    });
    expect(verdict).toEqual({
      valid: false,
      missing: ["model"],
      errors: ["model: is required", "channel: must be one of s3-upload, sqs, http, eval, backfill"],
    });
  });

  it("keeps fields it does not know", () => {
    const parsed = ProvenanceRecord.parse({ ...blocks.sqs, extra: { a: 1 } });
    expect(parsed).toMatchObject({ extra: { a: 1 }, idempotency_key: null });
  });
});

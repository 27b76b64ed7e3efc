import { describe, expect, it } from "vitest";
import {
  ProvenanceRecord,
  planProvenanceFill,
  validateProvenance,
} from "../../../lib/common/domain/provenance.ts";
import { deltaForChange, provenanceCounters, provenanceReport } from "../../../lib/common/domain/stats.ts";

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

describe("planProvenanceFill", () => {
  const AT = new Date("2026-06-01T12:00:00.000Z");
  const context = { at: AT, by: "ana" };
  const defaults = { source: "legacy-rig", model: "Qwen2.5-3B" };

  it("gives a record without provenance a whole backfill block", () => {
    const plan = planProvenanceFill({ status: "needs_review" }, defaults, context);
    expect(plan).toEqual({
      fields: {
        source: "legacy-rig",
        channel: "backfill",
        model: "Qwen2.5-3B",
        captured_at: AT.toISOString(),
        backfilled_at: AT.toISOString(),
        backfilled: true,
        backfilled_by: "ana",
      },
      filled: ["source", "channel", "model", "captured_at", "backfilled_at"],
      createsBlock: true,
      provenance: expect.objectContaining({ channel: "backfill", backfilled: true }),
    });
    expect(validateProvenance({ provenance: plan?.provenance, status: "needs_review" })).toEqual({
      valid: true,
    });
  });

  it("never overwrites a field the record has, and keeps its channel", () => {
    const block = { ...blocks["s3-upload"], model: null, source: "  " };
    const plan = planProvenanceFill({ provenance: block, status: "needs_review" }, defaults, context);
    expect(plan?.fields).toEqual({
      source: "legacy-rig",
      model: "Qwen2.5-3B",
      backfilled: true,
      backfilled_at: AT.toISOString(),
      backfilled_by: "ana",
    });
    expect(plan?.createsBlock).toBe(false);
    expect(plan?.provenance).toMatchObject({
      channel: "s3-upload",
      captured_at: CAPTURED,
      key: blocks["s3-upload"].key,
      line: 3,
      backfilled_fields: ["source", "model"],
    });
    for (const [field, value] of Object.entries(block)) {
      if (value !== null && value !== "  ") expect(plan?.provenance[field]).toEqual(value);
    }
  });

  it("changes nothing on a complete record, and nothing the second time", () => {
    expect(planProvenanceFill({ provenance: blocks.http }, defaults, context)).toBeNull();
    const first = planProvenanceFill({ provenance: { channel: "eval" } }, defaults, context);
    expect(first).not.toBeNull();
    const later = { at: new Date("2027-01-01T00:00:00Z"), by: "bo" };
    expect(planProvenanceFill({ provenance: first?.provenance }, defaults, later)).toBeNull();
  });

  it("names who approved an approved record: its reviewer, else its sender, else the caller", () => {
    const reviewed = planProvenanceFill(
      { provenance: blocks.eval, status: "approved", reviewer: "cy", decided_at: "2026-05-02T08:00:00Z" },
      defaults,
      context,
    );
    expect(reviewed?.fields).toMatchObject({
      approved: true,
      approved_by: "cy",
      approved_at: "2026-05-02T08:00:00Z",
    });
    const ingested = planProvenanceFill({ provenance: blocks.http, status: "approved" }, defaults, context);
    expect(ingested?.fields).toMatchObject({ approved_by: "ingest-token:kiwi", approved_at: CAPTURED });
    const unknown = planProvenanceFill({ status: "approved" }, defaults, context);
    expect(unknown?.fields).toMatchObject({ approved_by: "ana", approved_at: AT.toISOString() });
    expect(validateProvenance({ provenance: unknown?.provenance, status: "approved" }).valid).toBe(true);
  });

  it("leaves an origin it cannot know missing", () => {
    const plan = planProvenanceFill({ provenance: without(blocks.sqs, "message_id") }, defaults, context);
    expect(plan).toBeNull();
  });
});

describe("provenance counters", () => {
  const valid = { status: "needs_review" as const, task_type: "t", provenance: blocks.eval };

  it("count a record as valid by source and model, or as missing", () => {
    expect(provenanceCounters(valid)).toEqual({ "prov_valid#source#eval": 1, "prov_valid#model#gpt-x": 1 });
    expect(provenanceCounters({ status: "needs_review" })).toEqual({
      prov_missing: 1,
      "prov_missing#source#unknown": 1,
      "prov_missing#model#unknown": 1,
    });
    const approved = { ...blocks.eval, approved: true, approved_by: "ana", approved_at: CAPTURED };
    expect(provenanceCounters({ status: "approved", provenance: approved })).toEqual({
      "prov_valid#source#eval": 1,
      "prov_valid#model#gpt-x": 1,
      prov_approved: 1,
    });
    expect(
      provenanceCounters({ status: "discarded", provenance: { ...blocks.eval, excluded: true } }),
    ).toMatchObject({ prov_excluded: 1 });
  });

  it("move from missing to valid when a backfill completes a record", () => {
    const before = { status: "needs_review" as const, task_type: "t", provenance: { model: null } };
    const plan = planProvenanceFill(before, { source: "s", model: "m" }, { at: new Date(), by: "ana" });
    expect(deltaForChange(before, { ...before, provenance: plan?.provenance })).toEqual({
      prov_missing: -1,
      "prov_missing#source#unknown": -1,
      "prov_missing#model#unknown": -1,
      "prov_valid#source#s": 1,
      "prov_valid#model#m": 1,
      "model#unknown": -1,
      "model#m": 1,
      "source#unknown": -1,
      "source#s": 1,
      "needs_review#model#unknown": -1,
      "needs_review#model#m": 1,
      "needs_review#source#unknown": -1,
      "needs_review#source#s": 1,
    });
  });

  it("make the report: totals, coverage, and rows by source and model", () => {
    const report = provenanceReport({
      total: 4,
      "prov_valid#source#kiwi": 3,
      "prov_valid#model#m1": 3,
      prov_missing: 1,
      "prov_missing#source#unknown": 1,
      "prov_missing#model#m1": 1,
      prov_approved: 2,
      prov_excluded: 1,
      "source#kiwi": 3,
    });
    expect(report).toEqual({
      total: 4,
      valid: 3,
      approved: 2,
      excluded: 1,
      missing_provenance: 1,
      coverage: 75,
      by_source: {
        kiwi: { total: 3, valid: 3, missing: 0, coverage: 100 },
        unknown: { total: 1, valid: 0, missing: 1, coverage: 0 },
      },
      by_model: { m1: { total: 4, valid: 3, missing: 1, coverage: 75 } },
    });
    expect(provenanceReport({}).coverage).toBe(100);
  });
});

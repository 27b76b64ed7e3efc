import { describe, expect, it } from "vitest";
import { classifyRunLine } from "../../../lib/import/domain/run-line.ts";
import { decodeS3EventKey, runIdFromKey } from "../../../lib/import/domain/run-upload.ts";
import { InvalidNotificationError, uploadedObjectsIn } from "../../../lib/import/edge/s3-notification.ts";
import { s3NotificationBody } from "../../support/events.ts";

describe("classifyRunLine", () => {
  it.each([
    ["   ", "blank_line"],
    ['{"id": "x"', "invalid_json"],
    ["[1, 2, 3]", "not_an_object"],
    ["null", "not_an_object"],
    ['"text"', "not_an_object"],
    ['{"model_response": "a"}', "missing_id"],
    ['{"id": null}', "missing_id"],
    ['{"id": ""}', "invalid_field"],
    ['{"id": 7}', "invalid_field"],
    ['{"id": "a", "quality_score": "high"}', "invalid_field"],
    ['{"id": "a", "quality_score": 1.5}', "invalid_field"],
    ['{"id": "a", "prompt_messages": "oops"}', "invalid_field"],
    ['{"id": "a", "prompt_messages": [{"role": "user"}]}', "invalid_field"],
    ['{"id": "a", "failure_category": "nonsense"}', "invalid_field"],
    ['{"id": "a", "timestamp": "yesterday"}', "invalid_field"],
  ])("refuses %s as %s", (text, reason) => {
    const verdict = classifyRunLine(text);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toBe(reason);
  });

  it("names the offending field", () => {
    const verdict = classifyRunLine('{"id": "a", "quality_score": "high"}');
    expect(!verdict.ok && verdict.detail).toContain("quality_score");
  });

  it("accepts a line with only an id, keeps unknown fields and nulls", () => {
    const verdict = classifyRunLine(
      '{"id": "a", "tags": ["x"], "gpu_id": 3, "corrected_response": null, "timestamp": "2026-04-07T14:30:22Z"}',
    );
    expect(verdict).toEqual({
      ok: true,
      line: { id: "a", tags: ["x"], gpu_id: 3, corrected_response: null, timestamp: "2026-04-07T14:30:22Z" },
    });
  });
});

describe("run upload keys", () => {
  it("takes the run id from runs/<run_id>/sft_candidates.jsonl only", () => {
    expect(runIdFromKey("runs/2026-04-07-143022/sft_candidates.jsonl")).toBe("2026-04-07-143022");
    expect(() => runIdFromKey("runs/a/b/sft_candidates.jsonl")).toThrow();
    expect(() => runIdFromKey("runs/../sft_candidates.jsonl")).toThrow();
    expect(() => runIdFromKey("runs/r1/other.jsonl")).toThrow();
    expect(() => runIdFromKey("exports/r1/sft_candidates.jsonl")).toThrow();
  });

  it("decodes notification keys, + standing for a space", () => {
    expect(decodeS3EventKey("runs/my+run%2B1/sft_candidates.jsonl")).toBe(
      "runs/my run+1/sft_candidates.jsonl",
    );
  });
});

describe("uploadedObjectsIn", () => {
  it("reads bucket, decoded key, eTag and sequencer from an S3 notification", () => {
    const body = s3NotificationBody("b", "runs/a b/sft_candidates.jsonl", { eTag: "e", sequencer: "0F" });
    expect(uploadedObjectsIn(body)).toEqual([
      { bucket: "b", key: "runs/a b/sft_candidates.jsonl", eTag: "e", sequencer: "0F" },
    ]);
  });

  it("ignores S3's test event and refuses anything that is not a notification", () => {
    expect(uploadedObjectsIn(JSON.stringify({ Service: "Amazon S3", Event: "s3:TestEvent" }))).toEqual([]);
    expect(() => uploadedObjectsIn("nope")).toThrow(InvalidNotificationError);
    expect(() => uploadedObjectsIn(JSON.stringify({ Records: [] }))).toThrow(InvalidNotificationError);
  });

  it("holds a record to the whole S3 event shape, as Powertools' schema of it does", () => {
    const notification = JSON.parse(s3NotificationBody("b", "runs/r/sft_candidates.jsonl"));
    delete notification.Records[0].awsRegion;
    expect(() => uploadedObjectsIn(JSON.stringify(notification))).toThrow(/awsRegion/);
  });
});

describe("labels that name counters", () => {
  it.each(["source", "task_type", "model_name", "model_id"])(
    "refuses a %s longer than 256 characters",
    (field) => {
      const verdict = classifyRunLine(JSON.stringify({ id: "a", [field]: "x".repeat(70_000) }));
      expect(!verdict.ok && verdict.reason).toBe("invalid_field");
      expect(!verdict.ok && verdict.detail).toContain(field);
    },
  );
});

import { describe, expect, it } from "vitest";
import { decodeS3EventKey } from "../../../lib/import/domain/run-upload.ts";
import {
  buildObjectCreatedEvent,
  createSequencer,
  encodeS3EventKey,
  isRunUploadKey,
} from "../../../local/s3-events.ts";

describe("encodeS3EventKey", () => {
  it("writes spaces as + and keeps the slashes", () => {
    expect(encodeS3EventKey("runs/my run/sft_candidates.jsonl")).toBe("runs/my+run/sft_candidates.jsonl");
  });

  it("percent-encodes reserved and non-ASCII characters, + included", () => {
    expect(encodeS3EventKey("a+b (1)&c=d?é#~'!.txt")).toBe("a%2Bb+%281%29%26c%3Dd%3F%C3%A9%23%7E%27%21.txt");
  });

  it("leaves unreserved characters alone", () => {
    expect(encodeS3EventKey("runs/2026-04-07_143022.v2*/x")).toBe("runs/2026-04-07_143022.v2*/x");
  });

  it.each(["runs/a b+c/sft_candidates.jsonl", "ünïcödé/日本語 file.txt", "100%/50% off"])(
    "round-trips %s through the decoding the import does",
    (key) => {
      expect(decodeS3EventKey(encodeS3EventKey(key))).toBe(key);
    },
  );
});

describe("isRunUploadKey", () => {
  it.each([
    ["runs/2026-04-07-143022/sft_candidates.jsonl", true],
    ["runs/with space/sft_candidates.jsonl", true],
    ["runs/2026-04-07-143022/other.jsonl", false],
    ["quarantine/2026-04-07-143022/sft_candidates.jsonl", false],
    ["runs/2026-04-07-143022/sft_candidates.jsonl.bak", false],
  ])("%s → %s", (key, expected) => {
    expect(isRunUploadKey(key)).toBe(expected);
  });
});

describe("createSequencer", () => {
  it("only grows, also within one millisecond and when the clock steps back", () => {
    const clock = [1000, 1000, 1000, 999, 2000];
    const next = createSequencer(() => clock.shift() ?? 2000);
    const values = Array.from({ length: 5 }, () => next());
    for (const value of values) expect(value).toMatch(/^[0-9A-F]{16}$/);
    const sorted = [...values].sort();
    expect(new Set(values).size).toBe(5);
    expect(values).toEqual(sorted);
  });
});

describe("buildObjectCreatedEvent", () => {
  const base = {
    bucket: "flywheel-local",
    key: "runs/my run/sft_candidates.jsonl",
    size: 1234,
    eTag: '"0123456789abcdef0123456789abcdef"',
    region: "us-east-1",
    sequencer: "0000018E3A5B1C2D",
    configurationId: "run-uploads",
    eventTime: new Date("2026-04-07T14:30:22.000Z"),
  };

  it("has the shape S3 delivers to SQS", () => {
    const event = buildObjectCreatedEvent(base);
    expect(event.Records).toHaveLength(1);
    expect(event.Records[0]).toEqual({
      eventVersion: "2.1",
      eventSource: "aws:s3",
      awsRegion: "us-east-1",
      eventTime: "2026-04-07T14:30:22.000Z",
      eventName: "ObjectCreated:Put",
      userIdentity: { principalId: expect.any(String) },
      requestParameters: { sourceIPAddress: "127.0.0.1" },
      responseElements: { "x-amz-request-id": expect.any(String), "x-amz-id-2": expect.any(String) },
      s3: {
        s3SchemaVersion: "1.0",
        configurationId: "run-uploads",
        bucket: {
          name: "flywheel-local",
          ownerIdentity: { principalId: expect.any(String) },
          arn: "arn:aws:s3:::flywheel-local",
        },
        object: {
          key: "runs/my+run/sft_candidates.jsonl",
          size: 1234,
          eTag: "0123456789abcdef0123456789abcdef",
          sequencer: "0000018E3A5B1C2D",
        },
      },
    });
  });

  it("names multipart uploads CompleteMultipartUpload", () => {
    const event = buildObjectCreatedEvent({ ...base, eTag: '"0123456789abcdef0123456789abcdef-3"' });
    expect(event.Records[0]?.eventName).toBe("ObjectCreated:CompleteMultipartUpload");
    expect(event.Records[0]?.s3.object.eTag).toBe("0123456789abcdef0123456789abcdef-3");
  });

  it("survives a JSON round trip unchanged (it travels as an SQS message body)", () => {
    const event = buildObjectCreatedEvent(base);
    expect(JSON.parse(JSON.stringify(event))).toEqual(event);
  });
});

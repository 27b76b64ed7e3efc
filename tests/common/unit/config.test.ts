import { describe, expect, it } from "vitest";
import { ConfigError, IngestApiConfig, IngestQueueConfig, loadConfig } from "../../../lib/common/config.ts";

const base = { TABLE_NAME: "t", BUCKET_NAME: "b" };

describe("configuration read once at start", () => {
  it("reads the queue senders' sources as JSON, and leaves them unset when absent or empty", () => {
    expect(
      loadConfig(IngestQueueConfig, { ...base, INGEST_QUEUE_SENDERS: '{"AROAROLE":["kiwi"]}' })
        .INGEST_QUEUE_SENDERS,
    ).toEqual({ AROAROLE: ["kiwi"] });
    expect(loadConfig(IngestQueueConfig, base).INGEST_QUEUE_SENDERS).toBeUndefined();
    expect(
      loadConfig(IngestQueueConfig, { ...base, INGEST_QUEUE_SENDERS: "" }).INGEST_QUEUE_SENDERS,
    ).toBeUndefined();
  });

  it.each([
    [IngestQueueConfig, { INGEST_QUEUE_SENDERS: "{not json" }, "sender id → list of sources"],
    [IngestQueueConfig, { INGEST_QUEUE_SENDERS: '{"AROAROLE":"kiwi"}' }, "INGEST_QUEUE_SENDERS"],
    [IngestApiConfig, { INGEST_TOKENS: "{not json" }, "source → token"],
    [IngestApiConfig, { INGEST_TOKENS: '{"kiwi":"short"}' }, "INGEST_TOKENS"],
  ])("fails fast, naming the problem, for %#", (schema, env, problem) => {
    expect(() => loadConfig(schema, { ...base, ...env })).toThrow(ConfigError);
    expect(() => loadConfig(schema, { ...base, ...env })).toThrow(problem);
  });
});

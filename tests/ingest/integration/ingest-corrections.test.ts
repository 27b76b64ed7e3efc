import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { INGEST_QUARANTINE_PREFIX } from "../../../lib/common/resources.ts";
import { correctionRecordId } from "../../../lib/ingest/domain/correction.ts";
import { samplePath } from "../../../samples/index.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext, type SqsBatchHandler, sqsEvent, sqsRecord } from "../../support/events.ts";
import { storedCandidate, storedCounters } from "../../support/steps.ts";

const fixtureLines = (name: string) =>
  readFileSync(samplePath("corrections", name), "utf8").split("\n").filter(Boolean);
const VALID = fixtureLines("valid.jsonl");
const INVALID = fixtureLines("invalid.jsonl");

let aws: TestAws;
let handler: SqsBatchHandler;

beforeAll(async () => {
  aws = await provisionTestAws("ingest");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  ({ handler } = await import("../../../functions/ingest-corrections.ts"));
});

/** A valid message with its own idempotency key, so each test writes records of its own. */
function uniqueMessage(overrides: Record<string, unknown> = {}) {
  return JSON.stringify({
    ...JSON.parse(VALID[0] as string),
    idempotency_key: `test-${randomUUID()}`,
    ...overrides,
  });
}

const recordIdOf = (body: string, messageId: string) => {
  const message = JSON.parse(body) as { source: string; idempotency_key?: string };
  return correctionRecordId(message.source, message.idempotency_key, messageId);
};

const getRecord = (id: string) => storedCandidate(aws, id);

const counters = () => storedCounters(aws);

async function quarantined(messageId: string) {
  const listed = await aws.clients.s3.send(
    new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: INGEST_QUARANTINE_PREFIX }),
  );
  const key = listed.Contents?.map((object) => object.Key).find((k) => k?.endsWith(`/${messageId}.json`));
  if (!key) return undefined;
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return { key, entry: JSON.parse((await object.Body?.transformToString()) ?? "") };
}

describe("ingest-corrections handler against the emulators", () => {
  it("stores every valid fixture as an approved record with its provenance", async () => {
    const records = VALID.map((body) => sqsRecord(body));
    const result = await handler(sqsEvent(...records), lambdaContext("ingest-corrections"));

    expect(result.batchItemFailures).toEqual([]);
    const first = records[0];
    if (!first) throw new Error("no fixture");
    const stored = await getRecord(recordIdOf(first.body, first.messageId));
    expect(stored).toMatchObject({
      status: "approved",
      source: "peregrine",
      task_type: "email_classification",
      prompt_messages: [{ role: "user", content: expect.stringContaining("Interview confirmation") }],
      model_response: "skip",
      corrected_response: "action_required",
      label: "action_required",
      model_name: "Qwen2.5-3B",
      failure_category: null,
      version: 1,
      provenance: {
        source: "peregrine",
        channel: "sqs",
        message_id: first.messageId,
        principal: "sqs:AIDAEXAMPLE",
        model: "Qwen2.5-3B",
        idempotency_key: "peregrine-msg-000184",
      },
    });
    const withMessages = records[2];
    if (!withMessages) throw new Error("no fixture");
    expect(await getRecord(recordIdOf(withMessages.body, withMessages.messageId))).toMatchObject({
      prompt_messages: [
        { role: "system", content: "Classify job-search email." },
        { role: "user", content: "Subject: Offer letter attached" },
      ],
      failure_category: "wrong_answer",
    });
  });

  it("quarantines a poison message alone and ingests its neighbours", async () => {
    const before = await counters();
    const before1 = sqsRecord(uniqueMessage());
    const after1 = sqsRecord(uniqueMessage({ source: "kiwi" }));
    const good = [before1, after1];
    const poison = sqsRecord("not json {");
    const result = await handler(sqsEvent(before1, poison, after1), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    for (const record of good)
      expect(await getRecord(recordIdOf(record.body, record.messageId))).toBeDefined();
    const entry = await quarantined(poison.messageId);
    expect(entry?.key).toMatch(
      new RegExp(`^${INGEST_QUARANTINE_PREFIX}\\d{4}-\\d{2}-\\d{2}/${poison.messageId}\\.json$`),
    );
    expect(entry?.entry).toMatchObject({
      message_id: poison.messageId,
      reason: "invalid_json",
      raw: "not json {",
    });
    const after = await counters();
    expect((after.total ?? 0) - (before.total ?? 0)).toBe(2);
  });

  it("quarantines every invalid fixture, each with its own reason", async () => {
    const records = INVALID.map((body) => sqsRecord(body));
    const result = await handler(sqsEvent(...records), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    const reasons: string[] = [];
    for (const record of records) {
      const found = await quarantined(record.messageId);
      expect(found, `line ${record.body}`).toBeDefined();
      expect(found?.entry.raw).toBe(record.body);
      reasons.push(found?.entry.reason);
    }
    expect(reasons).toEqual([
      "blank_correction",
      "missing_prompt",
      "empty_source",
      "unknown_failure_category",
      "invalid_json",
      "invalid_field",
    ]);
  });

  it("stores one record for a redelivered message and for two messages with the same key", async () => {
    const before = await counters();
    const body = uniqueMessage();
    const original = sqsRecord(body);
    const redelivered = sqsRecord(body, {
      messageId: original.messageId,
      attributes: { ...original.attributes, ApproximateReceiveCount: "2" },
    });
    const sameKey = sqsRecord(body);

    expect((await handler(sqsEvent(original), lambdaContext())).batchItemFailures).toEqual([]);
    expect((await handler(sqsEvent(redelivered, sameKey), lambdaContext())).batchItemFailures).toEqual([]);

    const id = recordIdOf(body, original.messageId);
    expect(recordIdOf(body, sameKey.messageId)).toBe(id);
    expect(await getRecord(id)).toMatchObject({ provenance: { message_id: original.messageId } });
    const after = await counters();
    expect((after.total ?? 0) - (before.total ?? 0)).toBe(1);
  });

  it("quarantines a message reusing a stored key with another correction, and changes nothing stored", async () => {
    const body = uniqueMessage();
    const first = sqsRecord(body);
    await handler(sqsEvent(first), lambdaContext());
    const id = recordIdOf(body, first.messageId);
    const before = await getRecord(id);
    const conflicting = sqsRecord(JSON.stringify({ ...JSON.parse(body), correction: "something else" }));

    expect((await handler(sqsEvent(conflicting), lambdaContext())).batchItemFailures).toEqual([]);

    const found = await quarantined(conflicting.messageId);
    expect(found?.entry.reason).toBe("idempotency_conflict");
    expect(found?.entry.detail).toContain(id);
    expect(await getRecord(id)).toEqual(before);
  });

  it("without an idempotency key, uses the message id: a redelivery is one record, a new message another", async () => {
    const { idempotency_key: _, ...message } = JSON.parse(uniqueMessage());
    const body = JSON.stringify(message);
    const first = sqsRecord(body);
    await handler(sqsEvent(first, sqsRecord(body, { messageId: first.messageId })), lambdaContext());
    const second = sqsRecord(body);
    await handler(sqsEvent(second), lambdaContext());

    const firstId = recordIdOf(body, first.messageId);
    const secondId = recordIdOf(body, second.messageId);
    expect(firstId).not.toBe(secondId);
    expect(await getRecord(firstId)).toBeDefined();
    expect(await getRecord(secondId)).toBeDefined();
  });

  it("counts a correction in stats at once: approved and export-ready", async () => {
    const before = await counters();
    await handler(
      sqsEvent(
        sqsRecord(uniqueMessage({ model: "stats-model" })),
        sqsRecord(uniqueMessage({ model: "stats-model" })),
      ),
      lambdaContext(),
    );
    const after = await counters();
    const moved = (name: string) => (after[name] ?? 0) - (before[name] ?? 0);
    expect(moved("status#approved")).toBe(2);
    expect(moved("export_ready")).toBe(2);
    expect(moved("model#stats-model")).toBe(2);
    expect(moved("status#needs_review")).toBe(0);
  });
});

import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { DynamoDBDocumentClient, TransactWriteCommand } from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CorrectionTable } from "../../../lib/ingest/adapters/correction-table.ts";
import { ingestQuarantineKey, S3IngestQuarantine } from "../../../lib/ingest/adapters/ingest-quarantine.ts";
import {
  SecretsManagerIngestTokens,
  staticIngestTokens,
} from "../../../lib/ingest/adapters/ingest-tokens.ts";
import { candidateFromCorrection, classifyCorrection } from "../../../lib/ingest/domain/correction.ts";
import { CorrectionUnstorableError } from "../../../lib/ingest/usecases/ingest-correction.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamoMock = mockClient(dynamodb);
const s3 = new S3Client({ region: "us-east-1" });
const s3Mock = mockClient(s3);
const secrets = new SecretsManagerClient({ region: "us-east-1" });
const secretsMock = mockClient(secrets);

beforeEach(() => {
  dynamoMock.reset();
  s3Mock.reset();
  secretsMock.reset();
});

function correction(overrides: Record<string, unknown> = {}) {
  const verdict = classifyCorrection(
    JSON.stringify({
      source: "kiwi",
      task_type: "recipe_suggestion",
      prompt: "Eggs?",
      response: "Baking soda.",
      correction: "Applesauce.",
      idempotency_key: "fb-1",
      model: "Phi-3.5-mini",
      ...overrides,
    }),
  );
  if (!verdict.ok) throw new Error(verdict.detail);
  return candidateFromCorrection(
    verdict.message,
    { channel: "sqs", deliveryId: "m-1", principal: "sqs:X", receivedAt: "2026-05-01T00:00:00.000Z" },
    "2026-05-01T00:00:01.000Z",
  );
}

const cancelled = (codes: string[]) =>
  new TransactionCanceledException({
    message: "cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

describe("CorrectionTable", () => {
  const bodies = { putCandidateBody: vi.fn(async (id: string) => `blobs/candidates/${id}.json`) };
  const table = new CorrectionTable(dynamodb, "tbl", bodies);

  it("puts the record conditionally with the counter update in one transaction", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});
    const record = correction();

    expect(await table.insertIfAbsent(record)).toBe("inserted");

    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = dynamoMock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(2);
    expect(items[0]?.Put).toMatchObject({
      TableName: "tbl",
      ConditionExpression: "attribute_not_exists(#pk)",
      Item: { pk: `CAND#${record.id}`, sk: "CAND", status: "approved", type: "candidate" },
    });
    expect(items[0]?.Put?.Item?.gsi1pk).toMatch(/^STATUS#approved#\d$/);
    expect(items[1]?.Update?.Key).toMatchObject({ pk: "STATS", sk: expect.stringMatching(/^SHARD#\d$/) });
    expect(Object.values(items[1]?.Update?.ExpressionAttributeNames ?? {})).toEqual(
      expect.arrayContaining([
        "total",
        "status#approved",
        "export_ready",
        "model#Phi-3.5-mini",
        "source#kiwi",
      ]),
    );
  });

  it("reads a failed condition as already stored, and counts nothing more", async () => {
    dynamoMock.on(TransactWriteCommand).rejects(cancelled(["ConditionalCheckFailed", "None"]));
    expect(await table.insertIfAbsent(correction())).toBe("already_stored");
    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
  });

  it("retries a transaction cancelled by a conflicting write on the counter shard", async () => {
    dynamoMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(["None", "TransactionConflict"]))
      .resolves({});
    expect(await table.insertIfAbsent(correction())).toBe("inserted");
    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
  });

  it("throws any other error, so the message is retried", async () => {
    dynamoMock
      .on(TransactWriteCommand)
      .rejects(Object.assign(new Error("Rate exceeded"), { name: "ThrottlingException" }));
    await expect(table.insertIfAbsent(correction())).rejects.toThrow("Rate exceeded");
  });

  it("moves a large prompt to the body store and reports a record that cannot fit at all", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});
    expect(await table.insertIfAbsent(correction({ prompt: "p".repeat(350_000) }))).toBe("inserted");
    expect(bodies.putCandidateBody).toHaveBeenCalledTimes(1);
    const item =
      dynamoMock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Put?.Item;
    expect(item).toMatchObject({ body_ref: { key: expect.stringMatching(/^blobs\//) } });
    expect(item).not.toHaveProperty("prompt_messages");

    expect(await table.insertIfAbsent(correction({ correction: "c".repeat(350_000) }))).toBe("too_large");
  });
});

describe("CorrectionTable: the records of one batch share a transaction", () => {
  const table = new CorrectionTable(dynamodb, "tbl", { putCandidateBody: async (id) => `blobs/${id}` });
  const putIds = (call: number) =>
    (dynamoMock.commandCalls(TransactWriteCommand)[call]?.args[0].input.TransactItems ?? [])
      .filter((item) => item.Put)
      .map((item) => item.Put?.Item?.id);

  it("writes records handed in together in one transaction with one counter update", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});
    const records = [1, 2, 3].map((n) => correction({ idempotency_key: `fb-${n}` }));

    const results = await Promise.all(records.map((record) => table.insertIfAbsent(record)));

    expect(results).toEqual(["inserted", "inserted", "inserted"]);
    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const items = dynamoMock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems ?? [];
    expect(items).toHaveLength(4);
    expect(items[3]?.Update?.ExpressionAttributeValues).toMatchObject({ ":c0": 3 });
  });

  it("writes a repeated id once and answers the repeat as already stored", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});
    const record = correction();

    const results = await Promise.all([table.insertIfAbsent(record), table.insertIfAbsent(record)]);

    expect(results).toEqual(["inserted", "already_stored"]);
    expect(putIds(0)).toEqual([record.id]);
  });

  it("tells apart the stored and the new in a shared transaction", async () => {
    const stored = correction({ idempotency_key: "old" });
    const fresh = correction({ idempotency_key: "new" });
    dynamoMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled(["ConditionalCheckFailed", "None", "None"]))
      .resolves({});

    expect(await Promise.all([table.insertIfAbsent(stored), table.insertIfAbsent(fresh)])).toEqual([
      "already_stored",
      "inserted",
    ]);
    expect(putIds(1)).toEqual([fresh.id]);
  });

  it("writes each record alone when a shared transaction fails, so only the culprit fails", async () => {
    const good = correction({ idempotency_key: "good" });
    const bad = correction({ idempotency_key: "bad" });
    dynamoMock
      .on(TransactWriteCommand)
      .callsFake((input: { TransactItems: { Put?: { Item: { id: string } } }[] }) => {
        if (input.TransactItems.some((item) => item.Put?.Item.id === bad.id)) {
          throw Object.assign(new Error("Item size has exceeded the maximum allowed size"), {
            name: "ValidationException",
          });
        }
        return {};
      });

    const [goodResult, badResult] = await Promise.allSettled([
      table.insertIfAbsent(good),
      table.insertIfAbsent(bad),
    ]);

    expect(goodResult).toEqual({ status: "fulfilled", value: "inserted" });
    expect(badResult).toMatchObject({ status: "rejected", reason: expect.any(CorrectionUnstorableError) });
    expect(String((badResult as PromiseRejectedResult).reason.message)).toContain("Item size has exceeded");
    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 3);
  });
});

describe("S3IngestQuarantine", () => {
  it("writes one JSON object per message under quarantine/ingest/<day>/<message id>.json", async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    const quarantine = new S3IngestQuarantine(s3, "bucket");
    const entry = {
      message_id: "6f1c2a0e-1111-4222-8333-444455556666",
      channel: "sqs" as const,
      reason: "invalid_json" as const,
      detail: "Unexpected token",
      received_at: "2026-05-01T23:59:59.000Z",
      quarantined_at: "2026-05-02T00:00:01.000Z",
      raw: "not json",
      raw_bytes: 8,
    };

    const key = await quarantine.put(entry);

    expect(key).toBe("quarantine/ingest/2026-05-01/6f1c2a0e-1111-4222-8333-444455556666.json");
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: "bucket",
      Key: key,
      ContentType: "application/json",
    });
    const body = s3Mock.commandCalls(PutObjectCommand)[0]?.args[0].input.Body as string;
    expect(JSON.parse(body)).toEqual(entry);
  });

  it("keeps a message id that is not key-safe inside its day folder", () => {
    expect(ingestQuarantineKey("../../etc/passwd", "2026-05-01T00:00:00Z")).toBe(
      "quarantine/ingest/2026-05-01/.._.._etc_passwd.json",
    );
  });
});

describe("ingest token sources", () => {
  const arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:flywheel-ingest-tokens-AbCdEf";
  const tokens = { kiwi: "k".repeat(32), peregrine: "p".repeat(32) };

  afterEach(() => {
    vi.useRealTimers();
  });

  it("returns the configured tokens as they are", async () => {
    expect(await staticIngestTokens(tokens).tokens()).toEqual(tokens);
    expect(await staticIngestTokens().tokens()).toEqual({});
  });

  it("reads the secret once per cache period, so a rotation is honoured without a deploy", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2026-05-01T00:00:00Z"));
    secretsMock
      .on(GetSecretValueCommand)
      .resolvesOnce({ SecretString: JSON.stringify(tokens) })
      .resolves({ SecretString: JSON.stringify({ ...tokens, kiwi: "rotated".repeat(4) }) });
    const source = new SecretsManagerIngestTokens(secrets, arn, 60);

    expect(await source.tokens()).toEqual(tokens);
    expect(await source.tokens()).toEqual(tokens);
    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 1);
    expect(secretsMock).toHaveReceivedCommandWith(GetSecretValueCommand, { SecretId: arn });

    vi.setSystemTime(new Date("2026-05-01T00:01:01Z"));
    expect((await source.tokens()).kiwi).toBe("rotated".repeat(4));
    expect(secretsMock).toHaveReceivedCommandTimes(GetSecretValueCommand, 2);
  });

  it("reads a missing secret as no tokens (503), and refuses a secret of the wrong shape", async () => {
    secretsMock
      .on(GetSecretValueCommand)
      .rejectsOnce(new ResourceNotFoundException({ message: "not found", $metadata: {} }))
      .resolves({ SecretString: JSON.stringify({ kiwi: "short" }) });
    expect(await new SecretsManagerIngestTokens(secrets, arn, 60).tokens()).toEqual({});
    await expect(new SecretsManagerIngestTokens(secrets, arn, 60).tokens()).rejects.toThrow(/source → token/);
  });

  it("lets a passing failure of Secrets Manager through", async () => {
    secretsMock.on(GetSecretValueCommand).rejects(new Error("socket hang up"));
    await expect(new SecretsManagerIngestTokens(secrets, arn, 60).tokens()).rejects.toThrow("socket hang up");
  });
});

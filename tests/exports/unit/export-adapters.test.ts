import { ConditionalCheckFailedException, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { keys, statusPartition } from "../../../lib/common/adapters/table-keys.ts";
import { NotFoundError } from "../../../lib/common/domain/errors.ts";
import { TABLE } from "../../../lib/common/resources.ts";
import { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { S3ExportObjects } from "../../../lib/exports/adapters/export-objects.ts";
import { SqsExportQueue } from "../../../lib/exports/adapters/export-queue.ts";
import { newExportJob } from "../../../lib/exports/domain/export-job.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamoMock = mockClient(dynamodb);
const credentials = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" };
const s3 = new S3Client({ region: "us-east-1", credentials });
const s3Mock = mockClient(s3);

beforeEach(() => {
  dynamoMock.reset();
  s3Mock.reset();
});

describe("S3ExportObjects.signedDownload", () => {
  // The presigner signs locally: no request is made, so a plain client (not the mock) will do.
  const objects = new S3ExportObjects(new S3Client({ region: "eu-west-1", credentials }), "data-bucket");

  it("signs a GET that expires after the asked seconds and names the file and its type", async () => {
    const url = new URL(
      await objects.signedDownload("exports/e-1/dataset.jsonl", {
        fileName: "sft_export_20260501-120000.jsonl",
        contentType: "application/x-ndjson",
        expiresInSeconds: 900,
      }),
    );
    expect(url.pathname).toBe("/exports/e-1/dataset.jsonl");
    expect(url.hostname).toBe("data-bucket.s3.eu-west-1.amazonaws.com");
    expect(url.searchParams.get("X-Amz-Expires")).toBe("900");
    expect(url.searchParams.get("X-Amz-Signature")).toMatch(/^[0-9a-f]{64}$/);
    expect(url.searchParams.get("response-content-type")).toBe("application/x-ndjson");
    expect(url.searchParams.get("response-content-disposition")).toBe(
      'attachment; filename="sft_export_20260501-120000.jsonl"',
    );
  });

  it("uses the expiry it is given, short or long", async () => {
    for (const seconds of [60, 3600]) {
      const url = new URL(
        await objects.signedDownload("exports/e/dataset.jsonl", {
          fileName: "f.jsonl",
          contentType: "application/x-ndjson",
          expiresInSeconds: seconds,
        }),
      );
      expect(url.searchParams.get("X-Amz-Expires")).toBe(String(seconds));
    }
  });
});

describe("S3ExportObjects writers", () => {
  const objects = new S3ExportObjects(s3, "data-bucket");

  it("write an empty object when nothing was written", async () => {
    s3Mock.on(PutObjectCommand).resolves({});
    await objects.openWriter("exports/e/quarantine.jsonl", "application/x-ndjson").close();
    expect(s3Mock).toHaveReceivedCommandWith(PutObjectCommand, {
      Bucket: "data-bucket",
      Key: "exports/e/quarantine.jsonl",
      Body: "",
      ContentLength: 0,
      ContentType: "application/x-ndjson",
    });
  });

  it("stream what is written into the object, and surface a failed upload", async () => {
    const bodies: string[] = [];
    s3Mock.on(PutObjectCommand).callsFake(async (input: { Body: Uint8Array | string }) => {
      bodies.push(Buffer.from(input.Body).toString());
      return {};
    });
    const writer = objects.openWriter("exports/e/dataset.jsonl", "application/x-ndjson");
    await writer.write('{"a":1}\n');
    await writer.write('{"a":2}\n');
    await writer.close();
    expect(bodies).toEqual(['{"a":1}\n{"a":2}\n']);

    s3Mock.reset();
    s3Mock.on(PutObjectCommand).rejects(new Error("AccessDenied"));
    const failing = objects.openWriter("exports/e/dataset.jsonl", "application/x-ndjson");
    await failing.write("x\n");
    await expect(failing.close()).rejects.toThrow("AccessDenied");
  });
});

describe("QueueTable.stream", () => {
  const views = new CandidateViews({
    getCandidateBody: async () => ({
      prompt_messages: [{ role: "user", content: "loaded" }],
      model_response: "b",
    }),
  });

  /** A status index of `partition → items`, answering queries a page (`Limit`) at a time. */
  function fakeIndex(partitions: Record<string, { id: string; at: string; body?: boolean }[]>) {
    const queries: QueryCommandInput[] = [];
    dynamoMock.on(QueryCommand).callsFake(async (input: QueryCommandInput) => {
      queries.push(input);
      const partition = input.ExpressionAttributeValues?.[":gpk"] as string;
      const from = input.ExpressionAttributeValues?.[":from"] as string | undefined;
      const to = input.ExpressionAttributeValues?.[":to"] as string | undefined;
      const items = (partitions[partition] ?? [])
        .map(({ id, at, body }) => ({
          ...keys.candidate(id),
          [TABLE.indexes.byStatus.partitionKey]: partition,
          [TABLE.indexes.byStatus.sortKey]: `${at}#${id}`,
          id,
          status: partition.split("#")[1],
          ...(body ? { body_ref: { key: `blobs/${id}.json` } } : {}),
        }))
        .filter((item) => {
          const key = String(item[TABLE.indexes.byStatus.sortKey]);
          return (!from || key >= from) && (!to || key < to);
        });
      const after = input.ExclusiveStartKey?.[TABLE.partitionKey];
      const start = after ? items.findIndex((item) => item[TABLE.partitionKey] === after) + 1 : 0;
      const page = items.slice(start, start + (input.Limit ?? 1_000));
      const more = start + page.length < items.length;
      return { Items: page, LastEvaluatedKey: more ? page.at(-1) : undefined };
    });
    return queries;
  }

  const collect = async (stream: AsyncIterable<readonly Record<string, unknown>[]>) => {
    const batches: Record<string, unknown>[][] = [];
    for await (const batch of stream) batches.push([...batch]);
    return batches;
  };

  it("merges every partition of every status into one list in time order, reading each page once", async () => {
    const entries = Array.from({ length: 700 }, (_, i) => ({
      id: `c-${String(i).padStart(4, "0")}`,
      at: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
    }));
    const partitions: Record<string, typeof entries> = {};
    entries.forEach((entry, i) => {
      const status = i % 3 === 0 ? "discarded" : "approved";
      const key = statusPartition(status, i % 4);
      partitions[key] ??= [];
      partitions[key].push(entry);
    });
    const queries = fakeIndex(partitions);
    const table = new QueueTable(dynamodb, "tbl", views);

    const batches = await collect(
      table.stream({ statuses: ["approved", "discarded"], filters: {}, range: {} }, { pageSize: 20 }),
    );
    expect(batches.map((batch) => batch.length)).toEqual([100, 100, 100, 100, 100, 100, 100]);
    expect(batches.flat().map((c) => c.id)).toEqual(entries.map((e) => e.id));
    // Every partition read from start to end, no page twice.
    const starts = queries.map(
      (q) => `${q.ExpressionAttributeValues?.[":gpk"]} ${JSON.stringify(q.ExclusiveStartKey ?? null)}`,
    );
    expect(new Set(starts).size).toBe(starts.length);
    expect(new Set(queries.map((q) => q.ExpressionAttributeValues?.[":gpk"])).size).toBe(8);
    // 20 to a page: each partition's pages once, in turn.
    const pages = Object.values(partitions).reduce((sum, items) => sum + Math.ceil(items.length / 20), 0);
    expect(queries).toHaveLength(pages);
  });

  it("narrows by the time range in the key condition and by attributes in a filter, and loads moved bodies", async () => {
    const queries = fakeIndex({
      [statusPartition("approved", 0)]: [
        { id: "early", at: "2026-01-01T00:00:00.000Z" },
        { id: "inside", at: "2026-02-01T00:00:00.000Z", body: true },
        { id: "edge", at: "2026-03-01T00:00:00.000Z" },
      ],
    });
    const table = new QueueTable(dynamodb, "tbl", views);
    const batches = await collect(
      table.stream({
        statuses: ["approved"],
        filters: { task_type: "math" },
        range: { from: "2026-01-15T00:00:00.000Z", to: "2026-03-01T00:00:00.000Z" },
      }),
    );
    expect(batches.flat().map((c) => c.id)).toEqual(["inside"]);
    expect(batches.flat()[0]?.prompt_messages).toEqual([{ role: "user", content: "loaded" }]);
    expect(queries[0]).toMatchObject({
      IndexName: TABLE.indexes.byStatus.name,
      KeyConditionExpression: "#gpk = :gpk AND #gsk BETWEEN :from AND :to",
      FilterExpression: expect.stringContaining("task_type"),
    });
  });
});

describe("ExportJobTable", () => {
  const table = new ExportJobTable(dynamodb, "tbl");
  const job = newExportJob({
    id: "e-1",
    request: ExportRequest.parse({ format: "rag" }),
    origin: "api",
    requestedBy: "ana",
    at: new Date("2026-05-01T12:00:00Z"),
  });

  it("starts only a queued or running job and counts the attempt", async () => {
    dynamoMock.on(UpdateCommand).resolves({ Attributes: { ...job, status: "running", attempts: 1 } });
    expect(await table.start("e-1", "2026-05-01T12:00:01.000Z")).toMatchObject({
      status: "running",
      attempts: 1,
    });
    expect(dynamoMock).toHaveReceivedCommandWith(UpdateCommand, {
      Key: keys.exportJob("e-1"),
      ConditionExpression: "attribute_exists(#pk) AND #status IN (:queued, :running)",
    });
  });

  it("returns null for a finished job and NotFoundError for an unknown one", async () => {
    const refused = new ConditionalCheckFailedException({ message: "no", $metadata: {} });
    dynamoMock.on(UpdateCommand).rejects(refused);
    dynamoMock
      .on(GetCommand)
      .resolvesOnce({ Item: { ...job, status: "succeeded" } })
      .resolves({});
    expect(await table.start("e-1", "2026-05-01T12:00:01.000Z")).toBeNull();
    await expect(table.start("e-2", "2026-05-01T12:00:01.000Z")).rejects.toThrow(NotFoundError);
  });

  it("records a retried attempt's error on a running job, and fails it on the last", async () => {
    dynamoMock.on(UpdateCommand).resolves({});
    await table.fail("e-1", "attempt 1 failed: boom", "2026-05-01T12:01:00.000Z", false);
    await table.fail("e-1", "gave up", "2026-05-01T12:02:00.000Z", true);
    const updates = dynamoMock.commandCalls(UpdateCommand).map((call) => call.args[0].input.UpdateExpression);
    expect(updates).toEqual([
      "SET #error = :error",
      "SET #status = :failed, #finished = :at, #error = :error",
    ]);
  });

  it("stores the request and the manifest as JSON text, so their keys keep their order", async () => {
    dynamoMock.on(PutCommand).resolves({});
    await table.create(job);
    const stored = dynamoMock.commandCalls(PutCommand)[0]?.args[0].input.Item as Record<string, unknown>;
    expect(stored.request).toBe(JSON.stringify(job.request));
    dynamoMock
      .on(GetCommand)
      .resolves({ Item: { ...stored, progress: { quarantined: 1, considered: 3, exported: 2 } } });
    const read = await table.get("e-1");
    expect(JSON.stringify(read?.request)).toBe(JSON.stringify(job.request));
    expect(Object.keys(read?.progress ?? {})).toEqual(["considered", "exported", "quarantined"]);
  });

  it("lists from the exports partition of the index, newest first", async () => {
    dynamoMock.on(QueryCommand).resolves({ Items: [{ ...job }] });
    expect((await table.list(5)).map((j) => j.id)).toEqual(["e-1"]);
    expect(dynamoMock).toHaveReceivedCommandWith(QueryCommand, {
      IndexName: TABLE.indexes.evalSessions.name,
      ExpressionAttributeValues: { ":pk": "EXPORTS" },
      ScanIndexForward: false,
      Limit: 5,
    });
  });
});

describe("SqsExportQueue", () => {
  it("sends one message naming the job", async () => {
    const sqs = new SQSClient({ region: "us-east-1", credentials });
    const sqsMock = mockClient(sqs);
    sqsMock.on(SendMessageCommand).resolves({ MessageId: "m-1" });
    await new SqsExportQueue(sqs, "https://sqs.example/q").send({ export_id: "e-1" });
    expect(sqsMock).toHaveReceivedCommandWith(SendMessageCommand, {
      QueueUrl: "https://sqs.example/q",
      MessageBody: '{"export_id":"e-1"}',
    });
  });
});

import { DynamoDBClient, TransactionCanceledException } from "@aws-sdk/client-dynamodb";
import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
} from "@aws-sdk/lib-dynamodb";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { ConflictError, NotFoundError } from "../../../lib/common/domain/errors.ts";
import { RunRecords, S3RunFolders } from "../../../lib/import/adapters/run-catalog.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";
import { ReviewTable } from "../../../lib/review/adapters/review-table.ts";
import { planDecision, planUndo, SubmitRequest } from "../../../lib/review/domain/review.ts";
import { storedCandidate } from "../../support/review-fakes.ts";

const dynamodb = DynamoDBDocumentClient.from(new DynamoDBClient({ region: "us-east-1" }));
const dynamoMock = mockClient(dynamodb);
const s3 = new S3Client({ region: "us-east-1" });
const s3Mock = mockClient(s3);
const bodiesRead: string[] = [];
const views = new CandidateViews({
  getCandidateBody: async (key) => {
    bodiesRead.push(key);
    return { prompt_messages: [{ role: "user", content: "the whole prompt" }], model_response: "the answer" };
  },
});
const table = new ReviewTable(dynamodb, "tbl", views);
const AT = new Date("2026-05-01T10:00:00.000Z");

const cancelled = (...codes: string[]) =>
  new TransactionCanceledException({
    message: "cancelled",
    $metadata: {},
    CancellationReasons: codes.map((Code) => ({ Code })),
  });

beforeEach(() => {
  dynamoMock.reset();
  s3Mock.reset();
  bodiesRead.length = 0;
});

describe("ReviewTable.apply", () => {
  const candidate = storedCandidate("c1");
  const approve = planDecision(
    candidate,
    SubmitRequest.parse({
      id: "c1",
      action: "correct",
      corrected_response: "4",
      failure_category: "wrong_answer",
    }),
    "ana",
    AT,
  );

  it("writes the candidate, its event and one counter shard in one conditional transaction", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});

    await table.apply(approve);

    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 1);
    const input = dynamoMock.commandCalls(TransactWriteCommand)[0]?.args[0].input;
    expect(input?.ClientRequestToken).toEqual(expect.any(String));
    const [update, put, counter] = input?.TransactItems ?? [];
    expect(input?.TransactItems).toHaveLength(3);
    expect(update?.Update).toMatchObject({
      TableName: "tbl",
      Key: { pk: "CAND#c1", sk: "CAND" },
      // A decision also needs the candidate to be held by nobody else: no lease, the decider's, or one
      // over; and not to be waiting for adjudication (double review), which only an admin decides.
      ConditionExpression:
        "attribute_exists(#pk) AND #status = :from AND #version = :expected AND attribute_exists(#prov) AND " +
        "attribute_not_exists(#adj) AND " +
        "(attribute_not_exists(#leaseHolder) OR #leaseHolder = :me OR attribute_not_exists(#leaseExpires) OR #leaseExpires <= :now)",
      ExpressionAttributeValues: {
        ":me": "ana",
        ":now": AT.toISOString(),
        ":from": "needs_review",
        ":expected": 1,
        ":to": "approved",
        ":version": 2,
        ":corrected": "4",
        ":category": "wrong_answer",
        ":reviewer": "ana",
        ":gpk": expect.stringMatching(/^STATUS#approved#\d$/),
        ":gsk": "2026-04-07T14:30:22.000Z#c1",
      },
    });
    // Review facts are set field by field inside provenance; the rest of it is never replaced.
    const expression = update?.Update?.UpdateExpression ?? "";
    expect(expression).not.toMatch(/#prov = /);
    expect(expression).toMatch(/#prov\.#ps0 = :ps0/);
    expect(expression).toMatch(/ REMOVE #leaseHolder, #leaseName, #leaseExpires, #leaseStarted, #prov\.#pr0/);
    const names = update?.Update?.ExpressionAttributeNames ?? {};
    expect(names["#prov"]).toBe("provenance");
    expect(Object.values(names)).toEqual(expect.arrayContaining(["approved_by", "excluded"]));
    expect(put?.Put).toMatchObject({
      Item: {
        pk: "CAND#c1",
        sk: `EVENT#${AT.toISOString()}#0000000002`,
        type: "candidate_event",
        action: "correct",
        from: "needs_review",
        to: "approved",
        reviewer: "ana",
        // The day's review log (reviewer numbers) is a partition of gsi3.
        gsi3pk: `REVIEWLOG#${AT.toISOString().slice(0, 10)}`,
        gsi3sk: `${AT.toISOString()}#c1#0000000002`,
      },
      ConditionExpression: "attribute_not_exists(#pk)",
    });
    expect(counter?.Update?.Key).toMatchObject({ pk: "STATS", sk: expect.stringMatching(/^SHARD#\d$/) });
    expect(Object.values(counter?.Update?.ExpressionAttributeNames ?? {})).toEqual(
      expect.arrayContaining(["status#needs_review", "status#approved", "export_ready"]),
    );
  });

  it("answers a lost race with a conflict naming the status the candidate has now", async () => {
    dynamoMock.on(TransactWriteCommand).rejects(cancelled("ConditionalCheckFailed", "None", "None"));
    dynamoMock.on(GetCommand).resolves({ Item: { ...candidate, status: "discarded", version: 2 } });

    const error = await table.apply(approve).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).currentStatus).toBe("discarded");
    expect(dynamoMock).toHaveReceivedCommandWith(GetCommand, {
      Key: { pk: "CAND#c1", sk: "CAND" },
      ConsistentRead: true,
    });
  });

  it("answers NotFound when the candidate disappeared", async () => {
    dynamoMock.on(TransactWriteCommand).rejects(cancelled("ConditionalCheckFailed", "None", "None"));
    dynamoMock.on(GetCommand).resolves({});

    await expect(table.apply(approve)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("tries again when another transaction held an item, then succeeds", async () => {
    dynamoMock
      .on(TransactWriteCommand)
      .rejectsOnce(cancelled("None", "None", "TransactionConflict"))
      .resolves({});

    await table.apply(approve);

    expect(dynamoMock).toHaveReceivedCommandTimes(TransactWriteCommand, 2);
    expect(dynamoMock).not.toHaveReceivedCommand(GetCommand);
  });

  it("passes other errors through", async () => {
    dynamoMock.on(TransactWriteCommand).rejects(new Error("network down"));
    await expect(table.apply(approve)).rejects.toThrow("network down");
  });

  it("moves an undone candidate back to a needs_review partition and clears the review", async () => {
    dynamoMock.on(TransactWriteCommand).resolves({});
    const approved = storedCandidate("c1", { status: "approved", version: 2, corrected_response: "4" });

    await table.apply(planUndo(approved, "bo", AT));

    const update = dynamoMock.commandCalls(TransactWriteCommand)[0]?.args[0].input.TransactItems?.[0]?.Update;
    expect(update?.ExpressionAttributeValues).toMatchObject({
      ":from": "approved",
      ":expected": 2,
      ":to": "needs_review",
      ":corrected": null,
      ":category": null,
      ":reviewer": null,
      ":gpk": expect.stringMatching(/^STATUS#needs_review#\d$/),
    });
    expect(update?.UpdateExpression).not.toMatch(/#ps0/);
  });
});

describe("ReviewTable.detail", () => {
  it("reads the candidate and its events in one partition, loading a body kept in S3", async () => {
    dynamoMock.on(QueryCommand).resolves({
      Items: [
        {
          ...storedCandidate("c1"),
          pk: "CAND#c1",
          sk: "CAND",
          gsi1pk: "STATUS#needs_review#1",
          gsi1sk: "x",
          type: "candidate",
          prompt_messages: undefined,
          prompt_preview: "user: the wh",
          body_ref: { key: "blobs/candidates/abc.json", bytes: 9 },
        },
        {
          pk: "CAND#c1",
          sk: "EVENT#2026-05-01T10:00:00.000Z#0000000002",
          type: "candidate_event",
          candidate_id: "c1",
          action: "flag",
          from: "needs_review",
          to: "model_rejected",
          failure_category: null,
          reviewer: "ana",
          at: "2026-05-01T10:00:00.000Z",
          version: 2,
        },
      ],
    });

    const detail = await table.detail("c1");

    expect(dynamoMock).toHaveReceivedCommandWith(QueryCommand, {
      ExpressionAttributeValues: { ":pk": "CAND#c1" },
      ConsistentRead: true,
    });
    expect(bodiesRead).toEqual(["blobs/candidates/abc.json"]);
    expect(detail?.candidate).toMatchObject({
      id: "c1",
      prompt_messages: [{ content: "the whole prompt" }],
      model_response: "the answer",
    });
    for (const hidden of ["pk", "sk", "gsi1pk", "gsi1sk", "type", "body_ref", "prompt_preview"]) {
      expect(detail?.candidate).not.toHaveProperty(hidden);
    }
    expect(detail?.history).toEqual([
      {
        candidate_id: "c1",
        action: "flag",
        from: "needs_review",
        to: "model_rejected",
        failure_category: null,
        reviewer: "ana",
        at: "2026-05-01T10:00:00.000Z",
        version: 2,
        // An event stored before events kept their texts reads as holding none.
        corrected_response: null,
        replaced_correction: null,
      },
    ]);
  });

  it("is null for an unknown id", async () => {
    dynamoMock.on(QueryCommand).resolves({ Items: [] });
    expect(await table.detail("nope")).toBeNull();
  });
});

describe("QueueTable.walk", () => {
  /** Shard number → the sort keys of its queued items, already in index order. */
  const shards: Record<number, string[]> = {
    0: ["01", "04", "07"],
    1: ["02"],
    2: ["03", "05", "06"],
    3: [],
  };
  const itemOf = (shard: number, time: string) => ({
    pk: `CAND#id${time}`,
    sk: "CAND",
    gsi1pk: `STATUS#needs_review#${shard}`,
    gsi1sk: `2026-01-01T00:00:${time}.000Z#id${time}`,
    id: `id${time}`,
    status: "needs_review",
  });

  function serveShards() {
    dynamoMock.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      const partition = input.ExpressionAttributeValues?.[":gpk"] as string;
      const shard = Number(partition.split("#").at(-1));
      const after = input.ExclusiveStartKey?.gsi1sk as string | undefined;
      const all = (shards[shard] ?? []).map((time) => itemOf(shard, time));
      const rest = all.filter((item) => !after || item.gsi1sk > after);
      const page = rest.slice(0, input.Limit);
      const last = page.at(-1);
      return {
        Items: page,
        LastEvaluatedKey:
          rest.length > page.length && last
            ? { pk: last.pk, sk: last.sk, gsi1pk: last.gsi1pk, gsi1sk: last.gsi1sk }
            : undefined,
      };
    });
  }

  const queue = new QueueTable(dynamodb, "tbl", views);
  const ids = (items: { id: string }[]) => items.map((item) => item.id);

  it("merges the shards oldest first and says where it stopped", async () => {
    serveShards();

    const first = await queue.walk({ filters: {}, after: null, skip: 0, limit: 3 });

    expect(ids(first.items)).toEqual(["id01", "id02", "id03"]);
    expect(first.more).toBe(true);
    expect(first.items[0]).not.toHaveProperty("gsi1pk");
    const second = await queue.walk({ filters: {}, after: first.position, skip: 0, limit: 3 });
    expect(ids(second.items)).toEqual(["id04", "id05", "id06"]);
    const third = await queue.walk({ filters: {}, after: second.position, skip: 0, limit: 3 });
    expect(ids(third.items)).toEqual(["id07"]);
    expect(third.more).toBe(false);
    for (const call of dynamoMock.commandCalls(QueryCommand)) {
      expect(call.args[0].input).toMatchObject({ IndexName: "gsi1", ScanIndexForward: true });
    }
  });

  it("skips whole pages for page numbers", async () => {
    serveShards();
    const page = await queue.walk({ filters: {}, after: null, skip: 4, limit: 2 });
    expect(ids(page.items)).toEqual(["id05", "id06"]);
    expect(page.more).toBe(true);
  });

  it("filters on the candidate's provenance and fields with one expression", async () => {
    dynamoMock.on(QueryCommand).resolves({ Items: [] });

    const page = await queue.walk({
      filters: { model: "m1", task_type: "math", run_id: "r1", source: "rig" },
      after: null,
      skip: 0,
      limit: 5,
    });

    expect(page).toMatchObject({ items: [], more: false });
    const input = dynamoMock.commandCalls(QueryCommand)[0]?.args[0].input;
    expect(input?.FilterExpression).toBe(
      "#f_provenance.#f_model = :f_model AND #f_task_type = :f_task_type AND " +
        "#f_provenance.#f_source_run_id = :f_run_id AND #f_provenance.#f_source = :f_source",
    );
    expect(input?.ExpressionAttributeValues).toMatchObject({ ":f_model": "m1", ":f_run_id": "r1" });
  });

  it("keeps reading a shard whose pages the filter emptied, so the page stays full", async () => {
    let calls = 0;
    dynamoMock.on(QueryCommand).callsFake((input: QueryCommandInput) => {
      const partition = String(input.ExpressionAttributeValues?.[":gpk"]);
      if (!partition.endsWith("#0")) return { Items: [] };
      calls += 1;
      // Two pages with nothing that passes the filter, then the match.
      if (calls < 3) {
        return {
          Items: [],
          LastEvaluatedKey: { pk: "CAND#x", sk: "CAND", gsi1pk: "p", gsi1sk: `0${calls}#x` },
        };
      }
      return { Items: [itemOf(0, "09")] };
    });

    const page = await queue.walk({ filters: { model: "m1" }, after: null, skip: 0, limit: 1 });

    expect(ids(page.items)).toEqual(["id09"]);
    expect(calls).toBe(3);
  });
});

describe("run folders and records", () => {
  it("lists the folders under the prefix across pages, skipping names that are not run ids", async () => {
    s3Mock
      .on(ListObjectsV2Command)
      .resolvesOnce({
        CommonPrefixes: [{ Prefix: "runs/2026-04-07-143022/" }, { Prefix: "runs/../" }],
        IsTruncated: true,
        NextContinuationToken: "t1",
      })
      .resolvesOnce({ CommonPrefixes: [{ Prefix: "runs/nightly/" }], IsTruncated: false });

    const runIds = await new S3RunFolders(s3, "data").listRunFolders("runs/");

    expect(runIds).toEqual(["2026-04-07-143022", "nightly"]);
    expect(s3Mock).toHaveReceivedCommandWith(ListObjectsV2Command, {
      Bucket: "data",
      Prefix: "runs/",
      Delimiter: "/",
    });
    expect(s3Mock).toHaveReceivedNthCommandWith(ListObjectsV2Command, 2, { ContinuationToken: "t1" });
  });

  it("reads run records in batches and asks again for unprocessed keys", async () => {
    dynamoMock
      .on(BatchGetCommand)
      .resolvesOnce({
        Responses: { tbl: [{ run_id: "r1", state: "completed" }] },
        UnprocessedKeys: { tbl: { Keys: [{ pk: "RUN#r2", sk: "RUN" }] } },
      })
      .resolvesOnce({ Responses: { tbl: [{ run_id: "r2", state: "failed" }] } });

    const records = await new RunRecords(dynamodb, "tbl").readRunRecords(["r1", "r2", "r3"]);

    expect([...records.keys()]).toEqual(["r1", "r2"]);
    expect(records.get("r2")).toMatchObject({ state: "failed" });
    expect(dynamoMock).toHaveReceivedCommandTimes(BatchGetCommand, 2);
  });
});

import { SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import { correctionRecordId } from "../../../lib/ingest/domain/correction.ts";

const sqs = new SQSClient({ region: "us-east-1" });
const sqsMock = mockClient(sqs);
const QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/flywheel-corrections";

const message = (n: number, overrides: Record<string, unknown> = {}) => ({
  source: "kiwi",
  task_type: "recipe_suggestion",
  prompt: `question ${n}`,
  response: "wrong",
  correction: "right",
  idempotency_key: `fb-${n}`,
  ...overrides,
});

/** SQS accepting every entry, with message ids derived from the entry ids. */
function acceptAll() {
  sqsMock.on(SendMessageBatchCommand).callsFake((input: { Entries: { Id: string }[] }) => ({
    Successful: input.Entries.map((entry) => ({
      Id: entry.Id,
      MessageId: `msg-${entry.Id}`,
      MD5OfMessageBody: "",
    })),
    Failed: [],
  }));
}

beforeEach(() => sqsMock.reset());

describe("publishCorrection", () => {
  it("sends valid messages in batches of at most ten and reports each in input order", async () => {
    acceptAll();
    const messages = Array.from({ length: 23 }, (_, n) => message(n));

    const reports = await publishCorrection(sqs, QUEUE, messages);

    expect(sqsMock).toHaveReceivedCommandTimes(SendMessageBatchCommand, 3);
    const sizes = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((call) => call.args[0].input.Entries?.length);
    expect(sizes.sort()).toEqual([10, 10, 3]);
    expect(reports).toHaveLength(23);
    expect(reports[7]).toEqual({
      index: 7,
      ok: true,
      messageId: "msg-7",
      recordId: correctionRecordId("kiwi", "fb-7", "msg-7"),
    });
    const body = JSON.parse(
      sqsMock.commandCalls(SendMessageBatchCommand)[0]?.args[0].input.Entries?.[0]?.MessageBody ?? "",
    );
    expect(body).toMatchObject({ schema_version: 1, source: "kiwi" });
  });

  it("validates with the contract: a refused message is reported and never sent", async () => {
    acceptAll();
    const reports = await publishCorrection(sqs, QUEUE, [
      message(1),
      message(2, { correction: "  " }),
      "text",
    ]);

    expect(reports[0]).toMatchObject({ ok: true });
    expect(reports[1]).toEqual({
      index: 1,
      ok: false,
      code: "invalid",
      detail: expect.stringContaining("blank_correction"),
    });
    expect(reports[2]).toMatchObject({
      ok: false,
      code: "invalid",
      detail: expect.stringContaining("not_an_object"),
    });
    const sent = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .flatMap((call) => call.args[0].input.Entries ?? []);
    expect(sent).toHaveLength(1);
  });

  it("retries entries SQS failed on its side and reports entries the sender got wrong", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .resolvesOnce({
        Successful: [{ Id: "0", MessageId: "msg-0", MD5OfMessageBody: "" }],
        Failed: [
          { Id: "1", Code: "InternalError", SenderFault: false, Message: "try again" },
          { Id: "2", Code: "InvalidMessageContents", SenderFault: true, Message: "bad characters" },
        ],
      })
      .resolves({ Successful: [{ Id: "1", MessageId: "msg-1", MD5OfMessageBody: "" }], Failed: [] });

    const reports = await publishCorrection(sqs, QUEUE, [message(0), message(1), message(2)]);

    expect(reports.map((report) => report.ok)).toEqual([true, true, false]);
    expect(reports[2]).toEqual({
      index: 2,
      ok: false,
      code: "InvalidMessageContents",
      detail: "bad characters",
    });
    expect(sqsMock.commandCalls(SendMessageBatchCommand)[1]?.args[0].input.Entries?.map((e) => e.Id)).toEqual(
      ["1"],
    );
  });

  it("reports every entry of a batch whose request failed", async () => {
    sqsMock
      .on(SendMessageBatchCommand)
      .rejects(Object.assign(new Error("no route"), { name: "NetworkingError" }));
    const reports = await publishCorrection(sqs, QUEUE, [message(0), message(1)]);
    expect(reports).toEqual([
      { index: 0, ok: false, code: "NetworkingError", detail: "no route" },
      { index: 1, ok: false, code: "NetworkingError", detail: "no route" },
    ]);
  });

  it("keeps a batch under the SQS payload limit by splitting large messages", async () => {
    acceptAll();
    const big = (n: number) => message(n, { response: "r".repeat(100 * 1024) });
    await publishCorrection(sqs, QUEUE, [big(0), big(1), big(2), big(3)]);
    const sizes = sqsMock
      .commandCalls(SendMessageBatchCommand)
      .map((call) => call.args[0].input.Entries?.length);
    expect(sizes).toEqual([2, 2]);
  });
});

import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { beforeAll, describe, expect, it } from "vitest";
import { ingestCommand, ingestFile, type QueueTarget } from "../../../cli/ingest.ts";
import { UsageError } from "../../../cli/target.ts";
import { samplePath } from "../../../samples/index.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";

let aws: TestAws;
let target: QueueTarget;

beforeAll(async () => {
  aws = await provisionTestAws("ingest-cli");
  const queueUrl = aws.resources.queues.corrections.url;
  target = { sqs: aws.clients.sqs, queueUrl, description: queueUrl };
});

const fixture = (name: string) => samplePath("corrections", name);

async function queued(): Promise<number> {
  const { Attributes } = await aws.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: target.queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages"],
    }),
  );
  return Number(Attributes?.ApproximateNumberOfMessages ?? 0);
}

describe("flywheel ingest <file.jsonl>", () => {
  it("publishes every valid line and reports each refused one by line number", async () => {
    const printed: string[] = [];
    const valid = await ingestFile(target, fixture("valid.jsonl"), (line) => printed.push(line));
    const invalid = await ingestFile(target, fixture("invalid.jsonl"), (line) => printed.push(line));

    expect(valid).toEqual({ lines: 4, published: 4, refused: 0 });
    expect(invalid).toEqual({ lines: 6, published: 0, refused: 6 });
    expect(printed).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^ {2}line 1: invalid: blank_correction/),
        expect.stringMatching(/^ {2}line 5: invalid: invalid_json/),
        "published 0 of 6 correction(s); 6 refused",
      ]),
    );
    expect(await queued()).toBe(4);
  });

  it("prints its usage, and refuses a missing file or conflicting targets", async () => {
    const printed: string[] = [];
    expect(await ingestCommand(["--help"], (line) => printed.push(line))).toBe(0);
    expect(printed.join("\n")).toContain("flywheel ingest <file.jsonl>");
    await expect(ingestCommand([], () => {})).rejects.toThrow(UsageError);
    await expect(ingestCommand(["/nonexistent.jsonl"], () => {})).rejects.toThrow(UsageError);
    await expect(
      ingestCommand([fixture("valid.jsonl"), "--local", "--queue-url", target.queueUrl], () => {}),
    ).rejects.toThrow(UsageError);
  });
});

import { createHash } from "node:crypto";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { Context, SQSRecord } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { IMPORT_DEADLINE_RESERVE_MS } from "../../../lib/import/edge/run-upload-records.ts";
import { generateRunLines } from "../../../samples/generate-run.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import {
  lambdaContext,
  type SqsBatchHandler,
  s3NotificationBody,
  sqsEvent,
  sqsRecord,
} from "../../support/events.ts";
import { type ApiHandler, callApi } from "../../support/http-events.ts";
import { storedCounters, storedRun } from "../../support/steps.ts";

let aws: TestAws;
let handler: SqsBatchHandler;
let api: ApiHandler;
const TOKEN = "reviewer-token-for-tests";

beforeAll(async () => {
  aws = await provisionTestAws("deadline");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("RUN_UPLOADS_QUEUE_URL", aws.resources.queues.runUploads.url);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler } = await import("../../../functions/import-run.ts"));
  ({ handler: api } = await import("../../../functions/api.ts"));
});

const ample = () => ({ ...lambdaContext("import-run"), getRemainingTimeInMillis: () => 900_000 });

const runText = (runId: string) =>
  `${[...generateRunLines({ count: 600, runId, broken: 0.05, seed: 3, bodyKb: 0.3 })].join("\n")}\n`;

async function upload(runId: string, body: string) {
  const key = `runs/${runId}/sft_candidates.jsonl`;
  const put = await aws.clients.s3.send(
    new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: body }),
  );
  return s3NotificationBody(aws.resources.bucket, key, { eTag: put.ETag?.replaceAll('"', "") });
}

/** An invocation whose time runs out after `lines` checks: one check per line read. */
function shortContext(lines: number): Context {
  let remaining = IMPORT_DEADLINE_RESERVE_MS + lines;
  return { ...lambdaContext("import-run"), getRemainingTimeInMillis: () => remaining-- };
}

/** What the run-uploads queue holds now, as the event source would deliver it, then deleted. */
async function takeQueued(): Promise<SQSRecord[]> {
  const queueUrl = aws.resources.queues.runUploads.url;
  const { Messages = [] } = await aws.clients.sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
  );
  for (const m of Messages) {
    await aws.clients.sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }),
    );
  }
  return Messages.map((m) => sqsRecord(m.Body ?? ""));
}

async function objectText(key: string): Promise<string> {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  return (await object.Body?.transformToString()) ?? "";
}

describe("an import that runs short of time, against the emulators", () => {
  it("checkpoints, hands on through the queue and finishes with the counts of an uninterrupted import", async () => {
    const whole = runText("2026-05-01-000000-whole");
    await handler(sqsEvent(sqsRecord(await upload("2026-05-01-000000-whole", whole))), ample());
    const uninterrupted = await storedRun(aws, "2026-05-01-000000-whole");
    expect(uninterrupted?.state).toBe("completed");
    expect(uninterrupted?.invocations).toBe(1);

    const runId = "2026-05-01-000000-split";
    const text = runText(runId);
    let records = [sqsRecord(await upload(runId, text))];
    let invocations = 0;
    while (records.length > 0 && invocations < 12) {
      const result = await handler(sqsEvent(...records), shortContext(125));
      expect(result.batchItemFailures).toEqual([]);
      invocations += 1;
      records = await takeQueued();
    }
    const run = await storedRun(aws, runId);
    expect(run?.state).toBe("completed");
    expect(invocations).toBe(5); // 600 lines, 125 per invocation
    expect(run?.invocations).toBe(5);
    expect(run?.checkpoint).toBeUndefined();
    expect(run?.counts).toEqual(uninterrupted?.counts);
    expect(run?.sha256).toBe(createHash("sha256").update(text).digest("hex"));

    // One quarantine object, its entries in line order, the parts gone.
    const entries = (await objectText(run?.quarantine_key as string))
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as { line: number; reason: string });
    const lines = entries.map((e) => e.line);
    expect(lines).toEqual([...lines].sort((a, b) => a - b));
    expect(entries.length).toBe((run?.counts as { quarantined: number } | undefined)?.quarantined);
    expect(entries.map((e) => e.reason)).toEqual(
      (await objectText(uninterrupted?.quarantine_key as string))
        .split("\n")
        .filter(Boolean)
        .map((line) => (JSON.parse(line) as { reason: string }).reason),
    );
    const listed = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: `quarantine/runs/${runId}/` }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([run?.quarantine_key]);

    // The stats count both runs' candidates once each.
    const imported = (run?.counts as { imported: number } | undefined)?.imported ?? -1;
    expect((await storedCounters(aws)).total).toBe(2 * imported);
  });

  it("answers POST /api/sft/import with 202 for a run too big for the request, and the import function finishes it", async () => {
    const runId = "2026-05-02-000000";
    await upload(runId, runText(runId));
    // The request has 9 s in hand plus time for 100 lines.
    let remaining = 9_000 + 100;
    const request = { ...lambdaContext("api"), getRemainingTimeInMillis: () => remaining-- };
    const reply = await callApi(api, request, "POST", "/api/sft/import", {
      token: TOKEN,
      body: { run_id: runId },
    });
    expect(reply.status).toBe(202);
    expect(reply.body).toMatchObject({ import_state: "importing", run_id: runId, watch: "/api/sft/runs" });
    const soFar = reply.body as { imported: number; skipped: number; lines_read: number };
    // About 100 lines (the router may read the clock too), far from the run's 600.
    expect(soFar.lines_read).toBeGreaterThan(90);
    expect(soFar.lines_read).toBeLessThan(110);
    expect(soFar.imported).toBeGreaterThan(80);

    const queued = await takeQueued();
    expect(queued).toHaveLength(1);
    expect(JSON.parse(queued[0]?.body ?? "{}")).toMatchObject({
      import_continuation: { key: `runs/${runId}/sft_candidates.jsonl` },
    });
    expect((await handler(sqsEvent(...queued), ample())).batchItemFailures).toEqual([]);

    const runs = await callApi(api, lambdaContext("api"), "GET", "/api/sft/runs", { token: TOKEN });
    const listed = (
      runs.body as unknown as {
        run_id: string;
        import_state: string;
        quarantined: number;
        imported: number;
      }[]
    ).find((r) => r.run_id === runId);
    expect(listed).toMatchObject({ import_state: "completed" });
    expect((listed?.imported ?? 0) + (listed?.quarantined ?? 0)).toBe(600);
    // The same request again finds the import done and counts what it holds.
    const again = await callApi(api, lambdaContext("api"), "POST", "/api/sft/import", {
      token: TOKEN,
      body: { run_id: runId },
    });
    expect(again).toEqual({ status: 200, body: { imported: 0, skipped: listed?.imported } });
  });
});

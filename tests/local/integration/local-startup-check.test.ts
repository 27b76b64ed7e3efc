import { copyFile, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { S3Bodies } from "../../../lib/common/adapters/s3-objects.ts";
import { judgeRunIndexKeys, keys } from "../../../lib/common/adapters/table-keys.ts";
import { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { newExportJob } from "../../../lib/exports/domain/export-job.ts";
import { ExportRequest } from "../../../lib/exports/domain/export-request.ts";
import { SuggestionTable } from "../../../lib/suggest/adapters/suggestion-table.ts";
import { newSuggestionJob, SuggestionJobRequest } from "../../../lib/suggest/domain/job.ts";
import { type LocalRuntime, startLocalRuntime } from "../../../local/runtime.ts";
import { CLEAN_RUN_ID, sampleRunFile } from "../../../samples/index.ts";

let workDir: string;
let dataDir: string;
let runtime: LocalRuntime | undefined;
const logs: string[] = [];

const start = async (ports: { apiPort?: number; dynamoPort?: number; awsPort?: number } = {}) => {
  runtime = await startLocalRuntime({ dataDir, ...ports, log: (line) => logs.push(line) });
  return runtime;
};

const tableOf = (rt: LocalRuntime) =>
  DynamoDBDocumentClient.from(
    new DynamoDBClient({ region: rt.config.region, endpoint: rt.config.dynamodbEndpoint }),
  );

async function waitForItem(
  rt: LocalRuntime,
  key: { pk: string; sk: string },
  done: (item: Record<string, unknown>) => boolean,
) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { Item } = await tableOf(rt).send(new GetCommand({ TableName: rt.config.tableName, Key: key }));
    if (Item && done(Item)) return Item;
    if (Date.now() > deadline)
      throw new Error(`not done in time: ${JSON.stringify(Item)}\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), "flywheel-startup-check-"));
  dataDir = join(workDir, ".flywheel");
});

afterAll(async () => {
  await runtime?.stop();
  await rm(workDir, { recursive: true, force: true });
});

describe("the start-up check", () => {
  let ports: { apiPort: number; dynamoPort: number; awsPort: number };

  it("queues the import of a run object that was stored but never notified", async () => {
    // As a crash between the object's write and its notification leaves it.
    const stored = join(dataDir, "s3", "flywheel-local", "runs", "stranded", "sft_candidates.jsonl");
    await mkdir(dirname(stored), { recursive: true });
    await copyFile(sampleRunFile(CLEAN_RUN_ID), stored);

    const rt = await start();
    ports = {
      apiPort: Number(new URL(rt.config.apiUrl).port),
      dynamoPort: Number(new URL(rt.config.dynamodbEndpoint).port),
      awsPort: Number(new URL(rt.config.s3Endpoint).port),
    };
    expect(logs).toContain("start-up check: import stranded was uploaded but never queued: import queued");
    const run = await waitForItem(
      rt,
      { pk: "RUN#stranded", sk: "RUN" },
      (item) => item.state === "completed",
    );
    expect(run.counts).toMatchObject({ lines: 30, imported: 30, skipped: 0 });
  });

  it("queues again an export and a judge session left with no message, and leaves finished work alone", async () => {
    const rt = runtime as LocalRuntime;
    const job = newExportJob({
      id: "stranded-export",
      request: ExportRequest.parse({ format: "openai-sft" }),
      origin: "api",
      requestedBy: "test",
      at: new Date(),
    });
    // The job is written, its message is not: as a crash between the two would leave it.
    await new ExportJobTable(tableOf(rt), rt.config.tableName).create(job);
    // A judge run with one session done and one never queued.
    const createdAt = new Date().toISOString();
    const judgeRun = { id: "stranded-judge", created_at: createdAt };
    for (const Item of [
      {
        ...keys.judgeRun(judgeRun.id),
        ...judgeRunIndexKeys(judgeRun),
        ...judgeRun,
        type: "judge_run",
        status: "running",
        total: 2,
        done: 1,
        failed: 0,
      },
      {
        ...keys.judgeRunSession(judgeRun.id, "s-done"),
        type: "judge_run_session",
        run_id: judgeRun.id,
        session_id: "s-done",
        status: "done",
      },
      {
        ...keys.judgeRunSession(judgeRun.id, "s-lost"),
        type: "judge_run_session",
        run_id: judgeRun.id,
        session_id: "s-lost",
        status: "pending",
      },
    ]) {
      await tableOf(rt).send(new PutCommand({ TableName: rt.config.tableName, Item }));
    }
    await rt.stop();
    logs.length = 0;

    const again = await start(ports);
    const repairs = logs.filter((line) => line.startsWith("start-up check:"));
    expect(repairs).toEqual([
      "start-up check: export stranded-export was left queued with nothing queued to finish it: queued again",
      "start-up check: judge stranded-judge was left running with 1 session(s) that nothing queued would judge: queued again",
    ]);
    await waitForItem(
      again,
      { pk: "EXPORT#stranded-export", sk: "EXPORT" },
      (item) => item.status === "succeeded",
    );
  });
  it("queues again a suggestion job's candidates that nothing queued would count, and only those", async () => {
    const rt = runtime as LocalRuntime;
    const queue = (await (
      await fetch(`${rt.config.apiUrl}/api/sft/queue?run_id=stranded&per_page=3`, {
        headers: { authorization: `Bearer ${rt.config.reviewerToken}` },
      })
    ).json()) as { items: { id: string }[] };
    const [counted, lost, alsoLost] = queue.items.map((item) => item.id);
    if (!counted || !lost || !alsoLost)
      throw new Error(`three waiting candidates expected: ${JSON.stringify(queue)}`);
    // A job that selected three candidates and counted one; the other two messages were never
    // sent (as a crash between storing the job and queueing its messages leaves them).
    const store = new SuggestionTable(
      tableOf(rt),
      rt.config.tableName,
      new CandidateViews(
        new S3Bodies(
          new S3Client({
            region: rt.config.region,
            endpoint: rt.config.s3Endpoint,
            forcePathStyle: true,
            credentials: { accessKeyId: "local", secretAccessKey: "local" },
          }),
          rt.config.bucket,
        ),
      ),
    );
    const draft = newSuggestionJob(
      "stranded-suggest",
      SuggestionJobRequest.parse({ run_id: "stranded", limit: 3 }),
      { model: "suggest-model", backend: "openai" },
      "test",
      new Date(),
    );
    await store.create({ ...draft, total: 3 }, [counted, lost, alsoLost]);
    await store.recordOutcome(
      draft.id,
      counted,
      { kind: "skipped", reason: "decided" },
      new Date().toISOString(),
    );
    // A finished job is left alone.
    const finished = newSuggestionJob(
      "finished-suggest",
      SuggestionJobRequest.parse({}),
      { model: "suggest-model", backend: "openai" },
      "test",
      new Date(),
    );
    await store.create({ ...finished, completed_at: new Date().toISOString() }, []);
    await rt.stop();
    logs.length = 0;

    const again = await start(ports);
    expect(logs.filter((line) => line.startsWith("start-up check:"))).toEqual([
      "start-up check: suggestions stranded-suggest was left running with 2 candidate(s) that nothing queued would suggest for: queued again",
    ]);
    // The two messages are handled (suggested, or failed for want of a model): every candidate counted once.
    const job = await waitForItem(
      again,
      { pk: "SUGGEST#stranded-suggest", sk: "JOB" },
      (item) => typeof item.completed_at === "string",
    );
    expect(job).toMatchObject({ total: 3, finished: 3, skipped: 1, skipped_by_reason: { decided: 1 } });
    expect(Number(job.suggested) + Number(job.failed)).toBe(2);
    // The job's view leaves out its listing in the index.
    expect(Object.keys((await store.find(draft.id)) ?? {})).not.toContain("gsi3pk");
  });
});

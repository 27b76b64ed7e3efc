import { readFileSync } from "node:fs";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { S3RunObjects } from "../../../lib/common/adapters/s3-objects.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { ReviewSettingsTable } from "../../../lib/import/adapters/review-settings-table.ts";
import {
  type CandidateImportStore,
  type RunCounts,
  RunObjectMissingError,
} from "../../../lib/import/ports.ts";
import { importRun } from "../../../lib/import/usecases/import-run.ts";
import { importRunDeps } from "../../../lib/import/wiring.ts";
import { samplePath } from "../../../samples/index.ts";
import { candidatesOfRun as candidatesOfRunIn, provisionTestAws, type TestAws } from "../../support/aws.ts";
import {
  lambdaContext,
  type SqsBatchHandler,
  s3NotificationBody,
  sqsEvent,
  sqsRecord,
} from "../../support/events.ts";
import { storedCandidate, storedCounters, storedRun } from "../../support/steps.ts";

const CLEAN_RUN = "2026-04-07-143022";
const DAMAGED_RUN = "2026-04-09-080000-damaged";
const runFile = (runId: string) => readFileSync(samplePath("runs", runId, "sft_candidates.jsonl"));
const runKey = (runId: string) => `runs/${runId}/sft_candidates.jsonl`;

let aws: TestAws;
let handler: SqsBatchHandler;

beforeAll(async () => {
  aws = await provisionTestAws("import");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  ({ handler } = await import("../../../functions/import-run.ts"));
});

async function upload(runId: string, body: Buffer | string, key = runKey(runId)) {
  const put = await aws.clients.s3.send(
    new PutObjectCommand({ Bucket: aws.resources.bucket, Key: key, Body: body }),
  );
  return s3NotificationBody(aws.resources.bucket, key, { eTag: put.ETag?.replaceAll('"', "") });
}

const getRun = (runId: string) => storedRun(aws, runId);
const getCandidate = (id: string) => storedCandidate(aws, id);
const counters = () => storedCounters(aws);

const candidatesOfRun = (runId: string) => candidatesOfRunIn(aws, runId);

async function quarantineEntries(key: string) {
  const object = await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }));
  const text = await object.Body?.transformToString();
  return (text ?? "")
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line));
}

describe("import-run handler against the emulators", () => {
  it("quarantines another run's different prompt or answer under a stored id as a conflict naming both runs", async () => {
    const line = (answer: string) =>
      JSON.stringify({
        id: "contested-id",
        prompt_messages: [{ role: "user", content: "q" }],
        model_response: answer,
      });
    await handler(sqsEvent(sqsRecord(await upload("contest-first", line("first answer")))), lambdaContext());
    const stored = await getCandidate("contested-id");

    await handler(
      sqsEvent(sqsRecord(await upload("contest-second", line("another answer")))),
      lambdaContext(),
    );
    await handler(sqsEvent(sqsRecord(await upload("contest-third", line("first answer")))), lambdaContext());

    const second = await getRun("contest-second");
    expect(second?.counts).toMatchObject({ lines: 1, imported: 0, skipped: 0, quarantined: 1 });
    const [entry] = await quarantineEntries(second?.quarantine_key);
    expect(entry).toMatchObject({ reason: "id_conflict", line: 1 });
    expect(entry.detail).toContain("contest-first");
    expect(entry.detail).toContain("contest-second");
    // The same content from another run is a plain skip, and nothing stored moved.
    expect((await getRun("contest-third"))?.counts).toMatchObject({
      imported: 0,
      skipped: 1,
      quarantined: 0,
    });
    expect(await getCandidate("contested-id")).toEqual(stored);
  });

  it("imports an upload under the runs prefix the reviewers configured (runs/nightly/…)", async () => {
    await new ReviewSettingsTable(aws.clients.dynamodb, aws.resources.tableName).writeRunsPrefix(
      "runs/nightly/",
      "test",
      new Date().toISOString(),
    );
    const key = "runs/nightly/nested-run/sft_candidates.jsonl";
    const lines = [1, 2, 3]
      .map((n) => JSON.stringify({ id: `nested-run-${n}`, model_response: "a" }))
      .join("\n");

    const result = await handler(
      sqsEvent(sqsRecord(await upload("nested-run", lines, key))),
      lambdaContext(),
    );

    expect(result.batchItemFailures).toEqual([]);
    expect((await getRun("nested-run"))?.counts).toMatchObject({ lines: 3, imported: 3, quarantined: 0 });
  });

  it("imports every good line of a run mixed with values the store cannot hold, quarantining each of those alone", async () => {
    const runId = "hostile-run";
    const good = (i: number) =>
      JSON.stringify({ id: `${runId}-good-${i}`, prompt_messages: [{ role: "user", content: `q${i}` }] });
    const hostile = [
      '{"id": "hostile-1e16", "tokens_per_sec": 1e16}',
      '{"id": "hostile-1e300", "extra": {"n": 1e300}}',
      `{"id": "hostile-deep", "extra": ${"[".repeat(40)}${"]".repeat(40)}}`,
      JSON.stringify({ id: "é".repeat(600) }),
      JSON.stringify({ id: "hostile-model", model_name: "m".repeat(5_000) }),
    ];
    const lines = [good(0), ...hostile.flatMap((line, i) => [line, good(i + 1)])];

    const result = await handler(
      sqsEvent(sqsRecord(await upload(runId, `${lines.join("\n")}\n`))),
      lambdaContext(),
    );

    expect(result.batchItemFailures).toEqual([]);
    const run = await getRun(runId);
    expect(run?.state).toBe("completed");
    expect(run?.counts).toMatchObject({ lines: 11, imported: 6, skipped: 0, quarantined: 5 });
    expect(run?.counts.quarantined_by_reason).toEqual({ invalid_field: 5 });
    const entries = await quarantineEntries(run?.quarantine_key);
    expect(entries.map((e) => e.line).sort((a, b) => a - b)).toEqual([2, 4, 6, 8, 10]);
    expect(entries.find((e) => e.line === 2)?.detail).toContain("tokens_per_sec");
    expect(entries.find((e) => e.line === 8)?.detail).toContain("bytes");
    for (let i = 0; i <= hostile.length; i++) expect(await getCandidate(`${runId}-good-${i}`)).toBeDefined();
  });

  it("keeps a stored body byte for byte when another run reuses its id with a different 350 KB prompt", async () => {
    const line = (runId: string, fill: string) =>
      JSON.stringify({
        id: "shared-huge-id",
        benchmark_run_id: runId,
        prompt_messages: [{ role: "user", content: fill.repeat(350 * 1024) }],
        model_response: `answer of ${runId}`,
      });
    await handler(
      sqsEvent(sqsRecord(await upload("clobber-first", line("clobber-first", "a")))),
      lambdaContext(),
    );
    const first = await getCandidate("shared-huge-id");
    const bodyOf = async (key: string) =>
      (await (
        await aws.clients.s3.send(new GetObjectCommand({ Bucket: aws.resources.bucket, Key: key }))
      ).Body?.transformToString()) ?? "";
    const storedBody = await bodyOf(first?.body_ref.key);
    expect(JSON.parse(storedBody).model_response).toBe("answer of clobber-first");

    await handler(
      sqsEvent(sqsRecord(await upload("clobber-second", line("clobber-second", "b")))),
      lambdaContext(),
    );

    expect((await getRun("clobber-second"))?.counts).toMatchObject({
      lines: 1,
      imported: 0,
      quarantined_by_reason: { id_conflict: 1 },
    });
    const after = await getCandidate("shared-huge-id");
    expect(after).toEqual(first);
    expect(await bodyOf(after?.body_ref.key)).toBe(storedBody);
  });

  it("imports every candidate of a clean run as needs_review, with provenance and a run record", async () => {
    const body = await upload(CLEAN_RUN, runFile(CLEAN_RUN));
    const result = await handler(sqsEvent(sqsRecord(body)), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    const run = await getRun(CLEAN_RUN);
    expect(run).toMatchObject({
      state: "completed",
      source_key: runKey(CLEAN_RUN),
      counts: { lines: 30, imported: 30, skipped: 0, quarantined: 0 },
      quarantine_key: null,
    });
    expect(run?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(run?.capacity.write_units).toBeGreaterThan(0);
    const first = await getCandidate(`${CLEAN_RUN}-0000000`);
    expect(first).toMatchObject({
      status: "needs_review",
      version: 1,
      corrected_response: null,
      model_response: "Answer: 110",
      task_type: "math",
      provenance: { channel: "s3-upload", source_run_id: CLEAN_RUN, line: 1, model: "Qwen2.5-3B" },
    });
    expect(await candidatesOfRun(CLEAN_RUN)).toHaveLength(30);
  });

  it("imports the good lines of a damaged run and quarantines each bad line with its number and reason", async () => {
    const before = await counters();
    const body = await upload(DAMAGED_RUN, runFile(DAMAGED_RUN));
    const result = await handler(sqsEvent(sqsRecord(body)), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    const run = await getRun(DAMAGED_RUN);
    const { counts } = run as { counts: RunCounts };
    expect(counts.lines).toBe(47);
    expect(counts.imported + counts.skipped + counts.quarantined).toBe(counts.lines);
    expect(counts.imported).toBe(31);
    expect(counts.quarantined_by_reason).toEqual({
      invalid_json: 4,
      not_an_object: 3,
      duplicate_id: 3,
      invalid_field: 4,
      missing_id: 1,
      blank_line: 1,
    });
    const entries = await quarantineEntries(run?.quarantine_key);
    expect(entries).toHaveLength(counts.quarantined);
    expect(entries.map((e) => e.line).sort((a, b) => a - b)).toEqual([
      3, 4, 9, 11, 12, 14, 16, 22, 23, 24, 30, 31, 35, 38, 43, 45,
    ]);
    expect(entries.find((e) => e.line === 9)).toMatchObject({ reason: "duplicate_id", run_id: DAMAGED_RUN });
    expect(entries.find((e) => e.line === 43)?.detail).toContain("failure_category");

    // the ~500 KB prompt keeps its body in S3 rather than being refused
    const huge = await getCandidate(`${DAMAGED_RUN}-huge`);
    expect(huge?.body_ref?.key).toMatch(/^blobs\/candidates\//);
    expect(huge?.prompt_messages).toBeUndefined();
    const blob = await aws.clients.s3.send(
      new GetObjectCommand({ Bucket: aws.resources.bucket, Key: huge?.body_ref.key }),
    );
    const stored = JSON.parse((await blob.Body?.transformToString()) ?? "{}");
    expect(stored.prompt_messages[0].content.length).toBeGreaterThan(400_000);

    expect(await getCandidate(`${DAMAGED_RUN}-approved-upstream`)).toMatchObject({
      status: "needs_review",
      corrected_response: null,
      upstream: { status: "approved", corrected_response: "already fixed upstream" },
    });
    expect((await getCandidate(`${DAMAGED_RUN}-extra-fields`))?.tags).toEqual(["regression"]);
    expect((await getCandidate(`${DAMAGED_RUN}-unicode`))?.prompt_messages[0].content).toContain("café");
    const after = await counters();
    expect((after.total ?? 0) - (before.total ?? 0)).toBe(31);
    expect((after["status#needs_review"] ?? 0) - (before["status#needs_review"] ?? 0)).toBe(31);
  });

  it("changes nothing when the same notification is delivered again", async () => {
    const runId = "redelivered-run";
    const body = await upload(runId, runFile(CLEAN_RUN));
    await handler(sqsEvent(sqsRecord(body)), lambdaContext());
    const run = await getRun(runId);
    const before = await counters();

    const again = await handler(sqsEvent(sqsRecord(body)), lambdaContext());

    expect(again.batchItemFailures).toEqual([]);
    expect(await getRun(runId)).toEqual(run);
    expect(await counters()).toEqual(before);
  });

  it("keeps reviewed candidates' decisions when a run is uploaded again", async () => {
    const runId = "reuploaded-run";
    const lines = runFile(CLEAN_RUN).toString().replaceAll(CLEAN_RUN, runId);
    await handler(sqsEvent(sqsRecord(await upload(runId, lines))), lambdaContext());
    const reviewedId = `${runId}-0000003`;
    await aws.clients.dynamodb.send(
      new UpdateCommand({
        TableName: aws.resources.tableName,
        Key: keys.candidate(reviewedId),
        UpdateExpression: "SET #s = :s, corrected_response = :c",
        ExpressionAttributeNames: { "#s": "status" },
        ExpressionAttributeValues: { ":s": "approved", ":c": "a reviewer's fix" },
      }),
    );
    const before = await counters();

    await handler(sqsEvent(sqsRecord(await upload(runId, lines))), lambdaContext());

    expect((await getRun(runId))?.counts).toMatchObject({
      lines: 30,
      imported: 0,
      skipped: 30,
      quarantined: 0,
    });
    expect(await getCandidate(reviewedId)).toMatchObject({
      status: "approved",
      corrected_response: "a reviewer's fix",
    });
    expect(await counters()).toEqual(before);
  });

  it("finishes a crashed import on redelivery with exactly one copy of each candidate", async () => {
    const runId = "crashed-run";
    const lines = runFile(CLEAN_RUN).toString().replaceAll(CLEAN_RUN, runId);
    const body = await upload(runId, lines);
    const real = importRunDeps(aws.clients, {
      tableName: aws.resources.tableName,
      bucket: aws.resources.bucket,
    });
    let inserts = 0;
    const crashing: CandidateImportStore = {
      findExisting: (ids) => real.candidates.findExisting(ids),
      insertNew: async (candidates) => {
        inserts += 1;
        if (inserts > 2) throw new Error("simulated crash");
        return real.candidates.insertNew(candidates);
      },
    };
    const notification = JSON.parse(body).Records[0].s3.object;
    const upload1 = { bucket: aws.resources.bucket, key: runKey(runId), sequencer: notification.sequencer };
    const before = await counters();

    await expect(
      importRun({ ...real, candidates: crashing, limits: { chunkSize: 5, parallelChunks: 1 } }, upload1),
    ).rejects.toThrow("simulated crash");
    expect((await getRun(runId))?.state).toBe("failed");
    expect(await candidatesOfRun(runId)).toHaveLength(10);

    const result = await handler(sqsEvent(sqsRecord(body)), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect((await getRun(runId))?.counts).toMatchObject({
      lines: 30,
      imported: 30,
      skipped: 0,
      quarantined: 0,
    });
    expect(await candidatesOfRun(runId)).toHaveLength(30);
    const after = await counters();
    expect((after.total ?? 0) - (before.total ?? 0)).toBe(30);
  });

  it("refuses keys outside runs/<run_id>/sft_candidates.jsonl and decodes encoded keys", async () => {
    const outside = await upload("x", "{}", "runs/nested/deeper/other.jsonl");
    const spaced = await upload(
      "run with spaces",
      runFile(CLEAN_RUN).toString().replaceAll(CLEAN_RUN, "spaced"),
    );

    const result = await handler(sqsEvent(sqsRecord(outside), sqsRecord(spaced)), lambdaContext());

    expect(result.batchItemFailures).toEqual([]);
    expect(await getRun("nested/deeper")).toBeUndefined();
    expect((await getRun("run with spaces"))?.counts.imported).toBe(30);
  });

  it("reports a message that is not an S3 notification as a failure, alone", async () => {
    const good = sqsRecord(s3NotificationBody(aws.resources.bucket, runKey("never-uploaded")));
    const poison = sqsRecord("this is not json");

    const result = await handler(sqsEvent(poison, good), lambdaContext());

    expect(result.batchItemFailures).toEqual([{ itemIdentifier: poison.messageId }]);
  });
});

describe("S3RunObjects", () => {
  it("reads a run as ranged GETs whose bytes add up to the object", async () => {
    const bytes = runFile(DAMAGED_RUN);
    await aws.clients.s3.send(
      new PutObjectCommand({ Bucket: aws.resources.bucket, Key: runKey("ranged"), Body: bytes }),
    );
    const object = await new S3RunObjects(aws.clients.s3, 4_096).open(aws.resources.bucket, runKey("ranged"));
    const chunks: Uint8Array[] = [];
    for await (const chunk of object.body) chunks.push(chunk);

    expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
    expect(object.size).toBe(bytes.length);
  });

  it("says when the run object is missing", async () => {
    await expect(
      new S3RunObjects(aws.clients.s3).open(aws.resources.bucket, runKey("absent")),
    ).rejects.toThrow(RunObjectMissingError);
  });
});

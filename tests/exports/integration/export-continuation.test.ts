import { randomBytes } from "node:crypto";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import { beforeAll, describe, expect, it } from "vitest";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { ExportCheckpointTable } from "../../../lib/exports/adapters/export-checkpoints.ts";
import type { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import { S3ExportParts } from "../../../lib/exports/adapters/export-parts.ts";
import type { SqsExportQueue } from "../../../lib/exports/adapters/export-queue.ts";
import type { EvalItem } from "../../../lib/exports/domain/decontamination.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import type { ExportBuildDeps } from "../../../lib/exports/usecases/exports.ts";
import { MIN_PART_BYTES } from "../../../lib/exports/usecases/resumable-file.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import {
  approvedCandidate,
  checkpointObjects,
  continuedExportDeps,
  createExportJob,
  manifestFileHashes,
  putCandidates,
  receiveExportMessages,
  exportRecord as record,
  runThroughContinuations,
} from "../../support/export-continuation.ts";
import { mulberry32, seededWords } from "../../support/random.ts";

/**
 * An export forced to stop after every batch (its invocation's deadline always past) goes on
 * through its own queue, one invocation per batch, and writes the files of an export that ran in
 * one go, byte for byte; a redelivered message changes nothing.
 */
const RUN = "2026-06-01-000000-continuation";
const COUNT = 1_300;
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;

/** Eval items; some candidates quote one whole. */
const EVAL_ITEMS: EvalItem[] = Array.from({ length: 4 }, (_, i) => ({
  set: "gsm-held-out",
  item: `item-${i}`,
  text: seededWords(mulberry32(900 + i), 30),
}));

/**
 * About 8 KB each, so the dataset spans several 5 MiB parts: every 50th repeats the one before
 * (an exact duplicate), every 37th changes one word of it (a near-duplicate), every 41st quotes
 * an eval item.
 */
function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 1) + i * 1_000).toISOString();
  const base = i % 50 === 0 || i % 37 === 0 ? i - 1 : i;
  const next = mulberry32(base + 1);
  let prompt = `Problem ${base}: ${seededWords(next, 1_100)}`;
  const correction = `Answer ${base}: ${seededWords(next, 60)}`;
  if (i % 37 === 0 && i % 50 !== 0) prompt = prompt.replace(/ \S+$/, " changed");
  if (i % 41 === 0) prompt = `${prompt} ${EVAL_ITEMS[i % EVAL_ITEMS.length]?.text}`;
  return approvedCandidate(RUN, i, at, {
    id: `${RUN}-${String(i).padStart(6, "0")}`,
    prompt_messages: [
      { role: "system", content: "Solve it." },
      { role: "user", content: prompt },
    ],
    model_response: `Wrong ${i}: ${seededWords(mulberry32(5_000 + i), 20)}`,
    corrected_response: correction,
  });
}

beforeAll(async () => {
  aws = await provisionTestAws("xcont");
  ({ deps, jobs } = continuedExportDeps(aws, {
    evalSets: {
      async *items() {
        yield EVAL_ITEMS;
      },
    },
  }));
  await putCandidates(aws.clients.dynamodb, aws.resources.tableName, COUNT, candidate);
}, 240_000);

const handler = () => createExportRecordHandler(deps, { maxReceiveCount: 3 });
/** Its deadline already past (60 s left, 90 s kept back): every invocation stops after one batch. */
const shortContext = () => lambdaContext("export");

const createJob = (id: string, request: unknown) => createExportJob(jobs, id, request);
const receiveAll = () => receiveExportMessages(aws);
const fileHashes = (manifest: ExportManifest) => manifestFileHashes(aws, manifest);

async function succeeded(id: string): Promise<ExportManifest> {
  const job = await jobs.get(id);
  expect(job?.status, job?.error ?? "").toBe("succeeded");
  return job?.manifest as ExportManifest;
}

const VARIANTS = [
  { name: "openai-sft", request: { format: "openai-sft" } },
  { name: "trl-kto (its KTO blocks carried across invocations)", request: { format: "trl-kto" } },
  {
    name: "openai-sft with decontamination, near-duplicates and a validation split",
    request: {
      format: "openai-sft",
      options: { near_duplicate_threshold: 0.8, validation_fraction: 0.1 },
    },
  },
] as const;

describe("an export forced through many invocations", () => {
  VARIANTS.forEach(({ name, request }, v) => {
    it(`${name}: the same sha256 for every file as the export that ran in one go`, async () => {
      const whole = await createJob(`whole-${v}`, { ...request, filters: { run_id: RUN } });
      await handler()(record(JSON.stringify({ export_id: whole.id })));
      const reference = await succeeded(whole.id);
      expect(reference.counts.considered).toBe(COUNT);

      const forced = await createJob(`forced-${v}`, { ...request, filters: { run_id: RUN } });
      const invocations = await runThroughContinuations(aws, handler(), forced.id);
      const manifest = await succeeded(forced.id);

      // One invocation per batch of 100, and one that finds nothing left.
      expect(invocations).toBeGreaterThanOrEqual(Math.ceil(COUNT / 100));
      expect(manifest.counts).toEqual(reference.counts);
      expect(manifest.warnings).toEqual(reference.warnings);
      expect(await fileHashes(manifest)).toEqual(await fileHashes(reference));
      // Several parts, so tails and part lists went through checkpoints.
      expect(manifest.files.dataset.bytes).toBeGreaterThan(MIN_PART_BYTES);
      expect(manifest.started_at).toBe((await jobs.get(forced.id))?.started_at);
      expect(await checkpointObjects(aws, forced.id)).toEqual([]);
      if (v === 2) {
        expect(manifest.counts.by_reason.duplicate_content).toBeGreaterThan(0);
        expect(manifest.counts.by_reason.near_duplicate).toBeGreaterThan(0);
        expect(manifest.counts.by_reason.eval_contamination).toBeGreaterThan(0);
        expect(manifest.files.validation?.lines).toBeGreaterThan(0);
      }
    }, 240_000);
  });

  it("changes nothing on a redelivered message of an invocation that checkpointed", async () => {
    const request = { format: "openai-sft", filters: { run_id: RUN } };
    const job = await createJob("redelivered", request);
    const handle = handler();
    const first = JSON.stringify({ export_id: job.id });
    await handle(record(first, "first"), shortContext());
    const [second] = await receiveAll();
    expect(JSON.parse(second?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    await handle(record(second?.Body as string, "second"), shortContext());
    const [third] = await receiveAll();
    expect(JSON.parse(third?.Body as string)).toEqual({ export_id: job.id, continue_from: 2 });

    const stored = async () =>
      (
        await aws.clients.dynamodb.send(
          new GetCommand({
            TableName: aws.resources.tableName,
            Key: keys.exportJob(job.id),
            ConsistentRead: true,
          }),
        )
      ).Item;
    const before = await stored();
    const objects = await checkpointObjects(aws, job.id);
    expect(objects).toHaveLength(1);
    // The first message again, and the second: both superseded by checkpoint 2.
    await handle(record(first, "first", 2), shortContext());
    await handle(record(second?.Body as string, "second", 2), shortContext());
    expect(await stored()).toEqual(before);
    expect(await checkpointObjects(aws, job.id)).toEqual(objects);
    expect(await receiveAll()).toEqual([]);

    // The export goes on from the third message to the end, unharmed.
    let pending = [third?.Body as string];
    while (pending.length > 0) {
      for (const body of pending) await handle(record(body, "next"), shortContext());
      pending = (await receiveAll()).map((message) => message.Body as string);
    }
    const manifest = await succeeded(job.id);
    const whole = await createJob("redelivered-whole", request);
    await handle(record(JSON.stringify({ export_id: whole.id })));
    expect(await fileHashes(manifest)).toEqual(await fileHashes(await succeeded(whole.id)));
    // A redelivery once it succeeded changes nothing either.
    const done = await stored();
    await handle(record(third?.Body as string, "late", 3), shortContext());
    expect(await stored()).toEqual(done);
  }, 240_000);

  it("sends the continuation again when the invocation that saved the checkpoint could not", async () => {
    const request = { format: "openai-sft", filters: { run_id: RUN, limit: 250 } };
    const job = await createJob("unsent", request);
    const queue = deps.continuation?.queue as SqsExportQueue;
    const failing = { send: () => Promise.reject(new Error("SQS is unavailable")) };
    const broken = createExportRecordHandler(
      {
        ...deps,
        continuation: {
          ...(deps.continuation as NonNullable<ExportBuildDeps["continuation"]>),
          queue: failing,
        },
      },
      { maxReceiveCount: 3 },
    );
    const first = JSON.stringify({ export_id: job.id });
    await expect(broken(record(first, "first"), shortContext())).rejects.toThrow("SQS is unavailable");
    const pointer = await new ExportCheckpointTable(aws.clients.dynamodb, aws.resources.tableName).read(
      job.id,
    );
    expect(pointer).toMatchObject({ seq: 1, handed_on: false });
    expect(await receiveAll()).toEqual([]);

    // Redelivered, the first message only sends what was not sent.
    await handler()(record(first, "first", 2), shortContext());
    const [resent] = await receiveAll();
    expect(JSON.parse(resent?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    expect(queue).toBeDefined();
    let pending = [resent?.Body as string];
    while (pending.length > 0) {
      for (const body of pending) await handler()(record(body, "next"), shortContext());
      pending = (await receiveAll()).map((message) => message.Body as string);
    }
    expect((await succeeded(job.id)).counts.exported).toBe(250);
  }, 240_000);
});

describe("a checkpoint's state object", () => {
  it("is kept whole when larger than the bucket takes in one request (the emulator: 11 MiB)", async () => {
    const parts = new S3ExportParts(aws.clients.s3, aws.resources.bucket);
    // Fingerprint tables of a few million records, in the chunks the checkpoint hands over.
    const chunks = [randomBytes(9 * 1024 * 1024), randomBytes(7 * 1024 * 1024), randomBytes(12)];
    const key = "exports/state-size/checkpoints/1.bin";
    await parts.putBytes(key, chunks, "application/octet-stream");
    expect(Buffer.from(await parts.getBytes(key)).equals(Buffer.concat(chunks))).toBe(true);
  });
});

import { createHash } from "node:crypto";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { beforeAll, describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import { S3EvalSetStore } from "../../../lib/exports/adapters/evalset-store.ts";
import type { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import { storedEvalIndexes } from "../../../lib/exports/usecases/evalsets.ts";
import { type ExportContinuationDeps, loadResume } from "../../../lib/exports/usecases/export-checkpoint.ts";
import type { ExportBuildDeps } from "../../../lib/exports/usecases/exports.ts";
import { MIN_PART_BYTES } from "../../../lib/exports/usecases/resumable-file.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import {
  approvedCandidate,
  checkpointObjects,
  continuedExportDeps,
  createExportJob,
  exportRecord,
  manifestFileHashes,
  objectBytes,
  putCandidates,
  receiveExportMessages,
  runThroughContinuations,
} from "../../support/export-continuation.ts";
import { mulberry32 as random, seededWords as words } from "../../support/random.ts";

/**
 * A job of several formats forced to stop after every batch goes on through its own queue, every
 * format checkpointed, and writes the files of the job that ran in one go, byte for byte; the eval
 * set versions it started against are the ones its later invocations check, whatever happens to
 * the sets meanwhile — and a pinned version that is gone fails the job at once, saying why.
 */
const RUN = "2026-06-02-000000-multi-format";
const COUNT = 760;
const SET = "held-out";
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;
let store: S3EvalSetStore;
let continuation: ExportContinuationDeps;

/** The eval items some candidates quote (the set's first version). */
const QUOTED = Array.from({ length: 4 }, (_, i) => words(random(900 + i), 30));
const jsonl = (texts: readonly string[]) =>
  texts
    .map((text, i) => JSON.stringify({ id: `item-${i}`, question: text }))
    .join("\n")
    .concat("\n");
const FIRST_VERSION = jsonl(QUOTED);
/** The set replaced: items no candidate quotes. */
const SECOND_VERSION = jsonl(Array.from({ length: 4 }, (_, i) => words(random(7_000 + i), 30)));

/**
 * About 8 KB each, so every format's dataset spans several 5 MiB parts: every 50th repeats the one
 * before (an exact duplicate), every 37th changes one word of it (a near-duplicate), every 41st
 * quotes an eval item.
 */
function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 2) + i * 1_000).toISOString();
  const base = i % 50 === 0 || i % 37 === 0 ? i - 1 : i;
  const next = random(base + 1);
  let prompt = `Problem ${base}: ${words(next, 1_100)}`;
  const correction = `Answer ${base}: ${words(next, 60)}`;
  if (i % 37 === 0 && i % 50 !== 0) prompt = prompt.replace(/ \S+$/, " changed");
  if (i % 41 === 0) prompt = `${prompt} ${QUOTED[i % QUOTED.length]}`;
  return approvedCandidate(RUN, i, at, {
    id: `${RUN}-${String(i).padStart(6, "0")}`,
    prompt_messages: [
      { role: "system", content: "Solve it." },
      { role: "user", content: prompt },
    ],
    model_response: `Wrong ${i}: ${words(random(5_000 + i), 20)}`,
    corrected_response: correction,
  });
}

beforeAll(async () => {
  aws = await provisionTestAws("xmulti");
  store = new S3EvalSetStore(aws.clients.s3, aws.resources.bucket);
  // The export function's own: every registered set's stored index, from the bucket.
  ({ deps, jobs, continuation } = continuedExportDeps(aws, {
    evalIndexes: storedEvalIndexes({ evalSets: store }),
  }));
  await putCandidates(aws.clients.dynamodb, aws.resources.tableName, COUNT, candidate);
}, 240_000);

const handler = () => createExportRecordHandler(deps, { maxReceiveCount: 3 });
/** Its deadline already past (60 s left, 90 s kept back): every invocation stops after one batch. */
const shortContext = () => lambdaContext("export");

/**
 * Runs the export from its first message through every continuation it sends itself, `between`
 * after the first invocation; the format each checkpoint was of (0: the job's `format`).
 */
async function runForced(id: string, between?: () => Promise<void>) {
  const formatOfCheckpoint: number[] = [];
  const invocations = await runThroughContinuations(aws, handler(), id, async (invocations) => {
    const pointer = await continuation.checkpoints.read(id);
    const job = await jobs.get(id);
    if (pointer && job?.status === "running") {
      formatOfCheckpoint.push((await loadResume(continuation.parts, pointer)).header.formats?.index ?? 0);
    }
    if (invocations === 1) await between?.();
  });
  return { invocations, formatOfCheckpoint };
}

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");

/** Every document and sidecar under a prefix, by name relative to it, with its sha256. */
async function documentHashes(prefix: string): Promise<Record<string, string>> {
  const hashes: Record<string, string> = {};
  let token: string | undefined;
  do {
    const page = await aws.clients.s3.send(
      new ListObjectsV2Command({ Bucket: aws.resources.bucket, Prefix: prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const key = object.Key as string;
      hashes[key.slice(prefix.length)] = sha256(await objectBytes(aws, key));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return hashes;
}

async function succeeded(id: string): Promise<ExportManifest> {
  const job = await jobs.get(id);
  expect(job?.status, job?.error ?? "").toBe("succeeded");
  return job?.manifest as ExportManifest;
}

const BATCHES = Math.ceil(COUNT / 100);

/** A warning as two jobs over the same data share it: RAG's documents expiry by its code alone. */
const sameness = (warning: ExportManifest["warnings"][number]) =>
  warning.code === "documents_expire" ? { code: warning.code } : warning;

describe("a job of several formats forced through many invocations", () => {
  it("checkpoints every format and writes every file of the job that ran in one go, byte for byte", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const request = {
      format: "openai-sft",
      formats: ["trl-kto", "rag"],
      filters: { run_id: RUN },
      options: { near_duplicate_threshold: 0.8 },
    };
    const whole = await createExportJob(jobs, "multi-whole", request);
    await handler()(exportRecord(JSON.stringify({ export_id: whole.id })));
    const reference = await succeeded(whole.id);
    expect(reference.formats?.map((part) => part.format)).toEqual(["openai-sft", "trl-kto", "rag"]);

    const forced = await createExportJob(jobs, "multi-forced", request);
    const { invocations, formatOfCheckpoint } = await runForced(forced.id);
    const manifest = await succeeded(forced.id);

    // Each format read in batches of 100, one invocation each: none written in one go.
    expect(invocations).toBeGreaterThanOrEqual(3 * BATCHES);
    for (const index of [0, 1, 2]) {
      expect(formatOfCheckpoint.filter((at) => at === index).length).toBeGreaterThanOrEqual(BATCHES - 1);
    }
    expect(formatOfCheckpoint).toEqual([...formatOfCheckpoint].sort((a, b) => a - b));

    expect(manifest.counts).toEqual(reference.counts);
    expect(manifest.warnings).toEqual(reference.warnings);
    expect(manifest.decontamination).toEqual(reference.decontamination);
    expect(await manifestFileHashes(aws, manifest)).toEqual(await manifestFileHashes(aws, reference));
    expect(manifest.formats?.length).toBe(3);
    for (const [i, part] of (manifest.formats ?? []).entries()) {
      const same = reference.formats?.[i];
      expect(part.format).toBe(same?.format);
      expect(part.counts).toEqual(same?.counts);
      // The documents' expiry names the job and the time they were written; the rest is the same.
      expect(part.warnings.map(sameness)).toEqual(same?.warnings.map(sameness));
      expect(await manifestFileHashes(aws, part)).toEqual(
        await manifestFileHashes(aws, same as NonNullable<ExportManifest["formats"]>[number]),
      );
      // Several parts, so each format's tails and part lists went through checkpoints.
      expect(part.files.dataset.bytes).toBeGreaterThan(MIN_PART_BYTES);
      expect(part.counts.by_reason.eval_contamination).toBeGreaterThan(0);
      expect(part.counts.by_reason.near_duplicate).toBeGreaterThan(0);
    }
    const [, kto, rag] = manifest.formats ?? [];
    expect(kto?.files.dataset.key).toBe(`exports/${forced.id}/formats/trl-kto/dataset.jsonl`);
    expect(rag?.files.documents?.count).toBe(reference.formats?.[2]?.files.documents?.count);
    expect(await documentHashes(`exports/${forced.id}/formats/rag/documents/`)).toEqual(
      await documentHashes(`exports/${whole.id}/formats/rag/documents/`),
    );
    // The one manifest in the bucket is the job's, and no checkpoint is left.
    expect(JSON.parse((await objectBytes(aws, `exports/${forced.id}/manifest.json`)).toString())).toEqual(
      manifest,
    );
    expect(await checkpointObjects(aws, forced.id)).toEqual([]);
  }, 480_000);
});

describe("the eval set versions an export checks against", () => {
  const request = { format: "openai-sft", filters: { run_id: RUN } };

  it("stay those of its first invocation when a set is replaced while it goes on", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const [first] = await store.list(SET);
    const whole = await createExportJob(jobs, "pinned-whole", request);
    await handler()(exportRecord(JSON.stringify({ export_id: whole.id })));
    const reference = await succeeded(whole.id);
    expect(reference.decontamination?.sets).toEqual([{ name: SET, version: first?.version, items: 4 }]);
    expect(reference.counts.by_reason.eval_contamination).toBeGreaterThan(1);

    const forced = await createExportJob(jobs, "pinned-forced", request);
    let replaced: string | undefined;
    await runForced(forced.id, async () => {
      // Between the first invocation and the rest, the set becomes items nobody quotes.
      await store.putItems(SET, SECOND_VERSION);
      replaced = (await store.list(SET))[0]?.version;
    });
    expect(replaced).toBeDefined();
    expect(replaced).not.toBe(first?.version);
    const manifest = await succeeded(forced.id);
    expect(manifest.decontamination).toEqual(reference.decontamination);
    expect(manifest.counts).toEqual(reference.counts);
    expect(await manifestFileHashes(aws, manifest)).toEqual(await manifestFileHashes(aws, reference));

    // An export started now checks the set as it is.
    const after = await createExportJob(jobs, "pinned-after", request);
    await handler()(exportRecord(JSON.stringify({ export_id: after.id })));
    const now = await succeeded(after.id);
    expect(now.decontamination?.sets).toEqual([{ name: SET, version: replaced, items: 4 }]);
    expect(now.counts.by_reason.eval_contamination ?? 0).toBe(0);
  }, 480_000);

  it("fail the job at once, saying which, when a pinned version is gone", async () => {
    await store.putItems(SET, FIRST_VERSION);
    const [first] = await store.list(SET);
    const job = await createExportJob(jobs, "pinned-gone", request);
    const handle = handler();
    await handle(exportRecord(JSON.stringify({ export_id: job.id }), "first"), shortContext());
    const [next] = await receiveExportMessages(aws);
    expect(JSON.parse(next?.Body as string)).toEqual({ export_id: job.id, continue_from: 1 });
    expect(await checkpointObjects(aws, job.id)).toHaveLength(1);

    // The set removed (its indexes with it): the version the first batch was checked against is gone.
    expect(await store.remove(SET)).toBe(1);
    // Handled without a throw: the message is done, not retried.
    await handle(exportRecord(next?.Body as string, "second"), shortContext());
    const failed = await jobs.get(job.id);
    expect(failed?.status).toBe("failed");
    expect(failed?.error).toContain(`eval set ${SET} version ${first?.version}`);
    expect(failed?.error).toContain("is gone");
    expect(await receiveExportMessages(aws)).toEqual([]);
    expect(await checkpointObjects(aws, job.id)).toEqual([]);
  }, 240_000);
});

import { beforeAll, describe, expect, it } from "vitest";
import type { Candidate } from "../../../lib/common/domain/candidate.ts";
import type { ExportJobTable } from "../../../lib/exports/adapters/export-job-table.ts";
import type { ExportManifest } from "../../../lib/exports/domain/export-manifest.ts";
import { createExportRecordHandler } from "../../../lib/exports/edge/export-records.ts";
import type { ExportBuildDeps } from "../../../lib/exports/usecases/exports.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import {
  approvedCandidate,
  continuedExportDeps,
  createExportJob,
  exportRecord,
  manifestFileHashes,
  putCandidates,
  runThroughContinuations,
} from "../../support/export-continuation.ts";

/**
 * Same-task pairing across invocations: candidates of 40 tasks interleaved in the read, so every
 * task's group is still waiting when an invocation stops after its batch. The waiting groups and
 * the per-task counts go into the checkpoint, and the export forced through several invocations
 * writes the files of the one that ran in one go, byte for byte.
 */
const RUN = "2026-06-02-000000-same-task";
const COUNT = 320;
const TASKS = 40;
let aws: TestAws;
let deps: ExportBuildDeps;
let jobs: ExportJobTable;

function candidate(i: number): Candidate {
  const at = new Date(Date.UTC(2026, 5, 2) + i * 1_000).toISOString();
  const task = i % TASKS;
  return approvedCandidate(RUN, i, at, {
    id: `${RUN}-${String(i).padStart(5, "0")}`,
    prompt_messages: [
      { role: "system", content: "Solve it." },
      { role: "user", content: `Task ${task}: what is ${task} times 3?` },
    ],
    model_response: i % 9 === 0 ? `${task * 3}` : `Wrong answer ${i}`,
    corrected_response: i % 9 === 0 ? `${task * 3}` : `Answer ${i}: ${task * 3}`,
    failure_category: i % 5 === 0 ? "partial_answer" : "wrong_answer",
    task_id: `task-${task}`,
    model_name: `model-${i % 7}`,
  });
}

beforeAll(async () => {
  aws = await provisionTestAws("xpairs");
  ({ deps, jobs } = continuedExportDeps(aws));
  await putCandidates(aws.clients.dynamodb, aws.resources.tableName, COUNT, candidate);
}, 240_000);

const createJob = (id: string) =>
  createExportJob(jobs, id, {
    format: "trl-dpo",
    filters: { run_id: RUN },
    options: { pairing: "same_task", validation_fraction: 0.2 },
  });

describe("same-task pairs across invocations", () => {
  it("write the files of the export that ran in one go, byte for byte", async () => {
    const handle = createExportRecordHandler(deps, { maxReceiveCount: 3 });
    const whole = await createJob("pairs-whole");
    await handle(exportRecord(JSON.stringify({ export_id: whole.id }), "whole"));
    const reference = (await jobs.get(whole.id))?.manifest as ExportManifest;
    expect(reference.counts.considered).toBe(COUNT);
    // Every task made its 5 pairs (on each side of the split it has candidates on).
    expect(reference.counts.lines).toBeGreaterThanOrEqual(TASKS * 5);

    const forced = await createJob("pairs-forced");
    const invocations = await runThroughContinuations(aws, handle, forced.id);
    const job = await jobs.get(forced.id);
    expect(job?.status, job?.error ?? "").toBe("succeeded");
    const manifest = job?.manifest as ExportManifest;
    expect(invocations).toBeGreaterThanOrEqual(Math.ceil(COUNT / 100));
    expect(manifest.counts).toEqual(reference.counts);
    expect(await manifestFileHashes(aws, manifest)).toEqual(await manifestFileHashes(aws, reference));
  }, 240_000);
});

import { NotFoundError } from "../../common/domain/errors.ts";
import {
  continueFromOf,
  ExportCannotGoOnError,
  type ExportQueueMessage,
} from "../domain/export-continuation.ts";
import type { ExportJob } from "../domain/export-job.ts";
import type { ExportManifest } from "../domain/export-manifest.ts";
import {
  type ExportContinuationDeps,
  type ExportHandedOn,
  type ExportResume,
  type ExportSuperseded,
  loadResume,
  sendContinuation,
} from "./export-checkpoint.ts";
import { buildJobStep } from "./export-formats-job.ts";
import { type ExportBuildDeps, type RunLimits, runExportJob } from "./exports.ts";

/** How one message of the exports queue was handled. */
export type ExportInvocationOutcome =
  | { readonly status: "succeeded"; readonly manifest: ExportManifest }
  | ExportHandedOn
  | ExportSuperseded
  /** The job had finished already: the message changed nothing. */
  | { readonly status: "finished_already" }
  /** A redelivered message whose checkpoint's continuation had not gone out: it was sent again. */
  | { readonly status: "resent"; readonly seq: number };

/**
 * Handles one message of the exports queue. A job's first message starts it; a continuation
 * (`continue_from`) goes on from that checkpoint, and only while the job's checkpoint is still at
 * that sequence. So a redelivered message — the first one after the export checkpointed, or a
 * continuation another invocation has already taken further — changes nothing; the one exception
 * is a checkpoint whose continuation was never sent (the invocation that saved it failed before
 * it could), which a redelivered message sends.
 */
export async function runExportInvocation(
  deps: ExportBuildDeps,
  message: ExportQueueMessage,
  limits: RunLimits = {},
): Promise<ExportInvocationOutcome> {
  const exportId = message.export_id;
  const from = continueFromOf(message);
  const { continuation } = deps;
  const now = deps.now ?? (() => new Date());
  if (!continuation) {
    if (from !== undefined) return { status: "superseded", reason: "this deployment keeps no checkpoints" };
    const manifest = await runExportJob(deps, exportId, limits);
    return manifest ? { status: "succeeded", manifest } : { status: "finished_already" };
  }
  const pointer = await continuation.checkpoints.read(exportId);
  if (from === undefined && !pointer) {
    const startedAt = now().toISOString();
    const job = await deps.jobs.start(exportId, startedAt);
    if (!job) return { status: "finished_already" };
    return finish(deps, job, startedAt, limits, null);
  }
  const job = await deps.jobs.get(exportId);
  if (!job) throw new NotFoundError(`Export ${exportId} not found`);
  if (job.status !== "running") return { status: "finished_already" };
  if (!pointer || pointer.seq !== from) {
    // `from` is behind the job's checkpoint (or the job's first message came again).
    if (pointer && pointer.seq > (from ?? 0) && !pointer.handed_on) {
      await sendContinuation(continuation, exportId, pointer.seq);
      return { status: "resent", seq: pointer.seq };
    }
    return {
      status: "superseded",
      reason: `the export is at checkpoint ${pointer?.seq ?? 0}, this message continues from ${from ?? 0}`,
    };
  }
  if (!pointer.handed_on) await continuation.checkpoints.markHandedOn(exportId, pointer.seq);
  const resume = await loadResume(continuation.parts, pointer);
  try {
    return await finish(deps, job, resume.header.started_at, limits, resume);
  } catch (error) {
    if (error instanceof ExportCannotGoOnError) await dropCheckpoint(continuation.parts, resume);
    throw error;
  }
}

/** An export that cannot go on: its unfinished uploads aborted and its checkpoint's state removed. */
async function dropCheckpoint(parts: ExportContinuationDeps["parts"], resume: ExportResume): Promise<void> {
  for (const file of Object.values(resume.header.files.files)) {
    if (file.uploadId) await parts.abortUpload(file.key, file.uploadId).catch(() => undefined);
  }
  await parts.remove([resume.pointer.state_key]).catch(() => undefined);
}

/** Builds this invocation's share; the last one records the job succeeded and removes the checkpoint. */
async function finish(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits,
  resume: ExportResume | null,
): Promise<ExportInvocationOutcome> {
  // Every format of the job (`formats`), from the one its checkpoint is of.
  const step = await buildJobStep(deps, job, startedAt, limits, resume);
  if (step.status !== "finished") return step;
  const { manifest } = step;
  await deps.jobs.succeed(job.id, manifest);
  if (resume) await deps.continuation?.parts.remove([resume.pointer.state_key]).catch(() => undefined);
  return { status: "succeeded", manifest };
}

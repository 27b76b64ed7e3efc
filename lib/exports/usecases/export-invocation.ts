import { NotFoundError } from "../../common/domain/errors.ts";
import { continueFromOf, type ExportQueueMessage } from "../domain/export-continuation.ts";
import type { ExportJob } from "../domain/export-job.ts";
import type { ExportManifest } from "../domain/export-manifest.ts";
import {
  type ExportHandedOn,
  type ExportResume,
  type ExportSuperseded,
  loadResume,
  sendContinuation,
} from "./export-checkpoint.ts";
import { writeExtraFormats } from "./export-formats-job.ts";
import { buildExportStep, type ExportBuildDeps, type RunLimits, runExportJob } from "./exports.ts";

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
  return finish(deps, job, resume.header.started_at, limits, resume);
}

/** Builds this invocation's share; the last one records the job succeeded and removes the checkpoint. */
async function finish(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits,
  resume: ExportResume | null,
): Promise<ExportInvocationOutcome> {
  const step = await buildExportStep(deps, job, startedAt, limits, resume);
  if (step.status !== "finished") return step;
  // The job's other formats (`formats`), in this invocation, after its first.
  const manifest = await writeExtraFormats(deps, job, startedAt, limits, step.manifest);
  await deps.jobs.succeed(job.id, manifest);
  if (resume) await deps.continuation?.parts.remove([resume.pointer.state_key]).catch(() => undefined);
  return { status: "succeeded", manifest };
}

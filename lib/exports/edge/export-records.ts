import type { Context, SQSRecord } from "aws-lambda";
import { NotFoundError } from "../../common/domain/errors.ts";
import { appendLogKeys, logger } from "../../common/logger.ts";
import { type Metrics, metrics as processMetrics } from "../../common/metrics.ts";
import { correlatedRecords } from "../../common/observed.ts";
import { ExportCannotGoOnError, ExportQueueMessage } from "../domain/export-continuation.ts";
import { EXCLUSION_REASONS } from "../domain/export-firewall.ts";
import type { ExportManifest } from "../domain/export-manifest.ts";
import { EXPORT_METRICS } from "../metrics.ts";
import { runExportInvocation } from "../usecases/export-invocation.ts";
import type { ExportBuildDeps } from "../usecases/exports.ts";

/** Time kept back before the function's timeout to abort an unfinished export and record it. */
const STOP_MARGIN_MS = 30_000;
/**
 * With checkpoints, time kept back to settle the parts in flight, save the state (fingerprint
 * tables of millions of records included) and hand the rest on.
 */
export const CHECKPOINT_MARGIN_MS = 90_000;

/**
 * Handles one message of the exports queue: runs the job it names, or with checkpoints, this
 * invocation's share of it (a continuation goes on from its checkpoint). A failed attempt is written
 * on the job (so its status says why) and thrown, so this message alone is retried; on its last
 * delivery the job is marked failed before the message goes on to the dead-letter queue. A
 * message naming no job can never succeed and is dropped with a warning.
 */
export function createExportRecordHandler(
  deps: ExportBuildDeps,
  options: { maxReceiveCount: number; metrics?: Metrics },
) {
  const metrics = options.metrics ?? processMetrics;
  return correlatedRecords(async (record: SQSRecord, context?: Context): Promise<void> => {
    const message = ExportQueueMessage.parse(JSON.parse(record.body));
    const exportId = message.export_id;
    appendLogKeys({ export_id: exportId });
    // Stop in time to hand the rest on (or without checkpoints, to abort the uploads and record
    // why), instead of being cut off mid-write.
    const margin = deps.continuation ? CHECKPOINT_MARGIN_MS : STOP_MARGIN_MS;
    const deadlineNow = context ? () => Date.now() + context.getRemainingTimeInMillis() - margin : undefined;
    try {
      const outcome = await runExportInvocation(deps, message, { deadlineNow });
      const { messageId } = record;
      if (outcome.status === "succeeded") {
        countExport(metrics, outcome.manifest);
        logger.info("export written", { exportId, counts: outcome.manifest.counts });
      } else if (outcome.status === "handed_on") {
        logger.info("export handed on", { exportId, checkpoint: outcome.seq, counts: outcome.counts });
      } else if (outcome.status === "superseded") {
        logger.info("export message superseded", { exportId, messageId, reason: outcome.reason });
      } else if (outcome.status === "resent") {
        logger.info("export continuation sent again", { exportId, messageId, checkpoint: outcome.seq });
      } else logger.info("export already finished", { exportId, messageId });
    } catch (error) {
      if (error instanceof NotFoundError) {
        logger.warn("export job not found; message dropped", { exportId, messageId: record.messageId });
        return;
      }
      const at = (deps.now ?? (() => new Date()))().toISOString();
      if (error instanceof ExportCannotGoOnError) {
        // No retry could change it: the job fails now, saying why, and the message is done.
        logger.warn("export cannot go on; job failed", { exportId, reason: error.message });
        await deps.jobs.fail(exportId, error.message.slice(0, 1_000), at, true);
        return;
      }
      const deliveries = Number(record.attributes.ApproximateReceiveCount);
      const final = deliveries >= options.maxReceiveCount;
      const reason = `${final ? `gave up after ${deliveries} attempts: ` : `attempt ${deliveries} failed: `}${
        error instanceof Error ? error.message : String(error)
      }`.slice(0, 1_000);
      await deps.jobs
        .fail(exportId, reason, at, final)
        .catch((recordError: unknown) => logger.error("could not record the failure", recordError as Error));
      throw error;
    }
  });
}

/** Counts one export written: its records, and the candidates kept out by reason. */
function countExport(metrics: Metrics, manifest: ExportManifest): void {
  if (manifest.dry_run) return;
  metrics.count(EXPORT_METRICS.exports);
  metrics.count(EXPORT_METRICS.records, manifest.counts.exported);
  for (const reason of EXCLUSION_REASONS) {
    metrics.count(EXPORT_METRICS.quarantined, manifest.counts.by_reason[reason] ?? 0, reason);
  }
}

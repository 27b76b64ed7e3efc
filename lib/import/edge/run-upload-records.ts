import type { SQSRecord } from "aws-lambda";
import { logger } from "../../shared/logger.ts";
import { InvalidRunKeyError } from "../domain/run-upload.ts";
import { RunObjectMissingError } from "../ports.ts";
import { type ImportRunDeps, importRun } from "../usecases/import-run.ts";
import { uploadedObjectsIn } from "./s3-notification.ts";

/**
 * Handles one message of the run-uploads queue. Uploads that can never be imported (a key
 * outside `runs/<run_id>/sft_candidates.jsonl`, an object deleted since) are logged and
 * acknowledged; anything else that fails throws, so the message is retried and, past the
 * receive limit, kept in the dead-letter queue.
 */
export function createRunUploadRecordHandler(deps: ImportRunDeps) {
  return async (record: SQSRecord): Promise<void> => {
    for (const upload of uploadedObjectsIn(record.body)) {
      try {
        const outcome = await importRun(deps, upload);
        logger.info("run import finished", {
          messageId: record.messageId,
          key: upload.key,
          status: outcome.status,
          runId: outcome.runId,
          ...(outcome.status === "imported" ? { counts: outcome.summary.counts } : {}),
        });
      } catch (error) {
        if (error instanceof InvalidRunKeyError || error instanceof RunObjectMissingError) {
          logger.warn("run upload refused", {
            messageId: record.messageId,
            key: upload.key,
            reason: error.message,
          });
          continue;
        }
        throw error;
      }
    }
  };
}

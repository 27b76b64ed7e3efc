import type { SQSRecord } from "aws-lambda";
import { logger } from "../../common/logger.ts";
import { InvalidRunKeyError, runIdFromKey } from "../domain/run-upload.ts";
import type { ReviewSettingsStore } from "../ports.ts";
import { RunObjectMissingError } from "../ports.ts";
import { type ImportRunDeps, importRun } from "../usecases/import-run.ts";
import { uploadedObjectsIn } from "./s3-notification.ts";

/**
 * Handles one message of the run-uploads queue. Uploads that can never be imported (a key
 * outside `runs/<run_id>/sft_candidates.jsonl`, an object deleted since) are logged and
 * acknowledged; anything else that fails throws, so the message is retried and, past the
 * receive limit, kept in the dead-letter queue.
 */
export function createRunUploadRecordHandler(
  deps: ImportRunDeps,
  settings?: Pick<ReviewSettingsStore, "readRunsPrefix">,
) {
  return async (record: SQSRecord): Promise<void> => {
    for (const upload of uploadedObjectsIn(record.body)) {
      try {
        const runsPrefix = await configuredPrefixOf(upload.key, settings);
        const outcome = await importRun(deps, runsPrefix ? { ...upload, runsPrefix } : upload);
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

/**
 * The runs prefix the reviewers configured (a folder below `runs/`, such as `runs/nightly/`) when
 * `key` lies under it rather than directly under `runs/`; read only for such keys.
 */
async function configuredPrefixOf(
  key: string,
  settings: Pick<ReviewSettingsStore, "readRunsPrefix"> | undefined,
): Promise<string | undefined> {
  if (!settings) return undefined;
  try {
    runIdFromKey(key);
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidRunKeyError)) throw error;
  }
  const prefix = await settings.readRunsPrefix();
  return prefix && key.startsWith(prefix) ? prefix : undefined;
}

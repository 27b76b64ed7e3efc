import type { Context, SQSRecord } from "aws-lambda";
import { appendLogKeys, logger } from "../../common/logger.ts";
import { correlatedRecords } from "../../common/observed.ts";
import { continuationIn } from "../domain/continuation.ts";
import { InvalidRunKeyError, runIdFromKey } from "../domain/run-upload.ts";
import type { ReviewSettingsStore } from "../ports.ts";
import { RunObjectMissingError } from "../ports.ts";
import {
  deadlineOf,
  type ImportRunDeps,
  type ImportRunOptions,
  importRun,
  type RunUpload,
} from "../usecases/import-run.ts";
import { uploadedObjectsIn } from "./s3-notification.ts";

/**
 * Time an import keeps in hand before its function's timeout: enough to settle the chunks in
 * flight (each may wait out throttling), save the checkpoint and send the continuation.
 */
export const IMPORT_DEADLINE_RESERVE_MS = 90_000;

/**
 * Handles one message of the run-uploads queue: an S3 notification of uploaded runs, or the
 * continuation of an import that stopped before its deadline. With the invocation's context, an
 * import that runs short of time checkpoints and hands the rest on (when `deps` can). Uploads that
 * can never be imported (a key outside `runs/<run_id>/sft_candidates.jsonl`, an object deleted
 * since) are logged and acknowledged; anything else that fails throws, so the message is retried
 * and, past the receive limit, kept in the dead-letter queue.
 */
export function createRunUploadRecordHandler(
  deps: ImportRunDeps,
  settings?: Pick<ReviewSettingsStore, "readRunsPrefix">,
  reserveMs = IMPORT_DEADLINE_RESERVE_MS,
) {
  return correlatedRecords(async (record: SQSRecord, context?: Context): Promise<void> => {
    const deadline = context && deps.continuations ? deadlineOf(context, reserveMs) : undefined;
    const continuation = continuationIn(record.body);
    const work: { upload: RunUpload; options: ImportRunOptions }[] = continuation
      ? [{ upload: continuation, options: { deadline, continuationOf: continuation.importId } }]
      : await Promise.all(
          uploadedObjectsIn(record.body).map(async (upload) => {
            const runsPrefix = await configuredPrefixOf(upload.key, settings);
            return { upload: runsPrefix ? { ...upload, runsPrefix } : upload, options: { deadline } };
          }),
        );
    for (const { upload, options } of work) {
      try {
        const outcome = await importRun(deps, upload, {
          ...options,
          onStart: ({ runId, importId }) => appendLogKeys({ run_id: runId, import_id: importId }),
        });
        logger.info(outcome.status === "handed_on" ? "run import handed on" : "run import finished", {
          messageId: record.messageId,
          key: upload.key,
          status: outcome.status,
          runId: outcome.runId,
          ...(outcome.status === "imported" ? { counts: outcome.summary.counts } : {}),
          ...(outcome.status === "handed_on" ? { counts: outcome.counts } : {}),
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
  });
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

import type { SQSRecord } from "aws-lambda";
import { appendLogKeys, logger } from "../../common/logger.ts";
import { correlatedRecords } from "../../common/observed.ts";
import { JudgeBusyError } from "../../eval/ports.ts";
import { SuggestMessage } from "../domain/job.ts";
import { type SuggestCandidateDeps, suggestCandidate } from "../usecases/suggest-candidate.ts";

/**
 * Handles one message of the suggestion queue. A failure of the model is counted on the job and
 * the message is done; anything else (a busy model, a store failure) throws so the batch reports
 * this message alone for a retry. On its last delivery the failure is counted first (`busy` for a
 * model that kept shedding load, else `gave_up`), so the job still finishes while the message
 * goes on to the dead-letter queue.
 */
export function createSuggestRecordHandler(deps: SuggestCandidateDeps, options: { maxReceiveCount: number }) {
  return correlatedRecords(async (record: SQSRecord): Promise<void> => {
    const message = SuggestMessage.parse(JSON.parse(record.body));
    appendLogKeys({ suggestion_job_id: message.job_id, candidate_id: message.candidate_id });
    try {
      const outcome = await suggestCandidate(deps, message);
      const fields = { messageId: record.messageId, ...message, outcome: outcome.status };
      if (outcome.status === "failed")
        logger.warn("suggestion failed", { ...fields, reason: outcome.reason, error: outcome.error });
      else logger.info("candidate handled", fields);
    } catch (error) {
      const deliveries = Number(record.attributes.ApproximateReceiveCount);
      if (deliveries >= options.maxReceiveCount) {
        const reason = error instanceof JudgeBusyError ? "busy" : "gave_up";
        const at = (deps.now ?? (() => new Date()))().toISOString();
        await deps.store
          .recordOutcome(
            message.job_id,
            message.candidate_id,
            {
              kind: "failed",
              reason,
              error: `gave up after ${deliveries} deliveries: ${(error as Error).message}`,
            },
            at,
          )
          .then(() => deps.store.completeIfFinished(message.job_id, at))
          .catch((recordError: unknown) =>
            logger.error("could not record the failure", recordError as Error),
          );
      }
      throw error;
    }
  });
}

import type { SQSRecord } from "aws-lambda";
import { appendLogKeys, logger } from "../../common/logger.ts";
import { correlatedRecords } from "../../common/observed.ts";
import { JudgeMessage } from "../domain/judge-run.ts";
import { type JudgeSessionDeps, judgeSession } from "../usecases/judge-session.ts";

/**
 * Handles one message of the judge queue. A judge failure is recorded on the session and the
 * message is done; anything else throws so the batch reports this message alone for a retry.
 * On its last delivery the failure is recorded first, so the run still finishes while the
 * message itself goes on to the dead-letter queue.
 */
export function createJudgeRecordHandler(deps: JudgeSessionDeps, options: { maxReceiveCount: number }) {
  return correlatedRecords(async (record: SQSRecord): Promise<void> => {
    const message = JudgeMessage.parse(JSON.parse(record.body));
    appendLogKeys({ judge_run_id: message.run_id, session_id: message.session_id });
    try {
      const outcome = await judgeSession(deps, message);
      const fields = { messageId: record.messageId, ...message, outcome: outcome.status };
      if (outcome.status === "failed")
        logger.warn("session judging failed", { ...fields, error: outcome.error });
      else logger.info("session judged", fields);
    } catch (error) {
      const deliveries = Number(record.attributes.ApproximateReceiveCount);
      if (deliveries >= options.maxReceiveCount) {
        const reason = `gave up after ${deliveries} deliveries: ${(error as Error).message}`;
        const at = (deps.now ?? (() => new Date()))().toISOString();
        await deps.runs
          .recordFailure(message.run_id, message.session_id, reason, at)
          .then(() => deps.runs.completeIfFinished(message.run_id, at))
          .catch((recordError: unknown) =>
            logger.error("could not record the failure", recordError as Error),
          );
      }
      throw error;
    }
  });
}

import type { SQSRecord } from "aws-lambda";
import { logger } from "../../common/logger.ts";
import { correlatedRecords } from "../../common/observed.ts";
import { type IngestCorrectionDeps, ingestCorrectionDelivery } from "../usecases/ingest-correction.ts";

/**
 * Handles one message of the corrections queue. It returns for a message that is stored, was
 * stored before, or was quarantined (all of which are acknowledged) and throws for a passing
 * failure, which the batch reports so that only this message is retried.
 */
export function createCorrectionRecordHandler(
  deps: IngestCorrectionDeps,
  now: () => Date = () => new Date(),
) {
  return correlatedRecords(async (record: SQSRecord): Promise<void> => {
    const sentAt = Number(record.attributes.SentTimestamp);
    const outcome = await ingestCorrectionDelivery(deps, {
      messageId: record.messageId,
      body: record.body,
      principal: record.attributes.SenderId ? `sqs:${record.attributes.SenderId}` : "sqs",
      receivedAt: (Number.isFinite(sentAt) && sentAt > 0 ? new Date(sentAt) : now()).toISOString(),
    });
    if (outcome.status === "quarantined") {
      logger.warn("correction quarantined", {
        messageId: record.messageId,
        reason: outcome.reason,
        key: outcome.key,
      });
    } else if (outcome.warnings.length > 0) {
      // Stored, but no export will take it until its provenance is complete.
      logger.warn("correction ingested without complete provenance", {
        messageId: record.messageId,
        status: outcome.status,
        id: outcome.id,
        warnings: outcome.warnings,
      });
    } else {
      logger.info("correction ingested", {
        messageId: record.messageId,
        status: outcome.status,
        id: outcome.id,
      });
    }
  });
}

import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/adapters/aws-clients.ts";
import { ingestCorrectionDeps } from "../lib/adapters/ingest-correction-deps.ts";
import { BaseConfig, loadConfig } from "../lib/config.ts";
import { logger } from "../lib/observability/logger.ts";
import { createCorrectionRecordHandler } from "../lib/usecases/correction-records.ts";

const config = loadConfig(BaseConfig);
const deps = ingestCorrectionDeps(createAwsClients(config), {
  tableName: config.TABLE_NAME,
  bucket: config.BUCKET_NAME,
});
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createCorrectionRecordHandler(deps);

/** corrections queue → one approved record per message; poison messages are quarantined, not retried. */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return processPartialResponse(event, recordHandler, processor, { context });
};

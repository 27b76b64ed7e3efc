import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/adapters/aws-clients.ts";
import { importRunDeps } from "../lib/adapters/import-run-deps.ts";
import { BaseConfig, loadConfig } from "../lib/config.ts";
import { logger } from "../lib/observability/logger.ts";
import { createRunUploadRecordHandler } from "../lib/usecases/run-upload-records.ts";

const config = loadConfig(BaseConfig);
const deps = importRunDeps(createAwsClients(config), {
  tableName: config.TABLE_NAME,
  bucket: config.BUCKET_NAME,
});
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createRunUploadRecordHandler(deps);

/** run-uploads queue → one import per S3 notification; failed messages are reported, not thrown. */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return processPartialResponse(event, recordHandler, processor, { context });
};

import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { ImportConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { createRunUploadRecordHandler } from "../lib/import/edge/run-upload-records.ts";
import { importRunDeps, runsPrefixSettings } from "../lib/import/wiring.ts";

const config = loadConfig(ImportConfig);
const clients = createAwsClients(config);
const names = {
  tableName: config.TABLE_NAME,
  bucket: config.BUCKET_NAME,
  runUploadsQueueUrl: config.RUN_UPLOADS_QUEUE_URL,
};
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createRunUploadRecordHandler(
  importRunDeps(clients, names),
  runsPrefixSettings(clients, names),
);

/** run-uploads queue → one import per S3 notification or continuation; failed messages are reported, not thrown. */
export const handler = observedHandler((event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context }),
);

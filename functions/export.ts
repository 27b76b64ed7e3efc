import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createExportRecordHandler } from "../lib/exports/edge/export-records.ts";
import { exportBuildDeps } from "../lib/exports/wiring.ts";
import { createAwsClients } from "../lib/shared/adapters/aws-clients.ts";
import { ExportConfig, loadConfig } from "../lib/shared/config.ts";
import { logger } from "../lib/shared/logger.ts";
import { QUEUES } from "../lib/shared/resources.ts";

const config = loadConfig(ExportConfig);
const deps = exportBuildDeps(createAwsClients(config), config);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createExportRecordHandler(deps, { maxReceiveCount: QUEUES.exports.maxReceiveCount });

/** exports queue → one export job streamed to S3 per message; a failed job is reported alone. */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return processPartialResponse(event, recordHandler, processor, { context });
};

import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { ExportRunConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { QUEUES } from "../lib/common/resources.ts";
import { createExportRecordHandler } from "../lib/exports/edge/export-records.ts";
import { exportRunDeps } from "../lib/exports/wiring.ts";

const config = loadConfig(ExportRunConfig);
const deps = exportRunDeps(createAwsClients(config), config);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createExportRecordHandler(deps, { maxReceiveCount: QUEUES.exports.maxReceiveCount });

/** exports queue → one export job streamed to S3 per message; a failed job is reported alone. */
export const handler = observedHandler((event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context }),
);

import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { IngestQueueConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { createCorrectionRecordHandler } from "../lib/ingest/edge/correction-records.ts";
import { ingestCorrectionDeps } from "../lib/ingest/wiring.ts";

const config = loadConfig(IngestQueueConfig);
const deps = ingestCorrectionDeps(
  createAwsClients(config),
  { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME },
  { senders: config.INGEST_QUEUE_SENDERS, sourceDefaults: config.INGEST_SOURCE_DEFAULTS },
);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createCorrectionRecordHandler(deps);

/** corrections queue → one approved record per message; poison messages are quarantined, not retried. */
export const handler = observedHandler((event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context }),
);

import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { JudgeConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { QUEUES } from "../lib/common/resources.ts";
import { createSuggestRecordHandler } from "../lib/suggest/edge/suggest-records.ts";
import { suggestDeps } from "../lib/suggest/wiring.ts";

const config = loadConfig(JudgeConfig);
const deps = suggestDeps(createAwsClients(config), config);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createSuggestRecordHandler(deps, {
  maxReceiveCount: QUEUES.suggestions.maxReceiveCount,
});

/** suggestions queue → one candidate's suggested correction per message; a model failure is counted, never thrown. */
export const handler = observedHandler((event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context }),
);

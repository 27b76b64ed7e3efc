import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/adapters/aws-clients.ts";
import { judgeDeps } from "../lib/adapters/eval-deps.ts";
import { JudgeConfig, loadConfig } from "../lib/config.ts";
import { logger } from "../lib/observability/logger.ts";
import { QUEUES } from "../lib/resources.ts";
import { createJudgeRecordHandler } from "../lib/usecases/judge-records.ts";

const config = loadConfig(JudgeConfig);
const deps = judgeDeps(createAwsClients(config), config);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createJudgeRecordHandler(deps, { maxReceiveCount: QUEUES.judge.maxReceiveCount });

/** judge queue → one session judged per message; a judge failure is recorded, never thrown. */
export const handler = async (event: SQSEvent, context: Context) => {
  logger.addContext(context);
  return processPartialResponse(event, recordHandler, processor, { context });
};

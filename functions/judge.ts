import { BatchProcessor, EventType, processPartialResponse } from "@aws-lambda-powertools/batch";
import type { Context, SQSEvent } from "aws-lambda";
import { createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { JudgeConfig, loadConfig } from "../lib/common/config.ts";
import { observedHandler } from "../lib/common/observed.ts";
import { QUEUES } from "../lib/common/resources.ts";
import { createJudgeRecordHandler } from "../lib/eval/edge/judge-records.ts";
import { judgeDeps } from "../lib/eval/wiring.ts";

const config = loadConfig(JudgeConfig);
const deps = judgeDeps(createAwsClients(config), config);
const processor = new BatchProcessor(EventType.SQS);
const recordHandler = createJudgeRecordHandler(deps, { maxReceiveCount: QUEUES.judge.maxReceiveCount });

/** judge queue → one session judged per message; a judge failure is recorded, never thrown. */
export const handler = observedHandler((event: SQSEvent, context: Context) =>
  processPartialResponse(event, recordHandler, processor, { context }),
);

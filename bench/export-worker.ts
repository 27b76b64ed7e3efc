/**
 * One export, in a process of its own so its peak memory is the export's alone: invokes the real
 * export handler on the job's queue message and prints a JSON line with what it measured.
 * Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints), like a Lambda.
 */
import { performance } from "node:perf_hooks";
import { QUEUES } from "../lib/common/resources.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { measureHandler } from "./worker.ts";

const [exportId] = process.argv.slice(2) as [string];
const { handler } = await import("../functions/export.ts");
await measureHandler((started) =>
  handler(sqsEvent(sqsRecord(JSON.stringify({ export_id: exportId }))), {
    ...lambdaContext("bench-export"),
    // The deployed function's time limit, as Lambda would count it down.
    getRemainingTimeInMillis: () =>
      QUEUES.exports.handlerTimeoutSeconds * 1000 - (performance.now() - started),
  }),
);

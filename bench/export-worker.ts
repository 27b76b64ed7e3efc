/**
 * One export, in a process of its own so its peak memory is the export's alone: invokes the real
 * export handler on the job's queue message and prints a JSON line with what it measured.
 * Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints), like a Lambda.
 */
import { performance } from "node:perf_hooks";
import { QUEUES } from "../lib/resources.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { peakRssMb } from "./peak-rss.ts";

const [exportId] = process.argv.slice(2) as [string];
const { handler } = await import("../functions/export.ts");
let heapPeak = 0;
const sampler = setInterval(() => {
  heapPeak = Math.max(heapPeak, process.memoryUsage().heapUsed);
}, 50);
const started = performance.now();
// The deployed function's time limit, as Lambda would count it down.
const context = {
  ...lambdaContext("bench-export"),
  getRemainingTimeInMillis: () => QUEUES.exports.handlerTimeoutSeconds * 1000 - (performance.now() - started),
};
const result = await handler(sqsEvent(sqsRecord(JSON.stringify({ export_id: exportId }))), context);
const durationMs = performance.now() - started;
clearInterval(sampler);
process.stdout.write(
  `${JSON.stringify({
    durationMs,
    failures: result.batchItemFailures.length,
    maxRssMb: peakRssMb(),
    heapPeakMb: heapPeak / 1024 / 1024,
  })}\n`,
);

/**
 * One import, in a process of its own so its peak memory is the import's alone: invokes the real
 * run-uploads handler on an S3 notification and prints a JSON line with what it measured.
 * Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints), like a Lambda.
 */
import { performance } from "node:perf_hooks";
import { lambdaContext, s3NotificationBody, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { peakRssMb } from "./peak-rss.ts";

const [bucket, key, eTag] = process.argv.slice(2) as [string, string, string];
const { handler } = await import("../functions/import-run.ts");
let heapPeak = 0;
let ticks = 0;
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  heapPeak = Math.max(heapPeak, usage.heapUsed);
  if (process.env.FLYWHEEL_BENCH_MEMORY_TRACE && ++ticks % 40 === 0) {
    const mb = (n: number) => Math.round(n / 2 ** 20);
    process.stderr.write(
      `rss ${mb(usage.rss)} heap ${mb(usage.heapUsed)} external ${mb(usage.external)} buffers ${mb(usage.arrayBuffers)}\n`,
    );
  }
}, 50);
const started = performance.now();
const result = await handler(
  sqsEvent(sqsRecord(s3NotificationBody(bucket, key, { eTag }))),
  lambdaContext("bench"),
);
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

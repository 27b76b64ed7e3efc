/**
 * One import, in a process of its own so its peak memory is the import's alone: invokes the real
 * run-uploads handler on an S3 notification and prints a JSON line with what it measured.
 * Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints), like a Lambda.
 */
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { lambdaContext, s3NotificationBody, sqsEvent, sqsRecord } from "../tests/support/events.ts";

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
    maxRssMb: peakRssKb() / 1024,
    heapPeakMb: heapPeak / 1024 / 1024,
  })}\n`,
);

/**
 * This process's own peak resident memory, in KiB. Linux keeps `ru_maxrss` across fork and exec,
 * so `process.resourceUsage().maxRSS` of a child reports at least its parent's RSS at the fork (the
 * bench driver, which holds the emulated bucket). `VmHWM` is the high-water mark of the address
 * space this process got at exec, so it is the import's alone.
 */
function peakRssKb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]);
  } catch {
    // Not Linux: fall through to getrusage, an upper bound there.
  }
  return process.resourceUsage().maxRSS;
}

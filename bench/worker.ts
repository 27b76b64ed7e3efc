/**
 * Benchmark workers: a handler run in a process of its own, so its peak memory is the handler's
 * alone. The driver side spawns one and reads back the JSON line the worker side prints.
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";

export interface WorkerMeasure {
  readonly durationMs: number;
  readonly failures: number;
  readonly maxRssMb: number;
  readonly heapPeakMb: number;
}

/**
 * Runs `bench/<script>` with `args` under Node with tsx (and `nodeFlags` first), or a bundled
 * worker (an absolute path ending `.mjs`) under Node alone, in the handlers' environment; fails when the worker exits badly or its handler reported a failed message.
 */
export function runWorker(
  script: string,
  args: readonly string[],
  handlerEnv: Record<string, string>,
  nodeFlags: readonly string[] = [],
): Promise<WorkerMeasure> {
  return new Promise((resolve, reject) => {
    // A bundle (`.mjs`, built by bench/bundle.ts) runs under Node alone, as Lambda runs one.
    const entry = script.endsWith(".mjs") ? [script] : ["--import", "tsx", join(import.meta.dirname, script)];
    const child = spawn(process.execPath, [...nodeFlags, ...entry, ...args], {
      env: { ...process.env, ...handlerEnv, POWERTOOLS_LOG_LEVEL: "WARN" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}: ${output}`));
      const result = JSON.parse(output.trim().split("\n").at(-1) ?? "") as WorkerMeasure;
      if (result.failures > 0) return reject(new Error(`${script}: the handler reported a failed message`));
      resolve(result);
    });
  });
}

/**
 * The worker side: runs `invoke` (given the time it started) while sampling the heap, then prints
 * the measure as one JSON line. `FLYWHEEL_BENCH_MEMORY_TRACE=1` also traces memory to stderr.
 */
export async function measureHandler(
  invoke: (
    started: number,
  ) => Promise<{ batchItemFailures: readonly unknown[]; extra?: Record<string, unknown> }>,
): Promise<void> {
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
  const result = await invoke(started);
  const durationMs = performance.now() - started;
  clearInterval(sampler);
  const measure: WorkerMeasure = {
    // What the worker reports besides (an export's invocations), first so it never hides these.
    ...result.extra,
    durationMs,
    failures: result.batchItemFailures.length,
    maxRssMb: peakRssMb(),
    heapPeakMb: heapPeak / 1024 / 1024,
  };
  process.stdout.write(`${JSON.stringify(measure)}\n`);
}

/**
 * This process's own peak resident memory, in MiB. Linux keeps `ru_maxrss` across fork and exec,
 * so `process.resourceUsage().maxRSS` of a child reports at least its parent's RSS at the fork (for
 * a benchmark worker, the driver that holds the emulated bucket). `VmHWM` is the high-water mark of
 * the address space this process got at exec, so it is the worker's alone.
 */
function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // Not Linux: getrusage below, an upper bound there.
  }
  return process.resourceUsage().maxRSS / 1024;
}

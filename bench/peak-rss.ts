import { readFileSync } from "node:fs";

/**
 * This process's own peak resident memory, in MiB. Linux keeps `ru_maxrss` across fork and exec,
 * so `process.resourceUsage().maxRSS` of a child reports at least its parent's RSS at the fork (for
 * a benchmark worker, the driver that holds the emulated bucket). `VmHWM` is the high-water mark of
 * the address space this process got at exec, so it is the worker's alone.
 */
export function peakRssMb(): number {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (hwm) return Number(hwm[1]) / 1024;
  } catch {
    // Not Linux: getrusage below, an upper bound there.
  }
  return process.resourceUsage().maxRSS / 1024;
}

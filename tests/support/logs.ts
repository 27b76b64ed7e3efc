import { vi } from "vitest";
import { logger } from "../../lib/common/logger.ts";

/** The lines `work` writes to stdout and stderr, kept from the terminal. */
export async function writtenLines(work: () => Promise<unknown>): Promise<string[]> {
  const chunks: string[] = [];
  const capture = (chunk: unknown) => {
    chunks.push(String(chunk));
    return true;
  };
  const out = vi.spyOn(process.stdout, "write").mockImplementation(capture);
  const err = vi.spyOn(process.stderr, "write").mockImplementation(capture);
  try {
    await work();
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return chunks.join("").split("\n").filter(Boolean);
}

/**
 * The lines the process's logger writes (stdout and stderr) at INFO and above while `work` runs
 * (the test environment keeps it silent otherwise). Tests run outside Lambda, so they are the
 * readable lines: `… message  key=value …`.
 */
export async function capturedLogLines(work: () => Promise<unknown>): Promise<string[]> {
  const level = logger.getLevelName();
  logger.setLogLevel("INFO");
  try {
    return await writtenLines(work);
  } finally {
    logger.setLogLevel(level);
  }
}

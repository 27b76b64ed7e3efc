import { join } from "node:path";

/** The project's own sample data: runs, corrections and chat sessions (see samples/README.md). */
export const SAMPLES_DIR = import.meta.dirname;

export const CLEAN_RUN_ID = "2026-04-07-143022";
export const DAMAGED_RUN_ID = "2026-04-09-080000-damaged";

/** The path of a file of the samples, e.g. `samplePath("corrections", "valid.jsonl")`. */
export const samplePath = (...parts: string[]): string => join(SAMPLES_DIR, ...parts);

/** The `sft_candidates.jsonl` of a sample run. */
export const sampleRunFile = (runId: string): string => samplePath("runs", runId, "sft_candidates.jsonl");

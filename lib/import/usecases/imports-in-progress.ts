import type { RunCounts } from "../ports.ts";

/** An import running in this process, with its counts as they grow. */
export interface ImportInProgress {
  readonly runId: string;
  readonly importId: string;
  readonly key: string;
  readonly sizeBytes: number;
  readonly counts: Readonly<RunCounts>;
}

const running = new Set<ImportInProgress>();

/**
 * The imports this process is running now. A host that stops on request (the local runtime's
 * Ctrl-C) reads it to say what it is waiting for; in Lambda nobody asks.
 */
export function importsInProgress(): ImportInProgress[] {
  return [...running];
}

/** Lists `entry` until the returned function is called. */
export function trackImport(entry: ImportInProgress): () => void {
  running.add(entry);
  return () => {
    running.delete(entry);
  };
}

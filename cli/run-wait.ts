import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { GetObjectCommand, HeadObjectCommand, paginateListObjectsV2 } from "@aws-sdk/client-s3";
import type { Reply } from "../lib/api/types.ts";
import { BUCKET_PREFIXES, RUN_UPLOAD } from "../lib/common/resources.ts";
import { WaitTimeoutError } from "./output.ts";
import { type ApiTarget, callRoute, type Target } from "./target.ts";

/** A run's entry of `GET /api/sft/runs`, as the API's contract has it (lib/api/types.ts). */
export type RunListing = Reply<"GET /api/sft/runs">[number];

/** The import's outcome as `runs upload --wait` reports it. */
export interface ImportResult {
  readonly state: "completed" | "failed";
  readonly imported: number | null;
  readonly skipped: number | null;
  readonly quarantined: number | null;
  /**
   * Quarantined lines by reason, counted from the import's quarantine file in the bucket
   * (`quarantine/runs/<run_id>/<import_id>.jsonl`); `null` when it could not be read (no API
   * route gives them, so `by_reason_note` says why).
   */
  readonly by_reason: Record<string, number> | null;
  readonly by_reason_source: string | null;
  readonly by_reason_note?: string;
  readonly waited_ms: number;
}

export interface WaitOptions {
  readonly timeoutMs: number;
  /** First poll interval; it grows by half each poll up to `maxIntervalMs`. */
  readonly intervalMs?: number;
  readonly maxIntervalMs?: number;
  /** The run's entry before the upload; a re-upload is followed until its entry changes. */
  readonly before?: RunListing | undefined;
  readonly progress?: ((line: string, final?: boolean) => void) | undefined;
}

/** The run's entry of `GET /api/sft/runs`, if it has one. */
export async function runEntry(api: ApiTarget, runId: string): Promise<RunListing | undefined> {
  const runs = await callRoute(api, "GET /api/sft/runs", "/api/sft/runs");
  return runs.find((run) => run.run_id === runId);
}

const TERMINAL = new Set(["completed", "failed"]);
const sameEntry = (a: RunListing | undefined, b: RunListing | undefined) =>
  JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Follows a run's import through `GET /api/sft/runs` until it completes or fails. A run that had
 * a finished import before this upload counts as done once its entry was seen importing or
 * changed; a new run, once it reaches a final state. Throws {@link WaitTimeoutError} past the timeout.
 */
export async function waitForImport(
  api: ApiTarget,
  runId: string,
  options: WaitOptions,
): Promise<RunListing> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const maxInterval = options.maxIntervalMs ?? 5_000;
  let interval = options.intervalMs ?? 250;
  const previousFinished = options.before && TERMINAL.has(options.before.import_state ?? "");
  let seenNew = !previousFinished;
  for (;;) {
    const entry = await runEntry(api, runId);
    const state = entry?.import_state ?? null;
    if (state === "importing" || !sameEntry(entry, options.before)) seenNew = true;
    if (entry && seenNew && TERMINAL.has(state ?? "")) {
      options.progress?.(progressLine(runId, entry, started), true);
      return entry;
    }
    options.progress?.(progressLine(runId, entry, started));
    if (Date.now() + interval > deadline) {
      const what = entry ? `is ${state ?? "not imported yet"}` : "has no entry in GET /api/sft/runs yet";
      const same =
        previousFinished && !seenNew
          ? " (its entry still shows the previous import's counts; an identical re-import that finished between two polls cannot be told apart)"
          : "";
      throw new WaitTimeoutError(
        `run ${runId} ${what} after ${Math.round((Date.now() - started) / 1000)} s; gave up waiting${same}`,
      );
    }
    await sleep(interval);
    interval = Math.min(Math.round(interval * 1.5), maxInterval);
  }
}

function progressLine(runId: string, entry: RunListing | undefined, started: number): string {
  const seconds = Math.round((Date.now() - started) / 1000);
  if (!entry?.import_state) return `run ${runId}: waiting for the import to start (${seconds} s)`;
  const n = (value: number | null) => (value ?? 0).toLocaleString("en-US");
  return `run ${runId}: ${entry.import_state}, ${n(entry.imported)} imported, ${n(entry.skipped)} skipped, ${n(entry.quarantined)} quarantined (${seconds} s)`;
}

/** When S3 says the run's candidates file was stored (its quarantine file is written after). */
export async function candidatesStoredAt(target: Target, runId: string): Promise<Date | undefined> {
  const head = await target.s3.send(
    new HeadObjectCommand({
      Bucket: target.bucket,
      Key: `${RUN_UPLOAD.prefix}${runId}/${RUN_UPLOAD.fileName}`,
    }),
  );
  return head.LastModified;
}

/**
 * Counts the quarantined lines of the run's newest import by reason, from its quarantine file
 * (the newest `quarantine/runs/<run_id>/<import_id>.jsonl` stored at or after `since`).
 */
export async function quarantineByReason(
  target: Target,
  runId: string,
  since: Date | undefined,
): Promise<{ byReason: Record<string, number>; source: string } | { note: string }> {
  const prefix = `${BUCKET_PREFIXES.quarantine}runs/${runId}/`;
  let newest: { key: string; at: Date } | undefined;
  const floor = since ? Math.floor(since.getTime() / 1000) * 1000 : 0;
  for await (const page of paginateListObjectsV2(
    { client: target.s3 },
    { Bucket: target.bucket, Prefix: prefix },
  )) {
    for (const object of page.Contents ?? []) {
      const name = (object.Key ?? "").slice(prefix.length);
      if (!/^[0-9a-f]{32}\.jsonl$/.test(name) || !object.LastModified) continue;
      if (object.LastModified.getTime() < floor) continue;
      if (!newest || object.LastModified > newest.at)
        newest = { key: object.Key ?? "", at: object.LastModified };
    }
  }
  if (!newest) return { note: `no quarantine file of this import under s3://${target.bucket}/${prefix}` };
  const object = await target.s3.send(new GetObjectCommand({ Bucket: target.bucket, Key: newest.key }));
  const byReason: Record<string, number> = {};
  const lines = createInterface({ input: object.Body as Readable, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    if (!line.trim()) continue;
    const reason = String((JSON.parse(line) as { reason?: unknown }).reason ?? "unknown");
    byReason[reason] = (byReason[reason] ?? 0) + 1;
  }
  return { byReason, source: `s3://${target.bucket}/${newest.key}` };
}

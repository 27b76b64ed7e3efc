import { RUN_UPLOAD } from "../../common/resources.ts";

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._\- ]{0,127}$/;

export class InvalidRunKeyError extends Error {}

/** True for a run id that can name a run folder (one path segment, no `..`). */
export function isRunId(runId: string): boolean {
  return RUN_ID.test(runId) && !runId.includes("..");
}

/**
 * The run id of an uploaded object key, which must be exactly `<runs prefix><run_id>/sft_candidates.jsonl`
 * (the runs prefix is `runs/` unless the reviewers configured a folder below it).
 * Keys in S3 notifications are URL-encoded with `+` for spaces: pass them through
 * `decodeS3EventKey` first.
 */
export function runIdFromKey(key: string, runsPrefix: string = RUN_UPLOAD.prefix): string {
  if (!key.startsWith(runsPrefix) || !key.endsWith(RUN_UPLOAD.suffix)) {
    throw new InvalidRunKeyError(
      `not a run upload: ${key} (expected ${runsPrefix}<run_id>/${RUN_UPLOAD.fileName})`,
    );
  }
  const runId = key.slice(runsPrefix.length, key.length - RUN_UPLOAD.suffix.length);
  if (!isRunId(runId)) {
    throw new InvalidRunKeyError(`invalid run id in ${key}: ${JSON.stringify(runId)}`);
  }
  return runId;
}

export function runObjectKey(runId: string, runsPrefix: string = RUN_UPLOAD.prefix): string {
  return `${runsPrefix}${runId}${RUN_UPLOAD.suffix}`;
}

/** S3 event notifications URL-encode keys, with `+` standing for a space. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

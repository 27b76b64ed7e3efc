import { RUN_UPLOAD } from "../resources.ts";

const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._\- ]{0,127}$/;

export class InvalidRunKeyError extends Error {}

/**
 * The run id of an uploaded object key, which must be exactly `runs/<run_id>/sft_candidates.jsonl`.
 * Keys in S3 notifications are URL-encoded with `+` for spaces: pass them through
 * `decodeS3EventKey` first.
 */
export function runIdFromKey(key: string): string {
  if (!key.startsWith(RUN_UPLOAD.prefix) || !key.endsWith(RUN_UPLOAD.suffix)) {
    throw new InvalidRunKeyError(`not a run upload: ${key} (expected runs/<run_id>/${RUN_UPLOAD.fileName})`);
  }
  const runId = key.slice(RUN_UPLOAD.prefix.length, key.length - RUN_UPLOAD.suffix.length);
  if (!RUN_ID.test(runId) || runId.includes("..")) {
    throw new InvalidRunKeyError(`invalid run id in ${key}: ${JSON.stringify(runId)}`);
  }
  return runId;
}

export function runObjectKey(runId: string): string {
  return `${RUN_UPLOAD.prefix}${runId}${RUN_UPLOAD.suffix}`;
}

/** S3 event notifications URL-encode keys, with `+` standing for a space. */
export function decodeS3EventKey(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

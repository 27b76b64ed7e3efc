import * as z from "zod";
import { ValidationError } from "../../common/domain/errors.ts";
import { isRunId } from "./run-upload.ts";

/**
 * The folder (S3 prefix) whose sub-folders are benchmark runs, as Avocet's `bench_results_dir`
 * names it. Accepted spellings: `runs`, `runs/`, `runs/nightly/`, `s3://<project bucket>/runs/`.
 * It must stay inside the project's bucket and inside the runs area the API may read (and the
 * import pipeline serves); any other location, a path that climbs (`..`), an absolute path or
 * another bucket is refused.
 */
export function normalizeRunsPrefix(
  input: string,
  scope: { readonly bucket: string; readonly runsArea: string },
): string {
  const refuse = (msg: string): never => {
    throw new ValidationError([{ loc: ["body", "bench_results_dir"], msg, type: "value_error" }]);
  };
  let path = input.trim();
  const url = /^([a-z][a-z0-9+.-]*):\/\/([^/]*)(\/.*)?$/i.exec(path);
  if (url) {
    if (url[1]?.toLowerCase() !== "s3") refuse("must be a prefix in the project's bucket, not a URL");
    if (url[2] !== scope.bucket) refuse(`must be in the project's bucket (s3://${scope.bucket}/)`);
    path = (url[3] ?? "").replace(/^\//, "");
  } else if (path.startsWith("/") || path.startsWith("~") || /^[a-z]:[\\/]/i.test(path)) {
    refuse("must be a prefix in the project's bucket, not a file system path");
  }
  if (path.includes("\\")) refuse("must use '/' between folders");
  const segments = path.replace(/\/$/, "").split("/");
  for (const segment of segments) {
    if (segment === "" || segment === "." || segment === "..")
      refuse("must not contain empty, '.' or '..' folders");
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(segment)) {
      refuse(`folder ${JSON.stringify(segment)} may only use letters, digits, '.', '_' and '-'`);
    }
  }
  const prefix = `${segments.join("/")}/`;
  if (!prefix.startsWith(scope.runsArea)) refuse(`must be ${scope.runsArea} or a folder inside it`);
  return prefix;
}

/** What the run record says about a run folder's imports. */
export interface RunImportState {
  readonly state: string;
  readonly counts?: {
    readonly lines?: number;
    readonly imported?: number;
    readonly skipped?: number;
    readonly quarantined?: number;
  };
  readonly created_at?: string;
  readonly finished_at?: string;
}

/** One entry of `GET /api/sft/runs`: Avocet's four fields, then the import state and counts. */
export interface RunListing {
  readonly run_id: string;
  readonly timestamp: string | null;
  /** Valid candidates in the run file as its last import counted them; `null` until it is imported. */
  readonly candidate_count: number | null;
  readonly already_imported: boolean;
  readonly import_state: string | null;
  readonly imported: number | null;
  readonly skipped: number | null;
  readonly quarantined: number | null;
}

/** `2026-04-07-143022` (the rig's folder names) → `2026-04-07T14:30:22.000Z`; `null` for other names. */
export function timestampOfRunId(runId: string): string | null {
  const match = /^(\d{4})-(\d{2})-(\d{2})[-T_]?(\d{2}):?(\d{2}):?(\d{2})(?!\d)/.exec(runId);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  const date = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}

/** Joins run folders with their records, newest first (by the time in the name, else the first import). */
export function runListing(
  runIds: Iterable<string>,
  records: ReadonlyMap<string, RunImportState>,
): RunListing[] {
  const listing = [...runIds].map((runId): RunListing => {
    const record = records.get(runId);
    const counts = record?.counts;
    const valid = counts ? (counts.imported ?? 0) + (counts.skipped ?? 0) : null;
    return {
      run_id: runId,
      timestamp: timestampOfRunId(runId) ?? record?.created_at ?? null,
      candidate_count: record?.state === "completed" ? valid : null,
      already_imported: record?.state === "completed",
      import_state: record?.state ?? null,
      imported: counts?.imported ?? null,
      skipped: counts?.skipped ?? null,
      quarantined: counts?.quarantined ?? null,
    };
  });
  return listing.sort(
    (a, b) => (b.timestamp ?? "").localeCompare(a.timestamp ?? "") || b.run_id.localeCompare(a.run_id),
  );
}

/** `POST /api/sft/import`. */
export const ImportRunRequest = z.object({
  run_id: z.string().refine(isRunId, "must be a run folder name (letters, digits, '.', '_', '-', space)"),
});
export type ImportRunRequest = z.infer<typeof ImportRunRequest>;

/** `POST /api/sft/config`. */
export const ReviewConfigRequest = z.object({ bench_results_dir: z.string().min(1).max(1024) });
export type ReviewConfigRequest = z.infer<typeof ReviewConfigRequest>;

import { NotFoundError } from "../../common/domain/errors.ts";
import { normalizeRunsPrefix, type RunListing, runListing } from "../domain/run-folders.ts";
import { runObjectKey } from "../domain/run-upload.ts";
import {
  type ReviewSettingsStore,
  type RunFolderLister,
  type RunLineCounter,
  RunObjectMissingError,
  type RunRecordReader,
} from "../ports.ts";
import { type ImportDeadline, type ImportRunDeps, importRun } from "./import-run.ts";

export interface RunFolderDeps {
  readonly bucket: string;
  /** The runs area: the default runs prefix, and the one a configured prefix must stay inside. */
  readonly runsArea: string;
  readonly folders: RunFolderLister;
  readonly records: RunRecordReader;
  /** Counts the lines of runs not imported yet; without it their `candidate_count` is `null`. */
  readonly lines?: RunLineCounter;
  readonly settings: ReviewSettingsStore;
  readonly importer: ImportRunDeps;
  readonly now?: () => Date;
}

export async function currentRunsPrefix(deps: Pick<RunFolderDeps, "settings" | "runsArea">): Promise<string> {
  return (await deps.settings.readRunsPrefix()) ?? deps.runsArea;
}

export async function readReviewConfig(deps: Pick<RunFolderDeps, "settings" | "runsArea">) {
  return { bench_results_dir: await currentRunsPrefix(deps) };
}

/** Stores a new runs prefix after checking it is a folder inside the project's runs area. */
/**
 * Stores a new runs prefix after checking it is a folder inside the project's runs area. Answers
 * Avocet's `{ok: true}`, with the prefix as stored beside it.
 */
export async function writeReviewConfig(
  deps: Pick<RunFolderDeps, "settings" | "runsArea" | "bucket" | "now">,
  benchResultsDir: string,
  changedBy: string,
) {
  const prefix = normalizeRunsPrefix(benchResultsDir, { bucket: deps.bucket, runsArea: deps.runsArea });
  await deps.settings.writeRunsPrefix(prefix, changedBy, (deps.now ?? (() => new Date()))().toISOString());
  return { ok: true as const, bench_results_dir: prefix };
}

/** A run object is counted before its import only up to this size (one ranged GET each). */
export const COUNTED_RUN_MAX_BYTES = 4 * 1024 * 1024;
/** Runs counted by one listing, newest first; older ones not imported keep `candidate_count: null`. */
export const COUNTED_RUNS_PER_LISTING = 50;
const COUNT_CONCURRENCY = 8;

/**
 * Every run folder under the runs prefix with its import state, newest first. As Avocet did, a
 * run not imported yet shows its `candidate_count`, the non-blank lines of its
 * `sft_candidates.jsonl`, when that is cheap: objects up to `COUNTED_RUN_MAX_BYTES`, for the
 * newest `COUNTED_RUNS_PER_LISTING` such runs; otherwise it stays `null`. An imported run's count
 * is the lines it stored or skipped as already stored (its valid lines).
 */
export async function listRuns(deps: RunFolderDeps): Promise<RunListing[]> {
  const prefix = await currentRunsPrefix(deps);
  const runIds = await deps.folders.listRunFolders(prefix);
  const listing = runListing(runIds, await deps.records.readRunRecords(runIds));
  const counter = deps.lines;
  if (!counter) return listing;
  const uncounted = listing.filter((run) => run.candidate_count === null).slice(0, COUNTED_RUNS_PER_LISTING);
  const counts = new Map<string, number | null>();
  for (let i = 0; i < uncounted.length; i += COUNT_CONCURRENCY) {
    await Promise.all(
      uncounted.slice(i, i + COUNT_CONCURRENCY).map(async ({ run_id }) => {
        counts.set(run_id, await counter.countLines(runObjectKey(run_id, prefix), COUNTED_RUN_MAX_BYTES));
      }),
    );
  }
  return listing.map((run) =>
    counts.has(run.run_id) ? { ...run, candidate_count: counts.get(run.run_id) ?? null } : run,
  );
}

/** `POST /api/sft/import`: Avocet's counts, and for an import still going on, where to watch it. */
export type RunFolderImport =
  | { readonly imported: number; readonly skipped: number; readonly import_state?: undefined }
  | {
      readonly imported: number;
      readonly skipped: number;
      /** The import goes on in the background: the counts so far, and where its state shows. */
      readonly import_state: "importing";
      readonly run_id: string;
      readonly lines_read: number;
      readonly watch: string;
    };

/**
 * Imports `<runs prefix><run_id>/sft_candidates.jsonl` again, on demand. The import is keyed by
 * bucket, key, ETag and the sequencer `manual`: repeating a manual import of the same bytes is
 * recognised as done and changes nothing, while new bytes (a new ETag) are a new import. Ids
 * already stored are skipped, never overwritten, so reviewers' decisions survive. With a deadline
 * (the request's), a run too big to finish within it is checkpointed and handed on to the import
 * function, and the answer says so.
 */
export async function importRunFolder(
  deps: RunFolderDeps,
  runId: string,
  deadline?: ImportDeadline,
): Promise<RunFolderImport> {
  const runsPrefix = await currentRunsPrefix(deps);
  const key = runObjectKey(runId, runsPrefix);
  try {
    const outcome = await importRun(
      deps.importer,
      { bucket: deps.bucket, key, sequencer: "manual", runsPrefix },
      deadline && deps.importer.continuations ? { deadline } : {},
    );
    if (outcome.status === "imported") {
      return { imported: outcome.summary.counts.imported, skipped: outcome.summary.counts.skipped };
    }
    if (outcome.status === "handed_on") {
      return {
        imported: outcome.counts.imported,
        skipped: outcome.counts.skipped,
        import_state: "importing",
        run_id: runId,
        lines_read: outcome.counts.lines,
        watch: "/api/sft/runs",
      };
    }
    const counts = (await deps.records.readRunRecords([runId])).get(runId)?.counts;
    return { imported: 0, skipped: (counts?.imported ?? 0) + (counts?.skipped ?? 0) };
  } catch (error) {
    if (error instanceof RunObjectMissingError) throw new NotFoundError(`Run ${runId} not found`);
    throw error;
  }
}

import { NotFoundError } from "../../common/domain/errors.ts";
import { normalizeRunsPrefix, type RunListing, runListing } from "../domain/run-folders.ts";
import { runObjectKey } from "../domain/run-upload.ts";
import {
  type ReviewSettingsStore,
  type RunFolderLister,
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
export async function writeReviewConfig(
  deps: Pick<RunFolderDeps, "settings" | "runsArea" | "bucket" | "now">,
  benchResultsDir: string,
  changedBy: string,
) {
  const prefix = normalizeRunsPrefix(benchResultsDir, { bucket: deps.bucket, runsArea: deps.runsArea });
  await deps.settings.writeRunsPrefix(prefix, changedBy, (deps.now ?? (() => new Date()))().toISOString());
  return { bench_results_dir: prefix };
}

/** Every run folder under the runs prefix with its import state, newest first. */
export async function listRuns(deps: RunFolderDeps): Promise<RunListing[]> {
  const runIds = await deps.folders.listRunFolders(await currentRunsPrefix(deps));
  return runListing(runIds, await deps.records.readRunRecords(runIds));
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

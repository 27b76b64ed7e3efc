import { ValidationError } from "../../common/domain/errors.ts";
import { EXPORT_FILES, exportPrefix } from "../../common/resources.ts";
import type { ExportJob } from "../domain/export-job.ts";
import type { ExportManifest } from "../domain/export-manifest.ts";
import { defaultFileName, type ExportFormat, ExportRequest } from "../domain/export-request.ts";
import type { ExportJobStore } from "../ports.ts";
import { buildExportStep, type ExportBuildDeps, type RunLimits } from "./exports.ts";

/**
 * Several formats in one job (`formats`): the request's `format` is built as any export is (with
 * its checkpoints); once it is done, each other format is built from the same selection and
 * options under `exports/<id>/formats/<format>/`, one after another in that invocation, and one
 * manifest lists them all.
 */

/** The formats a job writes besides its `format`, in the order asked. */
export function extraFormats(request: ExportRequest): ExportFormat[] {
  return (request.formats ?? []).filter((format) => format !== request.format);
}

/** The request as it stands for one of its other formats. */
function requestFor(request: ExportRequest, format: ExportFormat) {
  return ExportRequest.safeParse({ format, filters: request.filters, options: request.options });
}

/** Refuses (422) a request whose options some of its other formats do not take, naming them. */
export function checkExtraFormats(request: ExportRequest): void {
  const issues = (request.formats ?? []).flatMap((format, index) => {
    if (format === request.format) return [];
    const parsed = requestFor(request, format);
    return parsed.success
      ? []
      : parsed.error.issues.map((issue) => ({
          loc: ["body", "formats", index],
          msg: `${format}: ${issue.message} (${issue.path.join(".")})`,
          type: "value_error",
        }));
  });
  if (issues.length > 0) throw new ValidationError(issues);
}

/** Where one of a job's other formats is written. */
export const formatPrefix = (exportId: string, format: ExportFormat) =>
  `${exportPrefix(exportId)}formats/${format}/`;

/**
 * Builds a finished job's other formats and returns the one manifest of them all (rewritten as
 * `exports/<id>/manifest.json`); the manifest as it was when the job has no other format.
 */
export async function writeExtraFormats(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits,
  manifest: ExportManifest,
): Promise<ExportManifest> {
  const extras = extraFormats(job.request);
  if (extras.length === 0) return manifest;
  // Progress of each format goes to the job itself.
  const jobs: ExportJobStore = Object.assign(Object.create(deps.jobs) as ExportJobStore, {
    progress: (_id: string, progress: Parameters<ExportJobStore["progress"]>[1]) =>
      deps.jobs.progress(job.id, progress),
  });
  const parts: NonNullable<ExportManifest["formats"]>[number][] = [
    { format: manifest.format, counts: manifest.counts, warnings: manifest.warnings, files: manifest.files },
  ];
  for (const format of extras) {
    const parsed = requestFor(job.request, format);
    if (!parsed.success) throw new Error(`${format}: ${parsed.error.issues[0]?.message ?? "refused"}`);
    // `exports/<id>/formats/<format>/`: exportPrefix of this id.
    const part: ExportJob = {
      ...job,
      id: `${job.id}/formats/${format}`,
      format,
      request: parsed.data,
      file_name: defaultFileName(format, new Date(job.created_at)),
    };
    const step = await buildExportStep(
      { ...deps, jobs, continuation: undefined },
      part,
      startedAt,
      limits,
      null,
    );
    if (step.status !== "finished") throw new Error(`the ${format} part of export ${job.id} ${step.status}`);
    const { counts, warnings, files } = step.manifest;
    parts.push({ format, counts, warnings, files });
  }
  const combined: ExportManifest = { ...manifest, formats: parts };
  if (!job.request.options.dry_run) {
    await deps.objects.put(
      `${exportPrefix(job.id)}${EXPORT_FILES.manifest}`,
      `${JSON.stringify(combined, null, 2)}\n`,
      "application/json",
    );
  }
  return combined;
}

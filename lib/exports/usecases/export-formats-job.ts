import { ValidationError } from "../../common/domain/errors.ts";
import { EXPORT_FILES, exportPrefix } from "../../common/resources.ts";
import type { ExportJob } from "../domain/export-job.ts";
import type { ExportFormatPart, ExportManifest } from "../domain/export-manifest.ts";
import { defaultFileName, type ExportFormat, ExportRequest } from "../domain/export-request.ts";
import type { ExportResume } from "./export-checkpoint.ts";
import {
  buildExportStep,
  type ExportBuildDeps,
  type ExportStep,
  jobEvalIndex,
  type RunLimits,
} from "./exports.ts";

/**
 * Several formats in one job (`formats`): the request's `format` is built as any export is; once
 * it is done, each other format is built from the same selection and options under
 * `exports/<id>/formats/<format>/`, one after another, each with its checkpoints, and one manifest
 * lists them all.
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
 * One invocation's share of a job, every format of it: the request's `format` first, then each
 * other format under `exports/<id>/formats/<format>/`, one after another. Each is built as an
 * export of its own — with its checkpoints, taken on the job — so a job of several large formats
 * goes on across invocations as one of a single format does: a checkpoint names the format it is
 * of and carries what the formats before it wrote, and the invocation that goes on from it starts
 * at that format. The eval sets are loaded once an invocation (from a checkpoint, the versions the
 * job started with). The last format done, the job's one manifest lists them all.
 */
export async function buildJobStep(
  deps: ExportBuildDeps,
  job: ExportJob,
  startedAt: string,
  limits: RunLimits,
  resume: ExportResume | null,
): Promise<ExportStep> {
  const evalIndex = (await jobEvalIndex(deps, job.request, resume)) ?? null;
  const context = { jobId: job.id, previous: resume, evalIndex };
  const saved = resume?.header.formats;
  let manifest: ExportManifest;
  let parts: ExportFormatPart[];
  if (!saved) {
    const step = await buildExportStep(deps, job, startedAt, limits, resume, context);
    if (step.status !== "finished") return step;
    manifest = step.manifest;
    parts = [partOf(manifest)];
  } else {
    ({ manifest } = saved);
    parts = [...saved.parts];
  }
  const extras = extraFormats(job.request);
  if (extras.length === 0) return { status: "finished", manifest };
  for (let index = saved?.index ?? 1; index <= extras.length; index += 1) {
    const format = extras[index - 1] as ExportFormat;
    const step = await buildExportStep(
      deps,
      formatJob(job, format),
      startedAt,
      limits,
      index === saved?.index ? resume : null,
      { ...context, formats: { index, manifest, parts } },
    );
    if (step.status !== "finished") return step;
    parts.push(partOf(step.manifest));
  }
  const combined: ExportManifest = { ...manifest, formats: parts };
  if (!job.request.options.dry_run) {
    await deps.objects.put(
      `${exportPrefix(job.id)}${EXPORT_FILES.manifest}`,
      `${JSON.stringify(combined, null, 2)}\n`,
      "application/json",
    );
  }
  return { status: "finished", manifest: combined };
}

/** One of a job's other formats, as an export of its own under `exports/<id>/formats/<format>/`. */
function formatJob(job: ExportJob, format: ExportFormat): ExportJob {
  const parsed = requestFor(job.request, format);
  if (!parsed.success) throw new Error(`${format}: ${parsed.error.issues[0]?.message ?? "refused"}`);
  return {
    ...job,
    // `exports/<id>/formats/<format>/`: exportPrefix of this id.
    id: `${job.id}/formats/${format}`,
    format,
    request: parsed.data,
    file_name: defaultFileName(format, new Date(job.created_at)),
  };
}

const partOf = ({ format, counts, warnings, files }: ExportManifest): ExportFormatPart => ({
  format,
  counts,
  warnings,
  files,
});

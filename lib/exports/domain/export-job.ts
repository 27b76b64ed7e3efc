import type { ExportManifest } from "./export-manifest.ts";
import { defaultFileName, type ExportFormat, type ExportRequest } from "./export-request.ts";

/**
 * An export job: `queued` when requested, `running` while a handler streams it (again after a
 * redelivery: the rebuild writes the same bytes), then `succeeded` with its manifest or `failed`
 * with the reason. A failed attempt that will be retried leaves the job `running` with `error`.
 */
export const EXPORT_JOB_STATUSES = ["queued", "running", "succeeded", "failed"] as const;
export type ExportJobStatus = (typeof EXPORT_JOB_STATUSES)[number];

/** `api`: `POST /api/exports`; `avocet`: built on the spot for `GET /api/sft/export`. */
export type ExportOrigin = "api" | "avocet";

export interface ExportProgress {
  readonly considered: number;
  readonly exported: number;
  readonly quarantined: number;
}

export interface ExportJob {
  readonly id: string;
  readonly format: ExportFormat;
  readonly request: ExportRequest;
  readonly origin: ExportOrigin;
  readonly status: ExportJobStatus;
  readonly requested_by: string;
  readonly created_at: string;
  readonly started_at: string | null;
  readonly finished_at: string | null;
  readonly attempts: number;
  readonly error: string | null;
  readonly progress: ExportProgress;
  /** The name the download carries. */
  readonly file_name: string;
  readonly manifest: ExportManifest | null;
}

export function newExportJob(input: {
  id: string;
  request: ExportRequest;
  origin: ExportOrigin;
  requestedBy: string;
  at: Date;
}): ExportJob {
  return {
    id: input.id,
    format: input.request.format,
    request: input.request,
    origin: input.origin,
    status: "queued",
    requested_by: input.requestedBy,
    created_at: input.at.toISOString(),
    started_at: null,
    finished_at: null,
    attempts: 0,
    error: null,
    progress: { considered: 0, exported: 0, quarantined: 0 },
    file_name: input.request.options.file_name ?? defaultFileName(input.request.format, input.at),
    manifest: null,
  };
}

/** A signed, expiring link to one of the job's files. */
export interface SignedDownload {
  readonly url: string;
  readonly file_name: string;
  readonly expires_in: number;
  readonly expires_at: string;
}

/** A job as `GET /api/exports` lists it: no manifest, no links. */
export function exportJobSummary(job: ExportJob) {
  return {
    id: job.id,
    status: job.status,
    format: job.format,
    origin: job.origin,
    requested_by: job.requested_by,
    created_at: job.created_at,
    started_at: job.started_at,
    finished_at: job.finished_at,
    attempts: job.attempts,
    error: job.error,
    progress: job.progress,
    file_name: job.file_name,
    counts: job.manifest?.counts ?? null,
  };
}

/** A job as `GET /api/exports/{id}` shows it: the request, the manifest and, once done, the links. */
export function exportJobView(
  job: ExportJob,
  downloads: {
    dataset: SignedDownload;
    quarantine: SignedDownload;
    records?: SignedDownload;
    validation?: SignedDownload;
  } | null,
) {
  return {
    ...exportJobSummary(job),
    request: job.request,
    warnings: job.manifest?.warnings ?? [],
    manifest: job.manifest,
    download: downloads?.dataset ?? null,
    quarantine_download: downloads?.quarantine ?? null,
    // The record index: dataset line → record id → candidate.
    record_index_download: downloads?.records ?? null,
    // Only on an export with a validation split.
    ...(downloads?.validation ? { validation_download: downloads.validation } : {}),
  };
}

import * as z from "zod";
import { EXPORT_FORMATS } from "./export-request.ts";

/**
 * What the exports API answers, as zod schemas: the API's contract (and its OpenAPI document) is
 * built from them, a test checks the domain's own replies against them, and the web UI takes its
 * types from them. Objects are loose: a field added beside these is not a break.
 */

const counts = z.record(z.string(), z.number());

export const ExportProgressReply = z.looseObject({
  considered: z.number(),
  exported: z.number(),
  quarantined: z.number(),
});

export const ExportCountsReply = z.looseObject({
  considered: z.number(),
  considered_by_status: counts,
  exported: z.number(),
  lines: z.number(),
  quarantined: z.number(),
  by_reason: counts,
  by_rule: counts,
  not_read_by_status: counts.optional(),
});

/** A file the export wrote (or, on a dry run, would have): where, how big, and its sha256. */
export const FileReceiptReply = z.looseObject({
  key: z.string(),
  content_type: z.string(),
  bytes: z.number(),
  lines: z.number(),
  sha256: z.string(),
});

/** A trainer bound missed, an option's caveat, the documents' expiry: `code` and a sentence. */
export const ExportWarningReply = z.looseObject({ code: z.string(), message: z.string() });

export const ExportManifestReply = z.looseObject({
  manifest_version: z.number(),
  export_id: z.string(),
  format: z.enum(EXPORT_FORMATS),
  code_version: z.string(),
  requested_by: z.string(),
  requested_at: z.string(),
  started_at: z.string(),
  finished_at: z.string(),
  ordering: z.string(),
  decontamination: z
    .looseObject({ ngram: z.number(), sets: z.array(z.looseObject({ name: z.string(), items: z.number() })) })
    .optional(),
  dry_run: z.literal(true).optional(),
  counts: ExportCountsReply,
  warnings: z.array(ExportWarningReply),
  files: z.looseObject({
    dataset: FileReceiptReply,
    quarantine: FileReceiptReply,
    records: FileReceiptReply,
    documents: z.looseObject({ prefix: z.string(), count: z.number() }).nullable(),
    validation: FileReceiptReply.optional(),
  }),
});

/** A signed, expiring link to one of the job's files. */
export const SignedDownloadReply = z.object({
  url: z.string(),
  file_name: z.string(),
  expires_in: z.number(),
  expires_at: z.string(),
});

/** A job as `GET /api/exports` lists it (and `POST /api/exports` answers): no manifest, no links. */
export const ExportJobSummaryReply = z.looseObject({
  id: z.string(),
  status: z.enum(["queued", "running", "succeeded", "failed"]),
  format: z.enum(EXPORT_FORMATS),
  origin: z.enum(["api", "avocet"]),
  requested_by: z.string(),
  created_at: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
  attempts: z.number(),
  error: z.string().nullable(),
  progress: ExportProgressReply,
  file_name: z.string(),
  counts: ExportCountsReply.nullable(),
});

/** A job as `GET /api/exports/{id}` shows it: the request, the manifest and, once done, the links. */
export const ExportJobViewReply = ExportJobSummaryReply.extend({
  request: z.looseObject({
    format: z.enum(EXPORT_FORMATS),
    filters: z.record(z.string(), z.unknown()),
    options: z.record(z.string(), z.unknown()),
  }),
  warnings: z.array(ExportWarningReply),
  manifest: ExportManifestReply.nullable(),
  /** The dataset. */
  download: SignedDownloadReply.nullable(),
  /** Every candidate kept out, with its reason. */
  quarantine_download: SignedDownloadReply.nullable(),
  /** Dataset line → record id → candidate. Absent from jobs of an API before it was added. */
  record_index_download: SignedDownloadReply.nullable().optional(),
  /** Only on an export with a validation split. */
  validation_download: SignedDownloadReply.optional(),
});

export const ExportListReply = z.object({ exports: z.array(ExportJobSummaryReply) });

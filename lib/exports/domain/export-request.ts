import * as z from "zod";
import {
  CANDIDATE_STATUSES,
  CandidateStatus,
  FAILURE_CATEGORIES,
  FailureCategory,
} from "../../common/domain/candidate.ts";

/** The dataset shapes an export writes, one per trainer family. */
export const EXPORT_FORMATS = [
  "openai-sft",
  "openai-preference",
  "trl-sft",
  "trl-dpo",
  "trl-kto",
  "bedrock-conversation",
  "bedrock-preference",
  "bedrock-rft",
  "vertex-gemini",
  "rag",
] as const;
export const ExportFormat = z.enum(EXPORT_FORMATS);
export type ExportFormat = z.infer<typeof ExportFormat>;

/** An export never holds more candidates than this, whatever `limit` says. */
export const MAX_EXPORT_LIMIT = 10_000_000;

const filterText = z.string().trim().min(1).max(512);

/** Sorted and without repeats, so two requests that mean the same thing read the same. */
const setOf = <T extends string>(values: readonly T[], order: readonly T[]) =>
  order.filter((value) => values.includes(value));

/**
 * Which candidates an export considers. `statuses` are the partitions of the status index it
 * reads: by default `approved` only, the one status that can pass (the others are counted in the
 * manifest from the stats counters, `counts.not_read_by_status`); with
 * `options.quarantine_unselected` all four, each candidate of another status then listed in the
 * quarantine as `status_disallowed`. Every candidate read is either in the dataset or in the
 * quarantine with its reason. Model, task type, source, run and the time range narrow what is read; the
 * categories decide at the firewall (`category_disallowed`). The range is on the time the
 * answer was produced (or captured), `from` inclusive and `to` exclusive.
 */
export const ExportFilters = z
  .strictObject({
    include_categories: z
      .array(FailureCategory)
      .min(1)
      .transform((values) => setOf(values, FAILURE_CATEGORIES))
      .optional(),
    exclude_categories: z
      .array(FailureCategory)
      .transform((values) => setOf(values, FAILURE_CATEGORIES))
      .optional(),
    model: filterText.optional(),
    task_type: filterText.optional(),
    source: filterText.optional(),
    run_id: filterText.optional(),
    from: z.iso
      .datetime({ offset: true })
      .transform((at) => new Date(at).toISOString())
      .optional(),
    to: z.iso
      .datetime({ offset: true })
      .transform((at) => new Date(at).toISOString())
      .optional(),
    statuses: z
      .array(CandidateStatus)
      .min(1)
      .transform((values) => setOf(values, CANDIDATE_STATUSES))
      .optional(),
    /** At most this many candidates in the dataset; reading stops once they are written. */
    limit: z.number().int().min(1).max(MAX_EXPORT_LIMIT).optional(),
  })
  .refine((filters) => !filters.from || !filters.to || filters.from < filters.to, {
    message: "from must be earlier than to",
    path: ["to"],
  });
/** The filters of a parsed request: `statuses` always set (`ExportRequest` fills the default). */
export type ExportFilters = ExportRequest["filters"];

/** A name for the downloaded file: no path, no quotes, nothing a header could be split on. */
export const DownloadFileName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$/, "letters, digits, '.', '_' and '-' only, at most 127");

export const ExportOptions = z.strictObject({
  /** `trl-sft`: one `messages` list, or TRL's conversational `prompt`/`completion`. */
  trl_sft_style: z.enum(["messages", "prompt_completion"]).default("messages"),
  /** `rag`: also write each document with a Bedrock Knowledge Bases `.metadata.json` sidecar. */
  bedrock_kb_sidecars: z.boolean().default(true),
  /**
   * `rag`: where the documents go. `export` (when absent): `exports/<id>/documents/`, beside the
   * export's other files. `separate`: `exports/kb/<id>/`, a prefix no other file of any export
   * shares, so a Knowledge Base indexing `exports/kb/` (or one export under it) reads documents
   * and their sidecars and nothing else — never the quarantine, the record index or the manifest.
   */
  bedrock_kb_prefix: z.enum(["export", "separate"]).optional(),
  /**
   * The share of exported candidates written to `validation.jsonl` instead of the dataset, chosen
   * by a hash of the candidate id: a candidate stays on its side in every export and every format.
   */
  validation_fraction: z.number().gt(0).lt(1).optional(),
  /**
   * Keep out records whose prompt and correction share at least this Jaccard similarity of word
   * 3-grams (MinHash estimate) with a record already exported: `near_duplicate`. Off when absent.
   */
  near_duplicate_threshold: z.number().min(0.5).max(1).optional(),
  /**
   * Without `filters.statuses`: read every status partition, not `approved` alone, and list each
   * candidate that cannot pass in the quarantine (`status_disallowed`), as exports did by default
   * before; without it those are only counted (`counts.not_read_by_status`).
   */
  quarantine_unselected: z.boolean().optional(),
  /** Decontamination: the length of the word n-grams a record may not share with an eval item. */
  eval_ngram: z.number().int().min(5).max(50).optional(),
  /**
   * Screen and count only: the manifest (counts, reasons, warnings, and the size and sha256 each
   * file would have) is on the job, and no file is written.
   */
  dry_run: z.boolean().optional(),
  /**
   * Preference formats: `correction` (when absent) pairs each candidate's correction with its own
   * model's answer; `same_task` also pairs the candidates of one task with each other (approved
   * corrections and answers over rejected answers), as the distillation exporter did.
   */
  pairing: z.enum(["correction", "same_task"]).optional(),
  /**
   * `rag` only: also read the candidates still in review and write those that came with a
   * correction (the uploaded line's, kept as `upstream`), their metadata saying
   * `review_status: "needs_review"`. Discarded and flagged candidates never pass.
   */
  include_in_review: z.boolean().optional(),
  /** `pairing: "same_task"`: at most this many pairs per task (5 when absent). */
  max_pairs_per_task: z.number().int().min(1).max(1_000).optional(),
  /** The file name the download carries; by default `<format>_export_<UTC time>.jsonl`. */
  file_name: DownloadFileName.optional(),
});

/** The formats whose lines are preference pairs (`options.pairing` applies to them). */
export const PAIR_FORMATS: readonly ExportFormat[] = ["openai-preference", "trl-dpo", "bedrock-preference"];
export type ExportOptions = z.output<typeof ExportOptions>;

/** `POST /api/exports`. */
export const ExportRequest = z
  .strictObject({
    format: ExportFormat,
    /**
     * More formats the same job writes, from the same selection and options, each under
     * `exports/<id>/formats/<format>/`; one manifest lists them all (`format` stays the first).
     */
    formats: z
      .array(ExportFormat)
      .min(1)
      .max(EXPORT_FORMATS.length)
      .refine((formats) => new Set(formats).size === formats.length, "each format once")
      .optional(),
    filters: ExportFilters.prefault({}),
    options: ExportOptions.prefault({}),
  })
  .refine((request) => request.options.pairing !== "same_task" || PAIR_FORMATS.includes(request.format), {
    message: `pairing same_task builds preference pairs: ${PAIR_FORMATS.join(", ")} only`,
    path: ["options", "pairing"],
  })
  .refine(
    (request) => request.options.max_pairs_per_task === undefined || request.options.pairing === "same_task",
    { message: "max_pairs_per_task goes with pairing same_task", path: ["options", "max_pairs_per_task"] },
  )
  .refine((request) => request.format === "rag" || request.options.include_in_review === undefined, {
    message: "include_in_review is for rag exports",
    path: ["options", "include_in_review"],
  })
  .refine((request) => request.format !== "rag" || request.options.validation_fraction === undefined, {
    message: "a RAG export has no validation split",
    path: ["options", "validation_fraction"],
  })
  .transform((request) => ({
    ...request,
    filters: { ...request.filters, statuses: request.filters.statuses ?? defaultStatuses(request.options) },
  }));
export type ExportRequest = z.output<typeof ExportRequest>;

/** The partitions read when the request names none: those that can pass, or all four if asked. */
function defaultStatuses(options: ExportOptions): CandidateStatus[] {
  if (options.quarantine_unselected) return [...CANDIDATE_STATUSES];
  return options.include_in_review ? ["needs_review", "approved"] : ["approved"];
}

/** The queue message that starts (or, redelivered, restarts) an export job. */
export const ExportMessage = z.strictObject({ export_id: z.string().min(1).max(64) });
export type ExportMessage = z.infer<typeof ExportMessage>;

/** `GET /api/exports`. */
export const ExportListQuery = z.object({
  limit: z
    .string()
    .regex(/^\d+$/, "limit must be an integer")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .default(20),
});

/** `GET /api/exports/{id}`: how long the download URL stays valid, within the deployment's maximum. */
export const ExportStatusQuery = z.object({
  expires_in: z
    .string()
    .regex(/^\d+$/, "expires_in must be a number of seconds")
    .transform(Number)
    .pipe(z.number().int().min(1))
    .optional(),
});

/** The download's file name when the request names none: `sft_export_20260122-093000.jsonl`. */
export function defaultFileName(format: ExportFormat, at: Date): string {
  const prefix = format === "openai-sft" ? "sft" : format;
  return `${prefix}_export_${utcStamp(at)}.jsonl`;
}

/** `YYYYMMDD-HHMMSS` in UTC. */
export function utcStamp(at: Date): string {
  return at.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);
}

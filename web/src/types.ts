/** What the review API sends, as far as the UI reads it. Every field but `id` may be missing. */

export {
  CANDIDATE_STATUSES,
  type CandidateStatus,
  FAILURE_CATEGORIES,
  type FailureCategory,
  REVIEW_ACTIONS,
  type ReviewAction,
} from "../../lib/common/domain/vocabulary.ts";
export type { RunListing } from "../../lib/import/domain/run-folders.ts";

import type { z } from "zod";
import type {
  ExportJobSummaryReply,
  ExportJobViewReply,
  ExportManifestReply,
  ExportWarningReply,
  FileReceiptReply,
  SignedDownloadReply,
} from "../../lib/exports/domain/export-replies.ts";
import type { Reply, RequestBody } from "./contract-types.ts";

export interface PromptMessage {
  readonly role?: unknown;
  readonly content?: unknown;
}

export interface Candidate {
  readonly id: string;
  readonly status?: string;
  readonly prompt_messages?: readonly PromptMessage[] | null;
  readonly model_response?: string | null;
  readonly quality_score?: number | null;
  readonly failure_reason?: string | null;
  readonly failure_category?: string | null;
  readonly task_type?: string | null;
  readonly task_name?: string | null;
  readonly model_name?: string | null;
  readonly model_id?: string | null;
  readonly node_id?: string | null;
  readonly gpu_id?: number | string | null;
  readonly tokens_per_sec?: number | null;
  readonly benchmark_run_id?: string | null;
  readonly timestamp?: string | null;
  /** A correction an undo took away, offered back as the starting draft. */
  readonly draft_correction?: string | null;
  /** A corrected answer an LLM suggested (a suggestion job), to accept or edit. */
  readonly suggestion?: Suggestion | null;
  readonly [field: string]: unknown;
}

/** A suggested correction as the API stores it beside a candidate. */
export interface Suggestion {
  /** The suggestion job that wrote it; a correction started from it names it (`suggestion_id`). */
  readonly id: string;
  readonly text: string;
  readonly model: string;
  readonly backend?: string;
  readonly prompt_version: string;
  readonly suggested_at?: string;
}

/** `POST /api/sft/next`: the candidate now held for this reviewer, or `null` when none is left. */
export interface NextReply {
  readonly candidate: Candidate | null;
  readonly lease: {
    readonly holder: string;
    readonly holder_name: string;
    readonly expires_at: string;
  } | null;
}

export interface QueuePage {
  readonly items: readonly Candidate[];
  readonly total: number | null;
  readonly page: number;
  readonly per_page: number;
  readonly next_cursor: string | null;
}

/** `GET /api/sft/stats`, as the contract has it; the counts by model, task type and source may be absent. */
export type StatsReply = Reply<"GET /api/sft/stats">;
export type ReviewStats = Pick<StatsReply, "total" | "by_status" | "export_ready"> &
  Partial<
    Pick<StatsReply, "by_model" | "by_task_type" | "by_source" | "awaiting_votes" | "awaiting_adjudication">
  >;

/** What the queue and `next` may be narrowed to (`POST /api/sft/next`'s filters). */
export type QueueFilters = Partial<
  Pick<RequestBody<"POST /api/sft/next">, "model" | "task_type" | "run_id" | "source">
>;

/** `POST /api/exports`: what a client may send (defaults not yet filled). */
export type ExportRequestBody = RequestBody<"POST /api/exports">;
/** A job as `GET /api/exports` lists it, and as `GET /api/exports/{id}` shows it. */
export type ExportJobSummary = z.output<typeof ExportJobSummaryReply>;
export type ExportJobView = z.output<typeof ExportJobViewReply>;
export type ExportManifest = z.output<typeof ExportManifestReply>;
export type ExportWarning = z.output<typeof ExportWarningReply>;
export type FileReceipt = z.output<typeof FileReceiptReply>;
export type SignedDownload = z.output<typeof SignedDownloadReply>;

/** `GET`/`POST /api/sft/config`: the runs prefix; `can_change` says whether this caller may set it. */
export type ConfigReply = Reply<"GET /api/sft/config"> & { readonly can_change?: boolean };

export interface HistoryEvent {
  readonly action: string;
  readonly from: string;
  readonly to: string;
  readonly failure_category: string | null;
  readonly reviewer: string;
  /** For display: the reviewer's name beside the recorded id (absent when the id is the name). */
  readonly reviewer_name?: string | null;
  readonly at: string;
  readonly version: number;
}

export interface CandidateDetail {
  readonly candidate: Candidate;
  readonly history: readonly HistoryEvent[];
}

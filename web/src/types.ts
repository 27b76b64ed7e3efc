/** What the review API sends, as far as the UI reads it. Every field but `id` may be missing. */

export {
  CANDIDATE_STATUSES,
  FAILURE_CATEGORIES,
  type FailureCategory,
  REVIEW_ACTIONS,
  type ReviewAction,
} from "../../lib/common/domain/vocabulary.ts";
export type { RunListing } from "../../lib/import/domain/run-folders.ts";

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
  readonly [field: string]: unknown;
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

export interface ReviewStats {
  readonly total: number;
  readonly by_status: Readonly<Record<string, number>>;
  readonly export_ready: number;
}

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

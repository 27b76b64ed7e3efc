import type { QueueFilters, QueuePosition } from "../review/domain/queue.ts";
import type { QueuedItem } from "../review/ports.ts";
import type { FailureReason, SkipReason, SuggestionJob, SuggestMessage } from "./domain/job.ts";
import type { Suggestion } from "./domain/suggestion.ts";

/**
 * The ports of this capability. The LLM is the judge's port (`JudgeModel` in lib/eval/ports.ts),
 * with its errors: a backend error, a busy backend, a timeout.
 */

/** The waiting candidates as the queue's index holds them, oldest first, bodies not loaded. */
export interface SuggestionQueueIndex {
  walkItems(walk: {
    filters: QueueFilters;
    after: QueuePosition | null;
    skip: number;
    limit: number;
  }): Promise<{ items: QueuedItem[]; position: QueuePosition; more: boolean }>;
}

/** A candidate as a suggestion needs it: its status and suggestion, its full prompt and answer. */
export type SuggestionCandidate = Readonly<Record<string, unknown>> & {
  readonly id: string;
  readonly status: string;
  readonly suggestion?: unknown;
};

export interface SuggestionStore {
  /** Stores a new job with the candidates it selected (so work left unfinished can be queued again). */
  create(job: SuggestionJob, selection: readonly string[]): Promise<void>;
  /** The job, read consistently; `null` for an unknown id. */
  find(id: string): Promise<SuggestionJob | null>;
  /** The candidate with its bodies loaded from the body store; `null` when there is none. */
  candidate(id: string): Promise<SuggestionCandidate | null>;
  /** Whether the job already counted this candidate (a redelivered message changes nothing). */
  counted(jobId: string, candidateId: string): Promise<boolean>;
  /**
   * In one transaction: the suggestion on the candidate, only while it waits for review; the
   * candidate counted in the job as suggested. `decided` when the candidate is no longer waiting
   * (nothing written then), `already_counted` on a redelivery.
   */
  recordSuggestion(
    jobId: string,
    candidateId: string,
    suggestion: Suggestion,
  ): Promise<"recorded" | "decided" | "not_found" | "already_counted">;
  /** Counts the candidate as failed or skipped, once. */
  recordOutcome(
    jobId: string,
    candidateId: string,
    outcome:
      | { kind: "failed"; reason: FailureReason; error: string }
      | { kind: "skipped"; reason: SkipReason },
    at: string,
  ): Promise<"recorded" | "already_counted">;
  /** Stamps the job completed once every candidate is counted. */
  completeIfFinished(jobId: string, at: string): Promise<void>;
}

export interface SuggestQueue {
  /** Sends one message per candidate; returns those that could not be sent. */
  send(
    messages: readonly SuggestMessage[],
  ): Promise<{ failed: { message: SuggestMessage; error: string }[] }>;
}

import type { Candidate } from "../common/domain/candidate.ts";
import type { EvalProfile } from "./domain/eval-profile.ts";
import type {
  EvalStatus,
  Evaluation,
  Feedback,
  SessionInput,
  SessionMessage,
  SessionSummary,
} from "./domain/eval-session.ts";
import type { StatsSample } from "./domain/eval-stats.ts";
import type { JudgeMessage, JudgeRun, RunSessionProgress } from "./domain/judge-run.ts";
import type { ChatTurn, JudgeVersions } from "./domain/rubric.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
export interface SessionUpsert {
  readonly created: boolean;
  readonly message_count: number;
  /** Where the messages went: into the table, or to the body store (too big for an item). */
  readonly messages_stored: "table" | "s3";
}

export interface EvalSessionStore {
  /**
   * Creates the session or replaces its own fields and messages; feedback counts, evaluations
   * and the latest evaluation stay. Concurrent writes are ordered by a conditional version.
   */
  upsert(session: SessionInput, now: string): Promise<SessionUpsert>;
  /** The summary, read consistently; `null` for an unknown id. */
  summary(id: string): Promise<SessionSummary | null>;
  /** The messages, loaded back from the body store when they were moved there. */
  messages(id: string): Promise<SessionMessage[] | null>;
  /**
   * Stores one rater's rating of one message, replacing their earlier one, and moves the
   * session's like/dislike counts in the same write. Throws `NotFoundError` when the session is
   * gone and `ValidationError` when it has no message at that index any more.
   */
  putFeedback(feedback: Feedback): Promise<{ created: boolean; feedback: Feedback }>;
  /** Feedback of a session, by message index then rater. */
  feedback(sessionId: string): Promise<Feedback[]>;
  /** Every evaluation of a session, newest first. */
  evaluations(sessionId: string): Promise<Evaluation[]>;
  /**
   * One page of summaries, pinned first then most recently active, read from indexes only.
   * `status` is derived against `current`.
   */
  overview(
    query: { limit: number; offset: number; profile?: string; status?: EvalStatus },
    current: JudgeVersions,
  ): Promise<{ sessions: SessionSummary[]; hasMore: boolean }>;
  /** Latest scores of the sessions evaluated under `current`, active at or after `since`. */
  statsSamples(since: string, current: JudgeVersions): Promise<StatsSample[]>;
}

/** The optional registry of chat products' profiles. */
export interface EvalProfileStore {
  /** Creates or replaces a profile. */
  put(profile: EvalProfile): Promise<{ created: boolean }>;
  get(id: string): Promise<EvalProfile | null>;
  list(): Promise<EvalProfile[]>;
}

/** Stores new candidates once each (the review queue's insert, with its counters). */
export interface CandidateInserter {
  insertNew(candidates: readonly Candidate[]): Promise<{
    inserted: readonly string[];
    alreadyStored: readonly string[];
    tooLarge: readonly string[];
  }>;
}

export interface CandidatesMade {
  readonly created: readonly string[];
  readonly existing: readonly string[];
  /** Too large for the table even with the conversation moved to the body store. */
  readonly tooLarge: readonly string[];
}

export interface SessionSelection {
  readonly scope: "unevaluated" | "all";
  readonly since?: string | undefined;
  readonly limit: number;
}

export interface JudgeRunStore {
  /** Ids of the sessions a run takes, pinned then most recently active first, from indexes. */
  selectSessions(selection: SessionSelection, current: JudgeVersions): Promise<string[]>;
  /** Stores the run and a `pending` progress entry for each of its sessions. */
  create(run: JudgeRun, sessionIds: readonly string[]): Promise<void>;
  /** The run and its sessions' progress, read consistently; `null` for an unknown id. */
  get(runId: string): Promise<{ run: JudgeRun; sessions: RunSessionProgress[] } | null>;
  /** The newest runs first. */
  list(limit: number): Promise<JudgeRun[]>;
  /** A run and one session's progress in it; `null` when either is unknown. */
  progress(runId: string, sessionId: string): Promise<{ run: JudgeRun; progress: RunSessionProgress } | null>;
  /** Marks the session `running`; `false` when it already finished in this run. */
  markRunning(runId: string, sessionId: string, at: string): Promise<boolean>;
  /**
   * In one write: stores the evaluation, makes it the session's latest when it is the newest,
   * marks the session done in the run and counts it. `already_finished` (a redelivery) changes nothing.
   */
  recordEvaluation(
    evaluation: Evaluation,
    outcome: { candidatesCreated: number | null },
  ): Promise<"recorded" | "already_finished">;
  /** In one write: the failure on the session, its progress in the run, and the run's count. */
  recordFailure(
    runId: string,
    sessionId: string,
    error: string,
    at: string,
  ): Promise<"recorded" | "already_finished">;
  /** Stamps the run completed once every session is done or failed. */
  completeIfFinished(runId: string, at: string): Promise<void>;
}

export interface JudgeQueue<Message = JudgeMessage> {
  /** Sends one message per session; returns those that could not be sent. */
  send(messages: readonly Message[]): Promise<{ failed: { message: Message; error: string }[] }>;
}

/** A chat model that answers a conversation with text. */
export interface JudgeModel {
  complete(model: string, turns: readonly ChatTurn[]): Promise<string>;
}

/** The model could not be asked: timeout, refused connection, HTTP error, unreadable envelope. */
export class JudgeBackendError extends Error {}

/** The model did not answer within the configured time (`JUDGE_TIMEOUT_MS`). */
export class JudgeTimeoutError extends JudgeBackendError {}

/**
 * The model is shedding load (HTTP 429 or 5xx, throttling) and still was after a few tries: not a
 * failure of the session. The message is delivered again later; only its last delivery records
 * the session as failed.
 */
export class JudgeBusyError extends Error {}

/** The model answered, twice, with something that is not a valid verdict. */
export class JudgeOutputError extends Error {}

/** This deployment has no judge for the run's backend. */
export class JudgeNotConfiguredError extends Error {}

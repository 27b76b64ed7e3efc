import type { Candidate } from "../../common/domain/candidate.ts";
import { NotFoundError, ValidationError } from "../../common/domain/errors.ts";
import { candidateFromSessionMessage, checkMessageIndex } from "../domain/eval-candidate.ts";
import {
  type Feedback,
  type FeedbackInput,
  legacySessionRow,
  type OverviewQuery,
  overviewRow,
  type SessionInput,
  type SessionMessage,
  type SessionSummary,
} from "../domain/eval-session.ts";
import { type StatsQuery, weeklyStats } from "../domain/eval-stats.ts";
import { CURRENT_VERSIONS, type JudgeVersions } from "../domain/rubric.ts";
import type { CandidateInserter, CandidatesMade, EvalSessionStore, SessionUpsert } from "../ports.ts";

export interface EvalSessionDeps {
  readonly sessions: EvalSessionStore;
  readonly candidates: CandidateInserter;
  /** The judge and rubric versions statuses are derived against; the rubric's constants by default. */
  readonly versions?: JudgeVersions;
  readonly now?: () => Date;
}

const nowOf = (deps: Pick<EvalSessionDeps, "now">) => (deps.now ?? (() => new Date()))().toISOString();
const versionsOf = (deps: Pick<EvalSessionDeps, "versions">) => deps.versions ?? CURRENT_VERSIONS;

async function summaryOf(deps: Pick<EvalSessionDeps, "sessions">, id: string): Promise<SessionSummary> {
  const summary = await deps.sessions.summary(id);
  if (!summary) throw new NotFoundError(`Session ${id} not found`);
  return summary;
}

export function upsertSession(deps: EvalSessionDeps, session: SessionInput): Promise<SessionUpsert> {
  return deps.sessions.upsert(session, nowOf(deps));
}

/** Records a like or dislike: 404 for an unknown session, 422 for an index past its last message. */
/** Records a rating: by `caller`, or by the end user the caller names (`input.rater`). */
export async function recordFeedback(deps: EvalSessionDeps, input: FeedbackInput, caller: string) {
  const summary = await summaryOf(deps, input.session_id);
  checkMessageIndex(input.message_index, summary.message_count);
  const now = nowOf(deps);
  return deps.sessions.putFeedback({
    session_id: input.session_id,
    message_index: input.message_index,
    rating: input.rating,
    comment: input.comment ?? null,
    rater: input.rater ?? caller,
    ...(input.rater && input.rater !== caller ? { sent_by: caller } : {}),
    created_at: now,
    updated_at: now,
  });
}

export async function sessionFeedback(deps: EvalSessionDeps, sessionId: string) {
  await summaryOf(deps, sessionId);
  return { session_id: sessionId, feedback: await deps.sessions.feedback(sessionId) };
}

export async function sessionsOverview(deps: EvalSessionDeps, query: OverviewQuery) {
  const current = versionsOf(deps);
  const { sessions, hasMore } = await deps.sessions.overview(query, current);
  return {
    sessions: sessions.map((summary) => overviewRow(summary, current)),
    limit: query.limit,
    offset: query.offset,
    has_more: hasMore,
    ...current,
  };
}

/** `GET /api/eval/sessions`: the session eval API's bare list of rows, Flywheel's fields beside. */
export async function legacySessionsList(deps: EvalSessionDeps, query: OverviewQuery) {
  const current = versionsOf(deps);
  const { sessions } = await deps.sessions.overview(query, current);
  return sessions.map((summary) => legacySessionRow(overviewRow(summary, current)));
}

export async function sessionDetail(deps: EvalSessionDeps, id: string) {
  const summary = await summaryOf(deps, id);
  const [messages, feedback, evaluations] = await Promise.all([
    deps.sessions.messages(id),
    deps.sessions.feedback(id),
    deps.sessions.evaluations(id),
  ]);
  const row = legacySessionRow(overviewRow(summary, versionsOf(deps)));
  return { ...row, messages: messages ?? [], feedback, evaluations };
}

export async function evalStats(deps: EvalSessionDeps, query: StatsQuery) {
  const current = versionsOf(deps);
  const now = (deps.now ?? (() => new Date()))();
  const since = new Date(now.getTime() - query.days * 86_400_000).toISOString();
  const samples = await deps.sessions.statsSamples(since, current);
  return weeklyStats(samples, {
    days: query.days,
    since,
    byComplexityBucket: query.by_complexity_bucket,
    versions: current,
  });
}

async function insertCandidates(
  deps: EvalSessionDeps,
  candidates: readonly Candidate[],
): Promise<CandidatesMade> {
  if (candidates.length === 0) return { created: [], existing: [], tooLarge: [] };
  const result = await deps.candidates.insertNew(candidates);
  return { created: result.inserted, existing: result.alreadyStored, tooLarge: result.tooLarge };
}

/** The comment of the first dislike of a message, to tell the reviewer why it was disliked. */
function dislikeComment(feedback: readonly Feedback[], messageIndex: number): string | null {
  return (
    feedback.find((f) => f.message_index === messageIndex && f.rating === -1 && f.comment)?.comment ?? null
  );
}

/**
 * Turns one assistant answer into a `needs_review` candidate; its id is derived from the session
 * and index, so asking again returns the same candidate (`created: false`).
 */
export async function candidateFromMessage(deps: EvalSessionDeps, sessionId: string, messageIndex: number) {
  const summary = await summaryOf(deps, sessionId);
  checkMessageIndex(messageIndex, summary.message_count);
  const [messages, feedback] = await Promise.all([
    deps.sessions.messages(sessionId),
    deps.sessions.feedback(sessionId),
  ]);
  const candidate = candidateFromSessionMessage(summary, messages ?? [], messageIndex, {
    capturedAt: nowOf(deps),
    feedbackComment: dislikeComment(feedback, messageIndex),
  });
  const made = await insertCandidates(deps, [candidate]);
  if (made.tooLarge.length > 0) {
    throw new ValidationError("The conversation up to this message is too large to become a candidate");
  }
  return { id: candidate.id, status: candidate.status, created: made.created.length === 1 };
}

/** A transaction holds at most 100 items; one is the counter shard. */
const MAX_CANDIDATES_PER_SESSION = 99;

/** Every disliked assistant answer of a session becomes a candidate (once). */
export async function candidatesFromDislikes(
  deps: EvalSessionDeps,
  summary: SessionSummary,
  messages: readonly SessionMessage[],
): Promise<CandidatesMade> {
  const feedback = await deps.sessions.feedback(summary.id);
  const disliked = [...new Set(feedback.filter((f) => f.rating === -1).map((f) => f.message_index))].filter(
    (index) => messages[index]?.role === "assistant",
  );
  const capturedAt = nowOf(deps);
  const candidates = disliked.slice(0, MAX_CANDIDATES_PER_SESSION).map((index) =>
    candidateFromSessionMessage(summary, messages, index, {
      capturedAt,
      feedbackComment: dislikeComment(feedback, index),
    }),
  );
  return insertCandidates(deps, candidates);
}

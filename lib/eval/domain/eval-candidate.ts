import { createHash } from "node:crypto";
import type { Candidate } from "../../common/domain/candidate.ts";
import { ValidationError } from "../../common/domain/errors.ts";
import type { SessionMessage } from "./eval-session.ts";

/** The same answer always gives the same candidate id, so making it twice stores it once. */
export function evalCandidateId(sessionId: string, messageIndex: number): string {
  const digest = createHash("sha256")
    .update(JSON.stringify([sessionId, messageIndex]))
    .digest("hex");
  return `eval-${digest.slice(0, 32)}`;
}

export interface CandidateSession {
  readonly id: string;
  readonly profile_id: string;
  readonly name: string;
  readonly last_active: string;
}

/** Throws the 422 for an index that names no message of the session. */
export function checkMessageIndex(messageIndex: number, messageCount: number): void {
  if (messageIndex >= messageCount) {
    throw new ValidationError([
      {
        loc: ["body", "message_index"],
        msg: `is out of range: the session has ${messageCount} message(s)`,
        type: "out_of_range",
      },
    ]);
  }
}

/**
 * A `needs_review` candidate from one assistant answer of a session: the conversation before it
 * is the prompt, the answer is what the reviewer corrects.
 */
export function candidateFromSessionMessage(
  session: CandidateSession,
  messages: readonly SessionMessage[],
  messageIndex: number,
  options: { capturedAt: string; feedbackComment?: string | null },
): Candidate {
  checkMessageIndex(messageIndex, messages.length);
  const answer = messages[messageIndex] as SessionMessage;
  if (answer.role !== "assistant") {
    throw new ValidationError([
      {
        loc: ["body", "message_index"],
        msg: `names a '${answer.role}' message; only assistant answers become candidates`,
        type: "not_an_answer",
      },
    ]);
  }
  const model = typeof answer.model === "string" && answer.model !== "" ? answer.model : null;
  return {
    id: evalCandidateId(session.id, messageIndex),
    source: "eval",
    timestamp: session.last_active,
    prompt_messages: messages.slice(0, messageIndex).map((m) => ({ ...m })),
    model_response: answer.content,
    quality_score: null,
    failure_reason: options.feedbackComment ? `disliked: ${options.feedbackComment}` : null,
    task_type: "chat",
    task_id: session.id,
    task_name: session.name || null,
    model_name: model,
    profile_id: session.profile_id,
    status: "needs_review",
    corrected_response: null,
    failure_category: null,
    version: 1,
    provenance: {
      source: "eval",
      channel: "eval",
      model,
      captured_at: options.capturedAt,
      source_session_id: session.id,
      message_index: messageIndex,
    },
  };
}

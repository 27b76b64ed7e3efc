import * as z from "zod";
import type { ChatTurn } from "../../eval/domain/rubric.ts";
import { extractJson } from "../../eval/domain/rubric.ts";

/**
 * The suggestion prompt: one constant text and its version. Every stored suggestion names the
 * version it was asked with, so a changed prompt is told apart in provenance and in the stats;
 * change the text, change the version.
 */
export const SUGGESTION_PROMPT_VERSION = "suggest-1";

export const SUGGESTION_SYSTEM_PROMPT =
  "You correct answers that a language model gave, for a supervised fine-tuning dataset. " +
  "You are shown the conversation the model was given, the answer it wrote, and, when known, " +
  "why that answer was judged wrong. Write the answer the model should have given: correct, " +
  "complete, in the same language, format and tone as the conversation asks for. Keep every part " +
  "of the model's answer that was already right, word for word, and change only what is wrong, " +
  "so a reviewer can see your changes at a glance. Do not explain your changes and do not talk " +
  'to the reviewer. Answer with one JSON object and nothing else, exactly of this shape:\n{"answer": "<the corrected answer>"}';

/**
 * The longest suggestion kept, in UTF-8 bytes. A candidate item holds up to 300 KB inline and a
 * correction up to 64 KB; the suggestion must fit beside both under DynamoDB's 400 KB.
 */
export const MAX_SUGGESTION_BYTES = 24 * 1024;

/** The longest conversation shown, in characters; a longer one keeps its start and its end. */
export const MAX_CONVERSATION_CHARS = 60_000;

/** What a suggestion is asked from: the candidate's prompt, answer and why it failed. */
export interface SuggestionSubject {
  readonly prompt_messages?: readonly { role?: unknown; content?: unknown }[] | null;
  readonly model_response?: unknown;
  readonly failure_reason?: unknown;
  readonly task_type?: unknown;
}

const text = (value: unknown) => (typeof value === "string" ? value : "");

function conversationOf(messages: SuggestionSubject["prompt_messages"]): string {
  const body = (messages ?? [])
    .map((m, i) => `[${i}] ${text(m.role) || "unknown"}:\n${text(m.content)}`)
    .join("\n\n");
  if (body.length <= MAX_CONVERSATION_CHARS) return body;
  const half = MAX_CONVERSATION_CHARS / 2;
  return `${body.slice(0, half)}\n\n[… ${body.length - MAX_CONVERSATION_CHARS} characters left out …]\n\n${body.slice(-half)}`;
}

/** The request for one candidate: the constant system prompt, then the candidate's material. */
export function suggestionPrompt(subject: SuggestionSubject): ChatTurn[] {
  const parts = [
    `Conversation the model was given:\n\n${conversationOf(subject.prompt_messages) || "(none recorded)"}`,
  ];
  if (text(subject.task_type)) parts.push(`Task type: ${text(subject.task_type)}`);
  parts.push(`The model's answer:\n<<<\n${text(subject.model_response)}\n>>>`);
  if (text(subject.failure_reason).trim())
    parts.push(`Why it was judged wrong: ${text(subject.failure_reason)}`);
  return [
    { role: "system", content: SUGGESTION_SYSTEM_PROMPT },
    { role: "user", content: parts.join("\n\n") },
  ];
}

const SuggestionReply = z.object({
  answer: z
    .string()
    .refine((answer) => answer.trim() !== "", "must not be blank")
    .refine(
      (answer) => Buffer.byteLength(answer.trim()) <= MAX_SUGGESTION_BYTES,
      `must be at most ${MAX_SUGGESTION_BYTES} bytes`,
    ),
});

export type SuggestionParse = { ok: true; text: string } | { ok: false; problem: string };

/** The corrected answer in a reply, trimmed, or what is wrong with the reply. */
export function parseSuggestion(reply: string): SuggestionParse {
  const json = extractJson(reply);
  if (json === undefined) return { ok: false, problem: "it contains no JSON object" };
  const parsed = SuggestionReply.safeParse(json);
  if (parsed.success) return { ok: true, text: normalizeText(parsed.data.answer) };
  const issues = parsed.error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`);
  return { ok: false, problem: issues.join("; ") };
}

/** The follow-up after a reply that did not parse: the one retry a malformed answer gets, as the judge's. */
export function retryTurns(reply: string, problem: string): ChatTurn[] {
  return [
    { role: "assistant", content: reply },
    {
      role: "user",
      content: `That reply is not valid: ${problem}. Answer again with only the JSON object, exactly of this shape:\n{"answer": "<the corrected answer>"}`,
    },
  ];
}

/** Line endings as a text area gives them, and no surrounding blank space: how texts are compared. */
export function normalizeText(value: string): string {
  return value.replace(/\r\n?/g, "\n").trim();
}

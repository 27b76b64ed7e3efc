import { PromptMessage } from "./candidate.ts";

/**
 * Whether a stored prompt can open an SFT example, by the rules the export firewall applies to
 * `openai-sft` (the format `GET /api/sft/export` builds): a list of {role, content} messages, at
 * least one, none blank, every role one of system / user / assistant, and the first message that
 * is not a system prompt from the user. The correction closes the conversation as the assistant's
 * turn, so nothing else about the prompt matters.
 *
 * A prompt never changes after a candidate is stored, so the verdict is stored beside it
 * (`prompt_ready`) and counting `export_ready` never needs the prompt itself.
 */
export function sftPromptProblem(promptMessages: unknown): string | null {
  if (promptMessages === null || promptMessages === undefined) return "the prompt has no messages";
  if (!Array.isArray(promptMessages)) return "prompt_messages is not a list";
  if (promptMessages.length === 0) return "the prompt has no messages";
  const roles: string[] = [];
  for (const [i, message] of promptMessages.entries()) {
    const parsed = PromptMessage.safeParse(message);
    if (!parsed.success) return `prompt_messages[${i}] is not a {role, content} message`;
    if (parsed.data.content.trim() === "") return `prompt message ${i + 1} is blank`;
    roles.push(parsed.data.role);
  }
  const unsupported = roles.find((role) => !SFT_ROLES.has(role));
  if (unsupported !== undefined) return `a prompt message has role "${unsupported}"`;
  const first = roles.find((role) => role !== "system");
  if (first !== "user") return "the first message after the system prompt is not from the user";
  return null;
}

const SFT_ROLES = new Set(["system", "user", "assistant"]);

/** The stored flag: `true` when `sftPromptProblem` finds nothing. */
export function isSftPromptReady(promptMessages: unknown): boolean {
  return sftPromptProblem(promptMessages) === null;
}

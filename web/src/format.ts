import type { Candidate, FailureCategory, PromptMessage, ReviewAction } from "./types.ts";

export type QualityBand = "low" | "fair" | "acceptable";

/** Below 0.4 "low quality", below 0.7 "fair", else "acceptable"; `null` without a usable score. */
export function qualityOf(score: unknown): { band: QualityBand; label: string; score: string } | null {
  if (typeof score !== "number" || !Number.isFinite(score)) return null;
  const band: QualityBand = score < 0.4 ? "low" : score < 0.7 ? "fair" : "acceptable";
  const label = band === "low" ? "low quality" : band;
  return { band, label, score: score.toFixed(2) };
}

export const CATEGORY_LABELS: Record<FailureCategory, string> = {
  scoring_artifact: "Scoring artifact",
  style_violation: "Style violation",
  partial_answer: "Partial answer",
  wrong_answer: "Wrong answer",
  format_error: "Format error",
  hallucination: "Hallucination",
};

export const ACTION_PAST: Record<ReviewAction | "undo", string> = {
  correct: "Corrected",
  discard: "Discarded",
  flag: "Flagged",
  undo: "Undone",
};

const text = (value: unknown): string | null =>
  typeof value === "string" && value.trim() !== "" ? value : null;

export function modelOf(candidate: Candidate): string | null {
  return text(candidate.model_name) ?? text(candidate.model_id);
}

export function taskOf(candidate: Candidate): string | null {
  const name = text(candidate.task_name);
  const type = text(candidate.task_type);
  if (name && type && name !== type) return `${type} · ${name}`;
  return type ?? name;
}

/** `heimdall · GPU 3`, either half alone, or `null`. */
export function placementOf(candidate: Candidate): string | null {
  const node = text(candidate.node_id);
  const gpu = candidate.gpu_id;
  const gpuText =
    typeof gpu === "number" && Number.isFinite(gpu) ? `GPU ${gpu}` : text(gpu) ? `GPU ${String(gpu)}` : null;
  return [node, gpuText].filter(Boolean).join(" · ") || null;
}

export function tokensPerSecondOf(candidate: Candidate): string | null {
  const value = candidate.tokens_per_sec;
  if (typeof value !== "number" || !Number.isFinite(value)) return null;
  return `${value.toFixed(1)} tok/s`;
}

/** The prompt's messages with a printable role and content; anything malformed is skipped. */
export function messagesOf(candidate: Candidate): { role: string; content: string }[] {
  const messages = Array.isArray(candidate.prompt_messages) ? candidate.prompt_messages : [];
  return messages
    .filter((message): message is PromptMessage => message !== null && typeof message === "object")
    .map((message) => ({
      role: text(message.role) ?? "message",
      content: typeof message.content === "string" ? message.content : JSON.stringify(message.content ?? ""),
    }));
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "—";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

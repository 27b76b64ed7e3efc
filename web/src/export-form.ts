import type { ExportRequestBody } from "./types.ts";
import {
  CANDIDATE_STATUSES,
  type CandidateStatus,
  FAILURE_CATEGORIES,
  type FailureCategory,
} from "./types.ts";

export type ExportFormat = ExportRequestBody["format"];

/** Every format the API writes, what it is for and what each line holds. */
export const FORMATS: readonly {
  readonly value: ExportFormat;
  readonly trainer: string;
  readonly what: string;
}[] = [
  {
    value: "openai-sft",
    trainer: "OpenAI fine-tuning",
    what: "Chat examples: the prompt, then the correction as the answer to learn.",
  },
  {
    value: "openai-preference",
    trainer: "OpenAI preference (DPO)",
    what: "The correction preferred over the model's own answer.",
  },
  {
    value: "trl-sft",
    trainer: "Hugging Face TRL SFTTrainer",
    what: "Chat examples, as one message list or as prompt and completion.",
  },
  {
    value: "trl-dpo",
    trainer: "Hugging Face TRL DPOTrainer",
    what: "Prompt, chosen (the correction) and rejected (the model's answer).",
  },
  {
    value: "trl-kto",
    trainer: "Hugging Face TRL KTOTrainer",
    what: "Two lines per candidate, the answer labelled bad and the correction good, laid out so KL pairs never share a candidate.",
  },
  {
    value: "bedrock-conversation",
    trainer: "Amazon Nova fine-tuning on Bedrock",
    what: "Bedrock's conversation schema; system turns moved to system.",
  },
  {
    value: "bedrock-preference",
    trainer: "Amazon Nova preference tuning (DPO)",
    what: "The conversation with the correction preferred and the answer not.",
  },
  {
    value: "bedrock-rft",
    trainer: "Amazon Nova reinforcement fine-tuning",
    what: "The prompt and the correction as the grader's reference answer.",
  },
  {
    value: "vertex-gemini",
    trainer: "Vertex AI Gemini supervised tuning",
    what: "Gemini's contents schema; system turns moved to systemInstruction.",
  },
  {
    value: "rag",
    trainer: "Retrieval (Bedrock Knowledge Bases)",
    what: "Each correction as a document with its metadata, for a retrieval index.",
  },
];

/** What each status partition holds; only `approved` candidates can reach a dataset. */
export const STATUS_HELP: Readonly<Record<CandidateStatus, string>> = {
  needs_review: "waiting for a reviewer",
  approved: "corrected by a reviewer: the only ones that can be exported",
  discarded: "thrown out by a reviewer",
  model_rejected: "flagged: the model's answer was wrong and no correction was written",
};

/** Why a record was kept out of a dataset (the firewall's reasons, first that applies). */
export const REASON_HELP: Readonly<Record<string, string>> = {
  status_disallowed: "not approved",
  category_disallowed: "its failure category was excluded",
  missing_provenance: "source, model or run not recorded",
  schema_violation: "the prompt or the line does not fit the format",
  empty_content: "a blank correction, prompt turn or answer",
  self_pairing: "the preferred and rejected answers are the same",
  trainer_rule: "breaks a rule of the trainer (see the rules)",
  eval_contamination: "shares text with a registered eval set",
  duplicate_content: "the same prompt and correction as a record already exported",
  near_duplicate: "nearly the same as a record already exported",
};

export const RULE_HELP: Readonly<Record<string, string>> = {
  bedrock_reserved_string: "holds a string Bedrock reserves (System:, User:, [EOS], <image> …)",
  first_turn_not_user: "the conversation does not start with the user",
  last_turn_not_assistant: "the conversation does not end with the assistant",
  turns_not_alternating: "user and assistant turns do not alternate",
  system_not_leading: "a system turn after the first",
  unsupported_role: "a role the trainer does not take",
};

/** The form as typed: every text field a string, empty meaning "not given". */
export interface ExportFormState {
  format: ExportFormat;
  statuses: CandidateStatus[];
  include_categories: FailureCategory[];
  exclude_categories: FailureCategory[];
  model: string;
  task_type: string;
  source: string;
  run_id: string;
  /** `datetime-local` values, read in the browser's time zone. */
  from: string;
  to: string;
  limit: string;
  trl_sft_style: "messages" | "prompt_completion";
  bedrock_kb_sidecars: boolean;
  bedrock_kb_prefix: "export" | "separate";
  validation_fraction: string;
  near_duplicate_threshold: string;
  quarantine_unselected: boolean;
  eval_ngram: string;
  dry_run: boolean;
  file_name: string;
}

export function emptyExportForm(): ExportFormState {
  return {
    format: "openai-sft",
    statuses: [],
    include_categories: [],
    exclude_categories: [],
    model: "",
    task_type: "",
    source: "",
    run_id: "",
    from: "",
    to: "",
    limit: "",
    trl_sft_style: "messages",
    bedrock_kb_sidecars: true,
    bedrock_kb_prefix: "export",
    validation_fraction: "",
    near_duplicate_threshold: "",
    quarantine_unselected: false,
    eval_ngram: "",
    dry_run: false,
    file_name: "",
  };
}

export type FormErrors = Partial<Record<keyof ExportFormState, string>>;
export type BuiltRequest = { ok: true; body: ExportRequestBody } | { ok: false; errors: FormErrors };

const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,126}$/;

/**
 * The `POST /api/exports` body the form means, sending only what was set (so a default stays the
 * API's), or the fields a reader must fix, each with why. The API checks again and has the last word.
 */
export function buildExportRequest(form: ExportFormState, toIso = localToIso): BuiltRequest {
  const errors: FormErrors = {};
  const filters: Record<string, unknown> = {};
  const options: Record<string, unknown> = {};

  if (form.statuses.length > 0) filters.statuses = order(form.statuses, CANDIDATE_STATUSES);
  if (form.include_categories.length > 0)
    filters.include_categories = order(form.include_categories, FAILURE_CATEGORIES);
  if (form.exclude_categories.length > 0)
    filters.exclude_categories = order(form.exclude_categories, FAILURE_CATEGORIES);
  const both = form.include_categories.filter((c) => form.exclude_categories.includes(c));
  if (both.length > 0) errors.exclude_categories = `${both.join(", ")} both included and excluded`;
  for (const name of ["model", "task_type", "source", "run_id"] as const) {
    const value = form[name].trim();
    if (value.length > 512) errors[name] = "at most 512 characters";
    else if (value) filters[name] = value;
  }
  for (const name of ["from", "to"] as const) {
    if (!form[name]) continue;
    const iso = toIso(form[name]);
    if (iso) filters[name] = iso;
    else errors[name] = "not a date and time";
  }
  if (typeof filters.from === "string" && typeof filters.to === "string" && filters.from >= filters.to) {
    errors.to = "must be later than From";
  }
  const limit = integerOf(form.limit);
  if (limit === "invalid" || (typeof limit === "number" && (limit < 1 || limit > 10_000_000))) {
    errors.limit = "a whole number from 1 to 10,000,000";
  } else if (limit !== null) filters.limit = limit;

  if (form.format === "trl-sft" && form.trl_sft_style !== "messages")
    options.trl_sft_style = form.trl_sft_style;
  if (form.format === "rag") {
    if (!form.bedrock_kb_sidecars) options.bedrock_kb_sidecars = false;
    if (form.bedrock_kb_prefix === "separate") options.bedrock_kb_prefix = "separate";
  }
  const fraction = numberOf(form.validation_fraction);
  if (fraction !== null && form.format !== "rag") {
    if (fraction === "invalid" || fraction <= 0 || fraction >= 1)
      errors.validation_fraction = "a number between 0 and 1, e.g. 0.1";
    else options.validation_fraction = fraction;
  }
  const threshold = numberOf(form.near_duplicate_threshold);
  if (threshold !== null) {
    if (threshold === "invalid" || threshold < 0.5 || threshold > 1)
      errors.near_duplicate_threshold = "a number from 0.5 to 1, e.g. 0.8";
    else options.near_duplicate_threshold = threshold;
  }
  const ngram = integerOf(form.eval_ngram);
  if (ngram === "invalid" || (typeof ngram === "number" && (ngram < 5 || ngram > 50)))
    errors.eval_ngram = "a whole number from 5 to 50";
  else if (ngram !== null) options.eval_ngram = ngram;
  if (form.quarantine_unselected) options.quarantine_unselected = true;
  if (form.dry_run) options.dry_run = true;
  const fileName = form.file_name.trim();
  if (fileName && !FILE_NAME.test(fileName))
    errors.file_name = "letters, digits, '.', '_' and '-' only, at most 127";
  else if (fileName) options.file_name = fileName;

  if (Object.keys(errors).length > 0) return { ok: false, errors };
  const body: Record<string, unknown> = { format: form.format };
  if (Object.keys(filters).length > 0) body.filters = filters;
  if (Object.keys(options).length > 0) body.options = options;
  return { ok: true, body: body as ExportRequestBody };
}

/** A `datetime-local` value in this browser's time zone as an ISO time, or `null`. */
export function localToIso(value: string): string | null {
  const at = new Date(value);
  return Number.isNaN(at.getTime()) ? null : at.toISOString();
}

function order<T extends string>(values: readonly T[], all: readonly T[]): T[] {
  return all.filter((value) => values.includes(value));
}

function numberOf(text: string): number | null | "invalid" {
  const trimmed = text.trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) ? value : "invalid";
}

function integerOf(text: string): number | null | "invalid" {
  const value = numberOf(text);
  return typeof value === "number" && !Number.isInteger(value) ? "invalid" : value;
}

/** Whether a job is still moving (worth polling). */
export const isActive = (status: string | undefined) => status === "queued" || status === "running";

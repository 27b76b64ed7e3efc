import { createHash } from "node:crypto";
import * as z from "zod";
import {
  type Candidate,
  FailureCategory,
  PromptMessage,
  type Provenance,
} from "../../common/domain/candidate.ts";
import { storageProblem } from "../../common/domain/storable.ts";

export const CORRECTION_SCHEMA_VERSION = 1;

const blank = (text: string) => text.trim() === "";

/**
 * A correction a product publishes, on the corrections queue or to `POST /api/sft/ingest`: the
 * prompt, the model's answer and the answer its user approved instead. Avocet's ingest body
 * (`source, task_type, prompt, response, correction, label`) is a valid message as it is.
 * Optional fields may be `null`; unknown fields are kept with the record, not dropped.
 */
export const CorrectionMessage = z
  .looseObject({
    schema_version: z.literal(CORRECTION_SCHEMA_VERSION).default(CORRECTION_SCHEMA_VERSION),
    source: z
      .string()
      .max(128)
      .refine((source) => !blank(source), {
        message: "must not be empty",
        params: { reason: "empty_source" },
      }),
    task_type: z.string().max(256),
    prompt: z
      .string()
      .refine((text) => !blank(text), { message: "must not be blank", params: { reason: "missing_prompt" } })
      .nullish(),
    prompt_messages: z.array(PromptMessage).min(1).nullish(),
    response: z.string(),
    correction: z.string().refine((text) => !blank(text), {
      message: "must not be blank",
      params: { reason: "blank_correction" },
    }),
    label: z.string().nullish(),
    failure_category: FailureCategory.nullish(),
    model: z.string().max(256).nullish(),
    idempotency_key: z.string().trim().min(1).max(256).nullish(),
    occurred_at: z.iso.datetime({ offset: true }).nullish(),
    metadata: z.record(z.string(), z.unknown()).nullish(),
  })
  .superRefine((message, ctx) => {
    const hasText = message.prompt != null;
    const hasMessages = message.prompt_messages != null;
    if (hasText === hasMessages) {
      ctx.addIssue({
        code: "custom",
        path: ["prompt"],
        message: hasText
          ? "give either prompt or prompt_messages, not both"
          : "prompt or prompt_messages is required",
        params: { reason: hasText ? "ambiguous_prompt" : "missing_prompt" },
      });
    }
  });
export type CorrectionMessage = z.infer<typeof CorrectionMessage>;

/** Why a message was refused; each fault has its own code so quarantine can be sorted by it. */
export const CORRECTION_FAULTS = [
  "invalid_json",
  "not_an_object",
  "unsupported_schema_version",
  "empty_source",
  "missing_prompt",
  "ambiguous_prompt",
  "blank_correction",
  "unknown_failure_category",
  "missing_field",
  "invalid_field",
  "too_large",
  "item_too_large",
  "idempotency_conflict",
  "forbidden_source",
] as const;
export type CorrectionFault = (typeof CORRECTION_FAULTS)[number];

export interface CorrectionIssue {
  readonly path: readonly (string | number)[];
  readonly reason: CorrectionFault;
  readonly message: string;
}

export type CorrectionVerdict =
  | { readonly ok: true; readonly message: CorrectionMessage }
  | {
      readonly ok: false;
      /** The fault that names the message in quarantine: the most specific of its issues. */
      readonly reason: CorrectionFault;
      readonly detail: string;
      readonly issues: readonly CorrectionIssue[];
    };

const KNOWN_FIELDS = new Set(Object.keys(CorrectionMessage.shape));

/** Validates a raw message body (JSON text). */
export function classifyCorrection(body: string): CorrectionVerdict {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return refuse([{ path: [], reason: "invalid_json", message: (error as Error).message }]);
  }
  return classifyCorrectionValue(value);
}

/** Validates an already parsed message. */
export function classifyCorrectionValue(value: unknown): CorrectionVerdict {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return refuse([{ path: [], reason: "not_an_object", message: `expected a JSON object, got ${kind}` }]);
  }
  const unstorable = storageProblem(value) ?? unknownFieldsProblem(value as Record<string, unknown>);
  if (unstorable) {
    const path = unstorable.path === "(root)" ? [] : unstorable.path.split(".");
    return refuse([{ path, reason: "invalid_field", message: unstorable.detail }]);
  }
  const parsed = CorrectionMessage.safeParse(value);
  if (parsed.success) return { ok: true, message: parsed.data };
  return refuse(
    parsed.error.issues.map((issue) => ({
      path: issue.path.filter((part): part is string | number => typeof part !== "symbol"),
      reason: faultOf(issue, value as Record<string, unknown>),
      message: issue.message,
    })),
  );
}

/**
 * Unknown fields are kept one level down, under `extra_fields`, so they may nest one level less
 * than a known field: checked as they will be stored, and reported where the message has them.
 */
function unknownFieldsProblem(value: Record<string, unknown>) {
  const unknown = Object.fromEntries(Object.entries(value).filter(([name]) => !KNOWN_FIELDS.has(name)));
  const problem = storageProblem({ extra_fields: unknown });
  return problem && { ...problem, path: problem.path.replace(/^extra_fields\.?/, "") || "(root)" };
}

function faultOf(issue: z.core.$ZodIssue, value: Record<string, unknown>): CorrectionFault {
  const params = (issue as { params?: { reason?: CorrectionFault } }).params;
  if (params?.reason) return params.reason;
  const [field] = issue.path;
  if (field === "schema_version") return "unsupported_schema_version";
  if (field === "failure_category") return "unknown_failure_category";
  if (issue.path.length === 1 && typeof field === "string" && KNOWN_FIELDS.has(field) && !(field in value)) {
    return "missing_field";
  }
  return "invalid_field";
}

/** Most specific first: the order in which a producer should fix a message. */
const FAULT_PRIORITY: readonly CorrectionFault[] = CORRECTION_FAULTS;

function refuse(issues: CorrectionIssue[]): CorrectionVerdict {
  const reason =
    FAULT_PRIORITY.find((fault) => issues.some((issue) => issue.reason === fault)) ?? "invalid_field";
  const detail = issues.map((issue) => `${issue.path.join(".") || "(root)"}: ${issue.message}`).join("; ");
  return { ok: false, reason, detail, issues };
}

/** Where a correction came in and who sent it; the rest of its provenance comes from the message. */
export interface CorrectionOrigin {
  readonly channel: "sqs" | "http";
  /** The SQS message id, or the HTTP request id. */
  readonly deliveryId: string;
  /** The authenticated sender: the token's principal over HTTP, the sender's IAM id on SQS. */
  readonly principal: string;
  /** When Flywheel received it (queued, or the request arrived). */
  readonly receivedAt: string;
}

export interface CorrectionProvenance extends Provenance {
  readonly channel: "sqs" | "http";
  readonly message_id?: string;
  readonly request_id?: string;
  readonly principal: string;
  readonly received_at: string;
  readonly idempotency_key: string | null;
  /** Fields filled from the source's configured defaults, not sent by the product. */
  readonly defaults_applied?: readonly string[];
  readonly schema_version: number;
  /** The product's own users approved the correction; the sender vouches for it as it arrives. */
  readonly approved: true;
  readonly approved_by: string;
  readonly approved_at: string;
}

/**
 * The record id of a correction: the same for every delivery of one message, and for two
 * messages with the same `source` and idempotency key. Without a key, the delivery id (SQS
 * message id, HTTP request id) stands in, so a redelivery still maps to the same record.
 *
 * Ids were first the hash of the parts joined by newlines. For a source without a newline (every
 * real one) that text names its parts unambiguously (the first newline ends the source), so those
 * ids stay as they were. A source holding a newline could make two different (source, key) pairs
 * one text, so its ids hash the parts as a JSON array instead, which no joined text can equal.
 */
export function correctionRecordId(
  source: string,
  idempotencyKey: string | null | undefined,
  deliveryId: string,
): string {
  if (source.includes("\n")) {
    const parts = idempotencyKey ? [source, "key", idempotencyKey] : [source, "delivery", deliveryId];
    return `ingest-${sha256(JSON.stringify(parts)).slice(0, 32)}`;
  }
  return joinedRecordId(source, idempotencyKey, deliveryId);
}

/**
 * The id a correction whose source holds a newline had before (the parts joined by newlines), so
 * its record stored then is still found; `null` when that is the id it has now.
 */
export function earlierRecordId(
  source: string,
  idempotencyKey: string | null | undefined,
  deliveryId: string,
): string | null {
  return source.includes("\n") ? joinedRecordId(source, idempotencyKey, deliveryId) : null;
}

function joinedRecordId(source: string, idempotencyKey: string | null | undefined, deliveryId: string) {
  const key = idempotencyKey ? `key\n${idempotencyKey}` : `delivery\n${deliveryId}`;
  return `ingest-${sha256(`${source}\n${key}`).slice(0, 32)}`;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/**
 * What a product's corrections leave out and Flywheel may assume, per source: today the model
 * that answered, for products whose messages (Avocet's ingest body) never name it.
 */
export type SourceDefaults = Readonly<Record<string, { readonly model?: string | undefined }>>;

/**
 * The approved record a correction becomes. A field the message leaves out that its source has
 * a default for is filled from the default, and provenance says so (`defaults_applied`).
 */
export function candidateFromCorrection(
  message: CorrectionMessage,
  origin: CorrectionOrigin,
  capturedAt: string,
  defaults: SourceDefaults = {},
): Candidate {
  const {
    schema_version,
    source,
    task_type,
    prompt,
    prompt_messages,
    response,
    correction,
    label,
    failure_category,
    model,
    idempotency_key,
    occurred_at,
    metadata,
    ...unknownFields
  } = message;
  const defaultModel = model
    ? undefined
    : Object.hasOwn(defaults, source)
      ? defaults[source]?.model
      : undefined;
  const provenance: CorrectionProvenance = {
    source,
    channel: origin.channel,
    model: model ?? defaultModel ?? null,
    ...(defaultModel ? { defaults_applied: ["model"] } : {}),
    captured_at: capturedAt,
    ...(origin.channel === "sqs" ? { message_id: origin.deliveryId } : { request_id: origin.deliveryId }),
    principal: origin.principal,
    received_at: origin.receivedAt,
    idempotency_key: idempotency_key ?? null,
    schema_version,
    approved: true,
    approved_by: origin.principal,
    approved_at: capturedAt,
  };
  return {
    id: correctionRecordId(source, idempotency_key, origin.deliveryId),
    source,
    timestamp: occurred_at ?? null,
    status: "approved",
    task_type,
    prompt_messages: prompt_messages ?? [{ role: "user", content: prompt ?? "" }],
    model_response: response,
    corrected_response: correction,
    failure_category: failure_category ?? null,
    label: label ?? null,
    model_name: model ?? null,
    metadata: metadata ?? null,
    ...(Object.keys(unknownFields).length > 0 ? { extra_fields: unknownFields } : {}),
    correction_sha256: correctionFingerprint(message),
    version: 1,
    provenance,
  };
}

/**
 * What a message says, apart from its idempotency key and how it arrived: two messages with the
 * same key and the same fingerprint are one correction sent twice; a different fingerprint under
 * the same key is a conflict, never silently the first one.
 */
export function correctionFingerprint(message: CorrectionMessage): string {
  const { idempotency_key: _key, ...content } = message;
  return createHash("sha256").update(canonicalJson(content)).digest("hex");
}

/** JSON with every object's keys sorted, so the same content always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

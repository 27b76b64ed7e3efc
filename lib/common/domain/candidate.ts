import * as z from "zod";
import { byteLength } from "./storable.ts";
import { CANDIDATE_STATUSES, FAILURE_CATEGORIES } from "./vocabulary.ts";

/**
 * The longest id, in bytes: the index sort keys that hold it (a timestamp or line number, then
 * the id) must stay within DynamoDB's 1,024 bytes.
 */
export const MAX_ID_BYTES = 960;

export { CANDIDATE_STATUSES, FAILURE_CATEGORIES };
export const FailureCategory = z.enum(FAILURE_CATEGORIES);
export type FailureCategory = z.infer<typeof FailureCategory>;

export const CandidateStatus = z.enum(CANDIDATE_STATUSES);
export type CandidateStatus = z.infer<typeof CandidateStatus>;

export const PromptMessage = z.looseObject({
  role: z.string().min(1),
  content: z.string(),
});
export type PromptMessage = z.infer<typeof PromptMessage>;

const optionalText = z.string().nullish();
/** Values that name a stats counter (source, model, task type) stay short: counter names are attribute names. */
/** A label that names counters (source, task type, model): capped, as counters are items too. */
const optionalLabel = z.string().max(256).nullish();

/**
 * One line of a benchmark run's `sft_candidates.jsonl`. Only `id` is guaranteed; the known
 * fields are type-checked when present and unknown fields are kept as they are.
 */
const candidateFields = {
  id: z
    .string()
    .trim()
    .min(1)
    .max(512)
    .refine((id) => byteLength(id) <= MAX_ID_BYTES, `must be at most ${MAX_ID_BYTES} bytes in UTF-8`)
    .refine((id) => !/\p{Cc}/u.test(id), "must not contain control characters"),
  source: optionalLabel,
  benchmark_run_id: optionalText,
  timestamp: z.iso.datetime({ offset: true }).nullish(),
  status: z.string().nullish(),
  prompt_messages: z.array(PromptMessage).nullish(),
  model_response: optionalText,
  corrected_response: optionalText,
  quality_score: z.number().min(0).max(1).nullish(),
  failure_reason: optionalText,
  failure_category: FailureCategory.nullish(),
  task_id: optionalText,
  task_type: optionalLabel,
  task_name: optionalText,
  model_id: optionalLabel,
  model_name: optionalLabel,
  node_id: optionalText,
  gpu_id: z.union([z.number().int(), z.string()]).nullish(),
  tokens_per_sec: z.number().nonnegative().nullish(),
};
export const CandidateLine = z.looseObject(candidateFields);
export type CandidateLine = z.infer<typeof CandidateLine>;
type KnownCandidateFields = z.infer<z.ZodObject<typeof candidateFields>>;

/** Where a record came from: filled where it enters, never dropped by a later write. */
export interface Provenance {
  readonly source: string;
  readonly channel: "s3-upload" | "sqs" | "http" | "eval" | "backfill";
  readonly model: string | null;
  readonly captured_at: string;
  readonly source_run_id?: string;
  readonly bucket?: string;
  readonly key?: string;
  readonly etag?: string;
  readonly line?: number;
  readonly import_id?: string;
  /** Candidates made from an eval session: the session and the index of the answer. */
  readonly source_session_id?: string;
  readonly message_index?: number;
}

/** A candidate as the store holds it. */
export interface Candidate
  extends Omit<KnownCandidateFields, "status" | "corrected_response" | "failure_category"> {
  readonly [extra: string]: unknown;
  readonly status: CandidateStatus;
  readonly corrected_response: string | null;
  readonly failure_category: FailureCategory | null;
  readonly version: number;
  readonly provenance: Provenance;
  /** Set by the store: whether the prompt can open an SFT example (see `sftPromptProblem`). */
  readonly prompt_ready?: boolean;
  /** What the uploaded line said about its review state; kept for reference, never acted on. */
  readonly upstream?: {
    status?: string | null;
    corrected_response?: string | null;
    failure_category?: string | null;
  };
}

/** The model whose answer is being corrected, as counters and filters name it. */
export function modelOf(line: Pick<CandidateLine, "model_name" | "model_id">): string | null {
  return line.model_name ?? line.model_id ?? null;
}

/**
 * Turns a validated line into a new candidate: whatever review state the line carries, it
 * starts as `needs_review` with no correction (the upstream values are kept aside).
 */
export function newCandidateFromLine(line: CandidateLine, provenance: Provenance): Candidate {
  const { status, corrected_response, failure_category, ...rest } = line;
  const upstream =
    (status && status !== "needs_review") || corrected_response || failure_category
      ? {
          status: status ?? null,
          corrected_response: corrected_response ?? null,
          failure_category: failure_category ?? null,
        }
      : undefined;
  return {
    ...rest,
    status: "needs_review",
    corrected_response: null,
    failure_category: null,
    version: 1,
    provenance,
    ...(upstream ? { upstream } : {}),
  };
}

import * as z from "zod";
import { MAX_COUNTED_LABEL_CHARS } from "./domain/stats.ts";
import { ALL_ROLES, type Role } from "./http/access.ts";

/**
 * Configuration read once at cold start from the environment. Endpoints are only set locally
 * (the standard `AWS_ENDPOINT_URL_*` variables the SDK also understands); in AWS they are absent.
 */
export const BaseConfig = z.object({
  AWS_REGION: z.string().min(1).default("us-east-1"),
  TABLE_NAME: z.string().min(1),
  BUCKET_NAME: z.string().min(1),
  AWS_ENDPOINT_URL_DYNAMODB: z.url().optional(),
  AWS_ENDPOINT_URL_S3: z.url().optional(),
  AWS_ENDPOINT_URL_SQS: z.url().optional(),
});
export type BaseConfig = z.infer<typeof BaseConfig>;

export class ConfigError extends Error {}

/** Parses `env` with `schema`, failing fast with every problem named. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined> = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
    throw new ConfigError(`invalid configuration: ${problems}`);
  }
  return parsed.data;
}

const optionalQueueUrl = z
  .string()
  .optional()
  .transform((value) => (value ? value : undefined))
  .pipe(z.url().optional());

/**
 * Run imports (`functions/import-run.ts`, and `POST /api/sft/import` in `functions/api.ts`): an
 * import running short of time hands the rest on to this queue, the run-uploads queue. Without
 * it an import has no deadline and must finish in one invocation.
 */
export const ImportConfig = BaseConfig.extend({ RUN_UPLOADS_QUEUE_URL: optionalQueueUrl });
export type ImportConfig = z.infer<typeof ImportConfig>;

/** An environment variable holding JSON: absent or empty is `undefined`, anything unparsable a problem. */
const jsonVariable = (message: string) =>
  z
    .string()
    .optional()
    .transform((text, ctx) => {
      if (!text) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message });
        return z.NEVER;
      }
    });

/** The review API (`functions/api.ts`). */
export const ReviewApiConfig = ImportConfig.extend({
  /** Where run folders are uploaded; the API may read nothing else of the bucket's runs. */
  RUNS_PREFIX: z
    .string()
    .regex(/^([A-Za-z0-9][A-Za-z0-9._-]*\/)+$/, "a folder path ending in '/'")
    .default("runs/"),
  /**
   * Set by the local runtime only: reviewers then authenticate with this bearer token. In AWS it
   * is absent and the HTTP API's JWT authorizer has checked the token before the function runs.
   */
  REVIEWER_TOKEN: z
    .string()
    .optional()
    .transform((token) => (token ? token : undefined)),
  /**
   * Set by the local runtime only: role → dev token (JSON), each token reaching exactly the
   * routes of its role (`ROLES` in lib/common/http/access.ts).
   */
  LOCAL_ROLE_TOKENS: jsonVariable("must be a JSON object of role → token").pipe(
    z.partialRecord(z.enum(ALL_ROLES as [Role, ...Role[]]), z.string().min(16)).optional(),
  ),
});
export type ReviewApiConfig = z.infer<typeof ReviewApiConfig>;

/**
 * Product ingest tokens, source → bearer token: each token may ingest for its own source only.
 * Tokens shorter than 16 characters are refused so a guessable one never goes live.
 */
export const IngestTokens = z.record(z.string().trim().min(1), z.string().min(16));
export type IngestTokens = z.infer<typeof IngestTokens>;

/**
 * What each product's corrections may leave out, as JSON: source → `{"model": "…"}`. A message
 * without a `model` from a source configured here is stored with the source's model, and its
 * provenance says the model came from this default (`defaults_applied`). Read by both ingest
 * paths (the queue's function and `POST /api/sft/ingest`).
 */
const IngestSourceDefaults = jsonVariable('must be a JSON object of source → {"model": "…"}').pipe(
  z
    .record(
      z.string().min(1),
      z.strictObject({ model: z.string().trim().min(1).max(MAX_COUNTED_LABEL_CHARS).optional() }),
    )
    .optional(),
);

/**
 * The ingest function. `INGEST_QUEUE_SENDERS` binds queue senders to the sources they may ingest
 * for: a JSON object of SQS sender id (an IAM user id, or a role id, whatever its session) → the
 * sources it may name. Unset, any sender allowed to send to the queue may ingest for any source.
 */
export const IngestQueueConfig = BaseConfig.extend({
  INGEST_QUEUE_SENDERS: jsonVariable("must be a JSON object of sender id → list of sources").pipe(
    z.record(z.string().min(1), z.array(z.string().min(1))).optional(),
  ),
  INGEST_SOURCE_DEFAULTS: IngestSourceDefaults,
});
export type IngestQueueConfig = z.infer<typeof IngestQueueConfig>;

/** Locally: Avocet's shared secret, as long as a product token must be. */
const optionalIngestSecret = z
  .string()
  .optional()
  .transform((value) => (value ? value : undefined))
  .pipe(z.string().min(16).optional());

/** The ingest endpoint (`POST /api/sft/ingest`, served by `functions/api.ts`). */

export const IngestApiConfig = BaseConfig.extend({
  /** Locally: the tokens as JSON (the local runtime sets it from `.flywheel/`). */
  INGEST_TOKENS: jsonVariable("must be a JSON object of source → token").pipe(IngestTokens.optional()),
  /** In AWS: the Secrets Manager secret holding the same JSON; read again after the cache expires. */
  INGEST_TOKENS_SECRET_ARN: z
    .string()
    .optional()
    .transform((arn) => (arn ? arn : undefined)),
  /** How long a read of the secret is reused, so a rotated token is honoured within this time. */
  INGEST_TOKENS_CACHE_SECONDS: z.coerce.number().int().min(0).max(3600).default(60),
  INGEST_SOURCE_DEFAULTS: IngestSourceDefaults,
  /** In AWS: the user pool whose machine clients' access tokens ingest accepts … */
  INGEST_USER_POOL_ID: z
    .string()
    .optional()
    .transform((id) => (id ? id : undefined)),
  /** … and, as JSON, each such client's id → the one source it may ingest for. */
  INGEST_CLIENT_SOURCES: jsonVariable("must be a JSON object of app client id → source").pipe(
    z.record(z.string().min(1), z.string().trim().min(1)).optional(),
  ),
  /**
   * Avocet's shared ingest secret, opt-in: the sources it may still ingest for (a JSON list). The
   * secret is the `_legacy` entry of the tokens' JSON (`INGEST_TOKENS` or the secret), or locally
   * `INGEST_LEGACY_SECRET`.
   */
  INGEST_LEGACY_SOURCES: jsonVariable("must be a JSON list of sources").pipe(
    z.array(z.string().trim().min(1)).optional(),
  ),
  INGEST_LEGACY_SECRET: optionalIngestSecret,
});
export type IngestApiConfig = z.infer<typeof IngestApiConfig>;

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value ? value : undefined));

/** The eval routes of `functions/api.ts`: judge runs are put on this queue. */
export const EvalApiConfig = BaseConfig.extend({
  /** Absent on a deployment without the eval capability: starting a run then answers 503. */
  JUDGE_QUEUE_URL: optionalText.pipe(z.url().optional()),
  /** The model and backend of a run request that names none (`lib/eval/domain/judge-run.ts`). */
  JUDGE_DEFAULT_MODEL: optionalText.pipe(z.string().max(256).optional()),
  JUDGE_DEFAULT_BACKEND: optionalText.pipe(z.enum(["openai", "bedrock", "ollama"]).optional()),
});
export type EvalApiConfig = z.infer<typeof EvalApiConfig>;

/**
 * The suggestion routes of `functions/api.ts`: jobs are put on this queue; a request naming no
 * model or backend gets the judge's defaults (`JUDGE_DEFAULT_MODEL`, `JUDGE_DEFAULT_BACKEND`).
 * The suggestion function (`functions/suggest.ts`) reads `JudgeConfig`: the same backends.
 */
export const SuggestApiConfig = EvalApiConfig.extend({
  /** Absent on a deployment without suggestions: starting a job then answers 503. */
  SUGGEST_QUEUE_URL: optionalText.pipe(z.url().optional()),
});
export type SuggestApiConfig = z.infer<typeof SuggestApiConfig>;

/** The judge (`functions/judge.ts`) and its model backends. */
export const JudgeConfig = BaseConfig.extend({
  /** The OpenAI-compatible API root, e.g. `https://api.openai.com/v1`; without it that backend is off. */
  JUDGE_OPENAI_BASE_URL: optionalText.pipe(z.url().optional()),
  /** The endpoint's key, given directly (locally) … */
  JUDGE_OPENAI_API_KEY: optionalText,
  /** … or as a Secrets Manager secret (in AWS): the key itself, or JSON with an `api_key` field. */
  JUDGE_OPENAI_API_KEY_SECRET_ARN: optionalText,
  /** Backend `ollama`: an OpenAI-compatible API root (e.g. `http://127.0.0.1:11434/v1`) and its key, if any. */
  JUDGE_OLLAMA_BASE_URL: optionalText.pipe(z.url().optional()),
  JUDGE_OLLAMA_API_KEY: optionalText,
  /** How long one call to the judge model may take, body included. */
  JUDGE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(60_000),
  /** Where Bedrock is called; the function's region by default. */
  JUDGE_BEDROCK_REGION: optionalText,
});
export type JudgeConfig = z.infer<typeof JudgeConfig>;

/** The export handler (`functions/export.ts`). */
export const ExportConfig = BaseConfig.extend({
  /** The code version manifests record, stamped at build (`<package version>+<git sha>`). */
  CODE_VERSION: optionalText,
});
export type ExportConfig = z.infer<typeof ExportConfig>;

/** The export function: with its own queue's URL, an export that runs short of time hands the rest on. */
export const ExportRunConfig = ExportConfig.extend({
  EXPORTS_QUEUE_URL: optionalText.pipe(z.url().optional()),
});
export type ExportRunConfig = z.infer<typeof ExportRunConfig>;

/** The export routes of `functions/api.ts`. */
export const ExportApiConfig = ExportConfig.extend({
  /** Absent on a deployment without the exports capability: creating a job then answers 503. */
  EXPORTS_QUEUE_URL: optionalText.pipe(z.url().optional()),
  /** How long a download link lasts unless the request asks for less or more. */
  EXPORT_URL_EXPIRY_SECONDS: z.coerce.number().int().min(1).max(43_200).default(900),
  /** The longest a request may ask a download link to last (`?expires_in=`). */
  EXPORT_URL_MAX_EXPIRY_SECONDS: z.coerce.number().int().min(1).max(43_200).default(3_600),
  /** `GET /api/sft/export` builds within the request up to this many approved candidates. */
  SFT_EXPORT_SYNC_MAX_RECORDS: z.coerce.number().int().min(0).max(1_000_000).default(20_000),
});
export type ExportApiConfig = z.infer<typeof ExportApiConfig>;

import { z } from "zod";

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

/** The review API (`functions/api.ts`). */
export const ReviewApiConfig = BaseConfig.extend({
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
});
export type ReviewApiConfig = z.infer<typeof ReviewApiConfig>;

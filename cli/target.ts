import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import type { AnyReply, RequestBody, RouteName } from "../lib/api/types.ts";
import { type LocalConfig, readLocalConfig } from "../local/local-config.ts";
import { authSettings, clientCredentialsToken, loginAccessToken, machineClient } from "./auth.ts";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Where runs are uploaded: the local runtime's bucket or a deployed stack's. */
export interface Target {
  readonly s3: S3Client;
  readonly bucket: string;
  /** For messages: "local runtime (http://127.0.0.1:…)" or "AWS". */
  readonly description: string;
}

export class UsageError extends Error {}

/** `.flywheel/local.json` of the working directory, else of this checkout. */
export function findLocalConfig(cwd: string = process.cwd()): string | undefined {
  return [join(cwd, ".flywheel", "local.json"), join(projectRoot, ".flywheel", "local.json")].find((file) =>
    existsSync(file),
  );
}

/**
 * The running local runtime's settings when a command targets it: with `--local`, or when one is
 * running and no explicit target (`explicit`: a bucket, queue or API URL) was named.
 */
export async function localRuntimeTarget(
  local: boolean | undefined,
  explicit: string | undefined,
): Promise<LocalConfig | undefined> {
  const file = findLocalConfig();
  if (!local && (!file || explicit)) return undefined;
  if (!file) {
    throw new UsageError(
      "no local runtime is running (.flywheel/local.json not found); start it with `npm start`",
    );
  }
  return readLocalConfig(file);
}

export interface ApiTarget {
  readonly apiUrl: string;
  readonly token: string;
  /** For messages: "local runtime (http://127.0.0.1:…)" or the API URL. */
  readonly description: string;
  /**
   * For a token the CLI obtained (a sign-in or a machine client's): answers it again before each
   * call, renewed when it is about to expire, so a long command (an export) is not cut off.
   */
  readonly freshToken?: () => Promise<string>;
}

/** The bearer token for the next call to the API. */
export const bearerToken = async (api: ApiTarget): Promise<string> =>
  api.freshToken ? api.freshToken() : api.token;

export interface ApiTargetFlags {
  local?: boolean | undefined;
  apiUrl?: string | undefined;
  token?: string | undefined;
  authUrl?: string | undefined;
  clientId?: string | undefined;
  scope?: string | undefined;
}

/** The flags of a command that calls the API, and `--help`: spread into its `parseArgs` options. */
export const API_FLAGS = {
  "api-url": { type: "string" },
  token: { type: "string" },
  local: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/**
 * The API that a command's `--local`, `--api-url` and `--token` name, resolved when the command
 * asks for it (after it has checked its arguments); both `--local` and `--api-url` is a usage
 * error at once.
 */
export function apiTargetOf(
  values: { local?: boolean | undefined; "api-url"?: string | undefined; token?: string | undefined },
  env: Record<string, string | undefined>,
): () => Promise<ApiTarget> {
  if (values.local && values["api-url"]) throw new UsageError("--local and --api-url cannot be combined");
  return () => resolveApiTarget({ local: values.local, apiUrl: values["api-url"], token: values.token }, env);
}

/**
 * `--local`, or a running local runtime when no API is named, targets the runtime's API with its
 * dev reviewer token. Otherwise the API is `--api-url`/`FLYWHEEL_API_URL` and its token, first
 * found: `--token`, `FLYWHEEL_TOKEN`, a machine client's (FLYWHEEL_CLIENT_ID and
 * FLYWHEEL_CLIENT_SECRET, client credentials against FLYWHEEL_AUTH_URL), the `flywheel login`
 * sign-in (refreshed when it is about to expire).
 */
export async function resolveApiTarget(
  flags: ApiTargetFlags,
  env: Record<string, string | undefined> = process.env,
): Promise<ApiTarget> {
  const apiUrl = flags.apiUrl ?? env.FLYWHEEL_API_URL;
  const config = await localRuntimeTarget(flags.local, apiUrl);
  if (config) {
    return {
      apiUrl: config.apiUrl,
      token: config.reviewerToken,
      description: `local runtime (${config.apiUrl})`,
    };
  }
  if (!apiUrl) {
    throw new UsageError(
      "no target: start the local runtime (`npm start`), or name the API with --api-url or FLYWHEEL_API_URL",
    );
  }
  const token = flags.token ?? env.FLYWHEEL_TOKEN;
  if (token) return { apiUrl, token, description: apiUrl };

  const client = machineClient(flags, env);
  if (client) {
    const freshToken = () => clientCredentialsToken(client, env);
    return { apiUrl, token: await freshToken(), description: apiUrl, freshToken };
  }
  const expectedIssuer = authSettings(flags, env).issuer;
  const freshToken = async () => {
    const signedIn = await loginAccessToken(env, { expectedIssuer });
    if (!signedIn) throw new UsageError(NO_TOKEN);
    return signedIn;
  };
  return { apiUrl, token: await freshToken(), description: apiUrl, freshToken };
}

const NO_TOKEN =
  "no token for the API: sign in with `flywheel login`, or give one with --token or FLYWHEEL_TOKEN " +
  "(a machine: FLYWHEEL_CLIENT_ID, FLYWHEEL_CLIENT_SECRET and FLYWHEEL_AUTH_URL)";

/**
 * `--local`, or a running local runtime when no bucket is named, targets the runtime's
 * emulators; otherwise the standard AWS environment (credentials, region, profile) and the
 * bucket from `--bucket` or `FLYWHEEL_BUCKET`.
 */
export async function resolveTarget(
  flags: { local?: boolean; bucket?: string },
  env: Record<string, string | undefined> = process.env,
): Promise<Target> {
  const config = await localRuntimeTarget(flags.local, flags.bucket);
  if (config) {
    return {
      s3: new S3Client({
        region: config.region,
        endpoint: config.s3Endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: "local", secretAccessKey: "local" },
      }),
      bucket: flags.bucket ?? config.bucket,
      description: `local runtime (${config.s3Endpoint})`,
    };
  }
  const bucket = flags.bucket ?? env.FLYWHEEL_BUCKET;
  if (!bucket) {
    throw new UsageError(
      "no target: start the local runtime (`npm start`), or name the bucket with --bucket or FLYWHEEL_BUCKET",
    );
  }
  return { s3: new S3Client({}), bucket, description: "AWS" };
}

/** A request body sent as it is, under its content type (`callApi` sends any other body as JSON). */
export class TextBody {
  constructor(
    readonly contentType: string,
    readonly text: string,
  ) {}
}

/**
 * Calls the API with the target's bearer token and answers the JSON reply; a status other than
 * 2xx throws with the reply. The path is joined as text, so an API base path (`…/prod`) is kept.
 */
export async function callApi<T>(
  api: ApiTarget,
  method: "GET" | "POST" | "DELETE",
  path: string,
  body?: unknown,
): Promise<T> {
  const sent =
    body === undefined
      ? undefined
      : body instanceof TextBody
        ? body
        : new TextBody("application/json", JSON.stringify(body));
  const response = await fetch(`${api.apiUrl.replace(/\/$/, "")}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${await bearerToken(api)}`,
      ...(sent ? { "content-type": sent.contentType } : {}),
    },
    ...(sent ? { body: sent.text } : {}),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

/**
 * Calls one route of the API's contract (`"GET /api/sft/suggestions/:id"`) at `path` (its
 * parameters filled in, a query appended): the body and the reply are typed from the contract's
 * zod schemas (lib/api/types.ts), the same the handler validates with.
 */
export function callRoute<R extends RouteName>(
  api: ApiTarget,
  route: R,
  path: string,
  ...body: [RequestBody<R>] extends [never] ? [] : [RequestBody<R>]
): Promise<AnyReply<R>> {
  const method = route.slice(0, route.indexOf(" ")) as "GET" | "POST" | "DELETE";
  return callApi<AnyReply<R>>(api, method, path, ...body);
}

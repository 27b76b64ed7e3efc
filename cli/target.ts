import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { type LocalConfig, readLocalConfig } from "../local/local-config.ts";

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
}

/**
 * `--local`, or a running local runtime when no API is named, targets the runtime's API with its
 * dev reviewer token; otherwise `--api-url`/`FLYWHEEL_API_URL` with `--token`/`FLYWHEEL_TOKEN`.
 */
export async function resolveApiTarget(
  flags: { local?: boolean | undefined; apiUrl?: string | undefined; token?: string | undefined },
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
  if (!token) throw new UsageError("a reviewer token is needed: --token or FLYWHEEL_TOKEN");
  return { apiUrl, token, description: apiUrl };
}

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

/**
 * Calls the API with the target's reviewer token and answers the JSON reply; a status other than
 * 2xx throws with the reply. The path is joined as text, so an API base path (`…/prod`) is kept.
 */
export async function callApi<T>(
  api: ApiTarget,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await fetch(`${api.apiUrl.replace(/\/$/, "")}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${api.token}`,
      ...(body === undefined ? {} : { "content-type": "application/json" }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

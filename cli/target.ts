import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { S3Client } from "@aws-sdk/client-s3";
import { readLocalConfig } from "../local/local-config.ts";

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
 * `--local`, or a running local runtime when no bucket is named, targets the runtime's
 * emulators; otherwise the standard AWS environment (credentials, region, profile) and the
 * bucket from `--bucket` or `FLYWHEEL_BUCKET`.
 */
export async function resolveTarget(
  flags: { local?: boolean; bucket?: string },
  env: Record<string, string | undefined> = process.env,
): Promise<Target> {
  const localConfig = findLocalConfig();
  if (flags.local || (localConfig && !flags.bucket)) {
    if (!localConfig) {
      throw new UsageError(
        "no local runtime is running (.flywheel/local.json not found); start it with `npm start`",
      );
    }
    const config = await readLocalConfig(localConfig);
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

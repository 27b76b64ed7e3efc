import { randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import * as z from "zod";
import { ALL_ROLES } from "../lib/common/http/access.ts";

/** `<dataDir>/local.json`: where a running local stack can be reached, for the CLI, tests and UI. */
export const LocalConfig = z.object({
  apiUrl: z.url(),
  s3Endpoint: z.url(),
  sqsEndpoint: z.url(),
  dynamodbEndpoint: z.url(),
  region: z.string().min(1),
  bucket: z.string().min(1),
  tableName: z.string().min(1),
  /** Queue name → URL, dead-letter queues included. */
  queues: z.record(z.string(), z.string()),
  reviewerToken: z.string().min(1),
  /** Ingest source → bearer token. */
  ingestTokens: z.record(z.string(), z.string()),
  /** Role → dev token reaching exactly that role's routes (docs/access.md); the reviewer token holds them all. */
  roleTokens: z.record(z.string(), z.string()).optional(),
});
export type LocalConfig = z.infer<typeof LocalConfig>;

export async function readLocalConfig(file: string): Promise<LocalConfig> {
  return LocalConfig.parse(JSON.parse(await readFile(file, "utf8")));
}

/** Sources that may push candidates through the ingest API locally. */
export const INGEST_SOURCES = ["kiwi", "peregrine"] as const;

/** Roles that get a dev token of their own; products use their per-source ingest tokens. */
export const LOCAL_ROLES = ALL_ROLES.filter((role) => role !== "product");

export const LocalTokens = z.object({
  reviewerToken: z.string().min(1),
  ingestTokens: z.record(z.string(), z.string().min(1)),
  roleTokens: z.record(z.string(), z.string().min(16)).optional(),
});
export type LocalTokens = z.infer<typeof LocalTokens>;

const newToken = () => randomBytes(32).toString("base64url");

/**
 * Reads `<dataDir>/tokens.json`, creating random tokens on first start (and for any source
 * added since), so bearer tokens stay valid across restarts.
 */
export async function loadOrCreateTokens(file: string): Promise<LocalTokens> {
  let tokens: LocalTokens | undefined;
  try {
    tokens = LocalTokens.parse(JSON.parse(await readFile(file, "utf8")));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT")
      throw new Error(`${file} is not valid: ${String(error)}`);
  }
  const next: LocalTokens = {
    reviewerToken: tokens?.reviewerToken ?? newToken(),
    ingestTokens: { ...tokens?.ingestTokens },
    roleTokens: { ...tokens?.roleTokens },
  };
  for (const source of INGEST_SOURCES) next.ingestTokens[source] ??= newToken();
  for (const role of LOCAL_ROLES) (next.roleTokens as Record<string, string>)[role] ??= newToken();
  if (JSON.stringify(next) !== JSON.stringify(tokens)) {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  }
  return next;
}

import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import * as z from "zod";

type Env = Record<string, string | undefined>;

/**
 * Tokens the CLI keeps between commands: a person's sign-in (`flywheel login`) or a machine
 * client's access token (`flywheel token`), with the authorization server and client they came
 * from, so they are refreshed (or asked for again) from the same place.
 */
export const CachedTokens = z.object({
  /** The authorization server's issuer (its discovery document lives under it). */
  issuer: z.string().min(1),
  clientId: z.string().min(1),
  /** The scopes asked for; absent when the server chose (Cognito: all the client may have). */
  scope: z.string().optional(),
  accessToken: z.string().min(1),
  refreshToken: z.string().optional(),
  idToken: z.string().optional(),
  /** Epoch milliseconds. */
  obtainedAt: z.number(),
  expiresAt: z.number(),
});
export type CachedTokens = z.infer<typeof CachedTokens>;

/** `FLYWHEEL_CONFIG_DIR`, else `$XDG_CONFIG_HOME/flywheel`, else `~/.config/flywheel`. */
export function configDir(env: Env = process.env): string {
  if (env.FLYWHEEL_CONFIG_DIR) return env.FLYWHEEL_CONFIG_DIR;
  const base = env.XDG_CONFIG_HOME?.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "flywheel");
}

/** Where `flywheel login` keeps a person's tokens. */
export const loginCacheFile = (env: Env = process.env) => join(configDir(env), "login.json");

/**
 * Where a machine client's token is kept: one file per issuer, client, secret and scope (the
 * secret enters only as part of a hash), so another client or a rotated secret never gets it.
 */
export function clientCacheFile(
  client: { issuer: string; clientId: string; clientSecret: string; scope?: string | undefined },
  env: Env = process.env,
): string {
  const key = createHash("sha256")
    .update([client.issuer, client.clientId, client.clientSecret, client.scope ?? ""].join("\n"))
    .digest("hex")
    .slice(0, 24);
  return join(configDir(env), `client-${key}.json`);
}

/** The cached tokens, or undefined when there are none (or the file is not ours to read). */
export async function readCachedTokens(file: string): Promise<CachedTokens | undefined> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  const parsed = CachedTokens.safeParse(safeJson(text));
  return parsed.success ? parsed.data : undefined;
}

/**
 * Writes the tokens readable by their owner only: the file 0600 (its folder 0700), written to a
 * temporary file beside it and renamed over it, so a reader never sees half a file.
 */
export async function writeCachedTokens(file: string, tokens: CachedTokens): Promise<void> {
  // A folder it creates is 0700; one that exists (FLYWHEEL_CONFIG_DIR may name any) is left as it
  // is, the files in it being 0600 either way.
  await mkdir(join(file, ".."), { recursive: true, mode: 0o700 });
  const temporary = `${file}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(temporary, `${JSON.stringify(CachedTokens.parse(tokens), null, 2)}\n`, {
      mode: 0o600,
      flag: "wx",
    });
    await rename(temporary, file);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

/** Removes every token the CLI keeps (the sign-in and machine clients' tokens); answers how many. */
export async function removeCachedTokens(env: Env = process.env): Promise<number> {
  const dir = configDir(env);
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [] as string[];
    throw error;
  });
  const ours = names.filter((name) => name === "login.json" || /^client-[0-9a-f]+\.json$/.test(name));
  await Promise.all(ours.map((name) => rm(join(dir, name), { force: true })));
  return ours.length;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, readdirSync, readFileSync } from "node:fs";
import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

/** The web app's folder, and where `npm start` serves its build from. */
export const WEB_ROOT = dirname(fileURLToPath(import.meta.url));
export const WEB_DIST = join(WEB_ROOT, "dist");
/** Written into the build: the hash of the sources it was built from. */
const HASH_FILE = ".source-hash";
const SOURCES = ["index.html", "vite.config.ts", "src"];

function filesUnder(path: string): string[] {
  if (!existsSync(path)) return [];
  try {
    return readdirSync(path, { withFileTypes: true }).flatMap((entry) =>
      entry.isDirectory() ? filesUnder(join(path, entry.name)) : [join(path, entry.name)],
    );
  } catch {
    return [path];
  }
}

/**
 * A hash of everything the build reads: the sources, and the versions of the packages that build
 * them. Synchronous, for CDK's local bundling; the sources are a few hundred kilobytes.
 */
export function webSourceHash(): string {
  const hash = createHash("sha256");
  const require = createRequire(import.meta.url);
  for (const name of ["vite", "vue", "@vitejs/plugin-vue"]) {
    const manifest = JSON.parse(readFileSync(require.resolve(`${name}/package.json`), "utf8"));
    hash.update(`${name}@${manifest.version}\n`);
  }
  const files = SOURCES.flatMap((source) => filesUnder(join(WEB_ROOT, source))).sort();
  for (const file of files) {
    hash.update(`${relative(WEB_ROOT, file)}\n`);
    hash.update(readFileSync(file));
  }
  return hash.digest("hex");
}

function isFresh(outDir: string, built: string | null): boolean {
  return built !== null && existsSync(join(outDir, "index.html")) && built === webSourceHash();
}

export async function isWebBuildFresh(outDir = WEB_DIST): Promise<boolean> {
  return isFresh(outDir, await readFile(join(outDir, HASH_FILE), "utf8").catch(() => null));
}

const viteBin = () =>
  join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
const viteArgs = (outDir: string) => [
  viteBin(),
  "build",
  WEB_ROOT,
  "--outDir",
  outDir,
  "--emptyOutDir",
  "--logLevel",
  "warn",
];
const viteEnv = () => ({ ...process.env, NODE_ENV: "production" });

/**
 * Builds the web app with Vite into `outDir` (in a sibling folder first, then moved in place, so a
 * server reading `outDir` never sees half a build). Takes a few seconds.
 */
export async function buildWeb(outDir = WEB_DIST): Promise<void> {
  const target = resolve(outDir);
  const staging = `${target}.tmp-${process.pid}-${Date.now()}`;
  try {
    await promisify(execFile)(process.execPath, viteArgs(staging), {
      env: viteEnv(),
      timeout: 180_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    await writeFile(join(staging, HASH_FILE), webSourceHash());
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Builds the web app unless `outDir` already holds a build of the current sources. */
export async function ensureWebBuild(outDir = WEB_DIST): Promise<"fresh" | "built"> {
  if (await isWebBuildFresh(outDir)) return "fresh";
  await buildWeb(outDir);
  return "built";
}

/**
 * Puts a build of the current sources into `outDir` (an empty folder), synchronously, as CDK's
 * local bundling needs: a copy of `web/dist` when it is up to date, else a fresh Vite build.
 */
export function bundleWebInto(outDir: string): void {
  const hashFile = join(WEB_DIST, HASH_FILE);
  if (isFresh(WEB_DIST, existsSync(hashFile) ? readFileSync(hashFile, "utf8") : null)) {
    cpSync(WEB_DIST, outDir, { recursive: true, filter: (source) => !source.endsWith(HASH_FILE) });
    return;
  }
  execFileSync(process.execPath, viteArgs(outDir), { env: viteEnv(), timeout: 180_000, stdio: "pipe" });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const started = Date.now();
  let outcome: "fresh" | "built" = "built";
  if (process.argv.includes("--force")) await buildWeb();
  else outcome = await ensureWebBuild();
  console.log(
    outcome === "built"
      ? `web UI built into ${relative(process.cwd(), WEB_DIST) || WEB_DIST} in ${Date.now() - started} ms`
      : "web UI build is up to date",
  );
}

import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
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

async function filesUnder(path: string): Promise<string[]> {
  const entries = await readdir(path, { withFileTypes: true }).catch(() => null);
  if (!entries) return existsSync(path) ? [path] : [];
  const nested = await Promise.all(
    entries.map((entry) =>
      entry.isDirectory() ? filesUnder(join(path, entry.name)) : [join(path, entry.name)],
    ),
  );
  return nested.flat();
}

/** A hash of everything the build reads: the sources, and the versions of the packages that build them. */
export async function webSourceHash(): Promise<string> {
  const hash = createHash("sha256");
  const require = createRequire(import.meta.url);
  for (const name of ["vite", "vue", "@vitejs/plugin-vue"]) {
    const manifest = JSON.parse(await readFile(require.resolve(`${name}/package.json`), "utf8"));
    hash.update(`${name}@${manifest.version}\n`);
  }
  const files = (await Promise.all(SOURCES.map((source) => filesUnder(join(WEB_ROOT, source)))))
    .flat()
    .sort();
  for (const file of files) {
    hash.update(`${relative(WEB_ROOT, file)}\n`);
    hash.update(await readFile(file));
  }
  return hash.digest("hex");
}

export async function isWebBuildFresh(outDir = WEB_DIST): Promise<boolean> {
  const built = await readFile(join(outDir, HASH_FILE), "utf8").catch(() => null);
  return built !== null && existsSync(join(outDir, "index.html")) && built === (await webSourceHash());
}

/**
 * Builds the web app with Vite into `outDir` (in a sibling folder first, then moved in place, so a
 * server reading `outDir` never sees half a build). Takes a few seconds.
 */
export async function buildWeb(outDir = WEB_DIST): Promise<void> {
  const target = resolve(outDir);
  const staging = `${target}.tmp-${process.pid}-${Date.now()}`;
  const vite = join(dirname(createRequire(import.meta.url).resolve("vite/package.json")), "bin", "vite.js");
  try {
    await promisify(execFile)(
      process.execPath,
      [vite, "build", WEB_ROOT, "--outDir", staging, "--emptyOutDir", "--logLevel", "warn"],
      { env: { ...process.env, NODE_ENV: "production" }, timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
    await writeFile(join(staging, HASH_FILE), await webSourceHash());
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

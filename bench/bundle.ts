import { type BuildOptions, build } from "esbuild";

/** The options `ProjectFunction` bundles with (infra/constructs/project-function.ts). */
export const ESBUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: "node",
  target: "node22",
  format: "esm",
  minify: true,
  mainFields: ["module", "main"],
  logLevel: "silent",
};
export const BANNER =
  "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);";

/** Bundles one function's entry point (`functions/<name>.ts`) as the stack does, to `outfile`. */
export async function bundleFunction(entry: string, outfile: string): Promise<string> {
  await build({ ...ESBUILD_OPTIONS, entryPoints: [entry], outfile, banner: { js: BANNER } });
  return outfile;
}

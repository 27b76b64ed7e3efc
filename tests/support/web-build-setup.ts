import { ensureWebBuild } from "../../web/build.ts";

/**
 * Builds the web UI once before any test file runs, when its sources changed since the last
 * build: the browser test serves it and the stack's synthesis copies it, so neither builds its own.
 */
export async function setup(): Promise<void> {
  await ensureWebBuild();
}

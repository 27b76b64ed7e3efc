import { execFileSync } from "node:child_process";
import packageJson from "../../package.json" with { type: "json" };

export const PACKAGE_VERSION: string = packageJson.version;

/** The version manifests record: what the build stamped (`CODE_VERSION`), else the package version. */
export function codeVersion(stamped: string | undefined): string {
  return stamped?.trim() ? stamped.trim() : PACKAGE_VERSION;
}

/**
 * The version to stamp at build time: the package version plus the checkout's git commit
 * (`0.1.0+3f2c1a9b0d4e`), or the package version alone outside a git checkout.
 */
export function buildCodeVersion(cwd?: string): string {
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim();
    return /^[0-9a-f]{7,40}$/.test(sha) ? `${PACKAGE_VERSION}+${sha}` : PACKAGE_VERSION;
  } catch {
    return PACKAGE_VERSION;
  }
}

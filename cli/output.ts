import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** Exit codes, as `flywheel --help` documents them. */
export const EXIT = {
  ok: 0,
  /** The command failed, or found what it reports as a difference (refused lines, unrepaired counters). */
  failure: 1,
  usage: 2,
  /** `--wait` or `export` gave up at `--timeout`; the work may still finish. */
  timeout: 3,
} as const;

/** Prints a command's usage: with `--help` it exits 0; without (no subcommand given), 2. */
export function usageExit(io: Pick<CommandIo, "print">, usage: string, help: boolean | undefined): number {
  io.print(`Usage:\n${usage}`);
  return help ? EXIT.ok : EXIT.usage;
}

/** A wait that ran past its `--timeout` (exit code 3). */
export class WaitTimeoutError extends Error {}

/** How a command talks: human lines, or (with `--json`) one JSON document on stdout. */
export interface CommandIo {
  /** Human text; with `--json` it is dropped, so stdout holds only the document. */
  readonly print: (line: string) => void;
  /** With `--json`, the command's one document; without, nothing. */
  readonly emit: (document: unknown) => void;
  readonly json: boolean;
  /** Progress for a person (stderr); `undefined` when none is wanted. */
  readonly progress?: ((line: string) => void) | undefined;
}

export function commandIo(
  json: boolean,
  out: (line: string) => void,
  progress?: ((line: string) => void) | undefined,
): CommandIo {
  return {
    json,
    print: json ? () => {} : out,
    emit: json ? (document) => out(JSON.stringify(document, null, 2)) : () => {},
    progress,
  };
}

/**
 * A progress line on stderr: rewritten in place on a terminal; with `--progress` elsewhere,
 * one line at most every two seconds (and the last). `undefined` when neither applies.
 */
export function stderrProgress(
  forced: boolean,
  stream: NodeJS.WriteStream = process.stderr,
): ((line: string, final?: boolean) => void) | undefined {
  if (stream.isTTY) {
    return (line, final) => stream.write(`\r${line}\x1b[K${final ? "\n" : ""}`);
  }
  if (!forced) return undefined;
  let last = 0;
  return (line, final) => {
    const now = Date.now();
    if (!final && now - last < 2_000) return;
    last = now;
    stream.write(`${line}\n`);
  };
}

/** package.json's version and, when this is a git checkout, the commit (read from .git, no network). */
export function versionInfo(root: string = projectRoot): { version: string; commit: string | null } {
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  let commit: string | null = null;
  // Only this checkout's own repository: an installed copy inside another repository has no commit.
  if (!existsSync(join(root, ".git"))) return { version, commit };
  try {
    commit = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], {
      cwd: root,
      stdio: ["ignore", "pipe", "ignore"],
      timeout: 2_000,
    })
      .toString()
      .trim();
  } catch {
    commit = null;
  }
  return { version, commit: commit || null };
}

/** A command's io from what its caller passed: a print function (human text, or JSON with `json`) or a full io. */
export function toIo(io: CommandIo | ((line: string) => void), json = false): CommandIo {
  return typeof io === "function" ? commandIo(json, io) : io;
}

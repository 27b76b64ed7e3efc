import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../cli/commands.ts";
import { commandsOf } from "../../../cli/completion.ts";

let dir: string;
let script: string;
let help: string;

async function run(...argv: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

/** What bash completes for the words typed so far (the last one being completed). */
function complete(...typed: string[]): string[] {
  const words = typed.map((word) => `'${word}'`).join(" ");
  const output = execFileSync(
    "bash",
    [
      "-c",
      `source "$1"; COMP_WORDS=(${words}); COMP_CWORD=${typed.length - 1}; _flywheel; printf '%s\\n' "\${COMPREPLY[@]}"`,
      "bash",
      script,
    ],
    { cwd: dir },
  ).toString();
  return output.split("\n").filter(Boolean);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "flywheel-completion-"));
  await writeFile(join(dir, "run-folder.jsonl"), "");
  const printed = await run("completion", "bash");
  expect(printed.code).toBe(0);
  script = join(dir, "flywheel.bash");
  await writeFile(script, printed.out);
  help = (await run("--help")).out;
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("flywheel completion", () => {
  it("reads every command of the help text with the flags it names", () => {
    const commands = commandsOf(help);
    expect([...commands.keys()]).toEqual(
      expect.arrayContaining([
        "runs upload",
        "runs list",
        "ingest",
        "export",
        "admin recount",
        "login",
        "completion",
      ]),
    );
    expect([...(commands.get("runs upload") ?? [])]).toEqual(
      expect.arrayContaining(["--wait", "--timeout", "--run-id", "--local", "--bucket", "--json", "--help"]),
    );
    expect([...(commands.get("export") ?? [])]).toEqual(expect.arrayContaining(["--format", "-o"]));
  });

  it("completes commands, then subcommands, then the command's flags, in bash", () => {
    expect(complete("flywheel", "ru")).toEqual(["runs"]);
    expect(complete("flywheel", "runs", "")).toEqual(["list", "upload"]);
    expect(complete("flywheel", "runs", "upload", "--w")).toEqual(["--wait"]);
    expect(complete("flywheel", "runs", "list", "--w")).toEqual([]);
    expect(complete("flywheel", "export", "--form")).toEqual(["--format"]);
    expect(complete("flywheel", "admin", "recount", "--rep")).toEqual(["--repair"]);
    expect(complete("flywheel", "ingest", "--js")).toEqual(["--json"]);
    expect(complete("flywheel", "--ver")).toEqual(["--version"]);
  });

  it("completes file names where a command takes a path", () => {
    expect(complete("flywheel", "ingest", "run-")).toEqual(["run-folder.jsonl"]);
  });

  it("prints a zsh script through bash completion emulation, and refuses another shell", async () => {
    const zsh = await run("completion", "zsh");
    expect(zsh.code).toBe(0);
    expect(zsh.out.startsWith("#compdef flywheel")).toBe(true);
    expect(zsh.out).toContain("bashcompinit");
    expect(zsh.out).toContain("complete -o filenames -F _flywheel flywheel");
    expect((await run("completion", "fish")).code).toBe(2);
    expect(help).toContain("flywheel completion bash|zsh");
  });
});

import { UsageError } from "./target.ts";

export const COMPLETION_USAGE = `  flywheel completion bash|zsh
      Prints a shell completion script for the commands and their flags, read from this help:
      eval "$(npx flywheel completion bash)" in ~/.bashrc, or the same with zsh in ~/.zshrc.`;

/** Flags every command takes. */
const GLOBAL_FLAGS = ["--json", "--help"];

/** The commands of the help text: each command's words (`runs upload`) and the flags it names. */
export function commandsOf(usage: string): Map<string, Set<string>> {
  const commands = new Map<string, Set<string>>();
  let current: Set<string> | undefined;
  for (const line of usage.split("\n")) {
    const synopsis = /^ {2}flywheel (.*)$/.exec(line);
    if (synopsis) {
      const words: string[] = [];
      for (const token of (synopsis[1] ?? "").split(/\s+/)) {
        if (!/^[a-z][a-z-]*$/.test(token)) break;
        words.push(token);
      }
      if (words.length === 0) {
        current = undefined;
        continue;
      }
      const name = words.join(" ");
      current = commands.get(name) ?? new Set(GLOBAL_FLAGS);
      commands.set(name, current);
    } else if (!line.startsWith(" ")) {
      current = undefined;
    }
    for (const flag of line.match(/(?<![\w-])--[a-z][a-z-]*|(?<![\w-])-o(?![\w-])/g) ?? [])
      current?.add(flag);
  }
  return commands;
}

const words = (items: Iterable<string>) => [...items].sort().join(" ");

/** A bash completion function for `flywheel`: commands, then subcommands, then flags, else files. */
export function bashCompletion(usage: string): string {
  const commands = commandsOf(usage);
  const groups = new Map<string, Set<string>>();
  for (const name of commands.keys()) {
    const [group, sub] = name.split(" ");
    if (!group) continue;
    const subs = groups.get(group) ?? new Set<string>();
    if (sub) subs.add(sub);
    groups.set(group, subs);
  }
  const flagsOf = (group: string) =>
    new Set(
      [...commands].filter(([name]) => name.split(" ")[0] === group).flatMap(([, flags]) => [...flags]),
    );
  const subcommandCases = [...groups]
    .filter(([, subs]) => subs.size > 0)
    .map(([group, subs]) => `    ${group}) subcommands="${words(subs)}" ;;`)
    .join("\n");
  const flagCases = [
    ...[...commands].map(([name, flags]) => `    "${name}") flags="${words(flags)}" ;;`),
    ...[...groups.keys()]
      .filter((group) => !commands.has(group))
      .map((group) => `    "${group}") flags="${words(flagsOf(group))}" ;;`),
  ].join("\n");
  return `# flywheel completion (bash): eval "$(npx flywheel completion bash)"
_flywheel() {
  local cur="\${COMP_WORDS[COMP_CWORD]}"
  local group="\${COMP_WORDS[1]}" sub="\${COMP_WORDS[2]}"
  local subcommands="" flags=""
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=($(compgen -W "${words([...groups.keys(), "--version", "--help"])}" -- "$cur"))
    return
  fi
  case "$group" in
${subcommandCases}
  esac
  if [[ $COMP_CWORD -eq 2 && -n "$subcommands" && "$cur" != -* ]]; then
    COMPREPLY=($(compgen -W "$subcommands" -- "$cur"))
    return
  fi
  local command="$group"
  if [[ -n "$subcommands" && " $subcommands " == *" $sub "* ]]; then command="$group $sub"; fi
  case "$command" in
${flagCases}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
}
complete -o filenames -F _flywheel flywheel
`;
}

/** zsh runs the bash function through its bash-completion emulation. */
export function zshCompletion(usage: string): string {
  return `#compdef flywheel
# flywheel completion (zsh): eval "$(npx flywheel completion zsh)"
autoload -U +X bashcompinit && bashcompinit
${bashCompletion(usage)}`;
}

/** `flywheel completion bash|zsh`: the script on stdout. */
export function completionCommand(args: string[], usage: string, print: (text: string) => void): number {
  const [shell, ...rest] = args;
  if (rest.length > 0 || (shell !== "bash" && shell !== "zsh")) {
    throw new UsageError("completion takes one shell: bash or zsh");
  }
  print(shell === "bash" ? bashCompletion(usage) : zshCompletion(usage));
  return 0;
}

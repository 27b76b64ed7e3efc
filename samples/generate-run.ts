// Writes a realistic benchmark run (sft_candidates.jsonl): deterministic, any size, damage optional.
//   npx tsx samples/generate-run.ts --count 100000 --run-id 2026-04-07-143022 [--seed 7] [--out FILE]
//   [--broken 0.01]   fraction of lines damaged the ways real uploads get damaged
//   [--body-kb 1.5]   rough size of each candidate's user turn, in KB
// The same arguments always give the same bytes, so tests and benchmarks can predict counts.
import { once } from "node:events";
import { createWriteStream } from "node:fs";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

export interface RunOptions {
  count: number;
  runId: string;
  /** Fraction (0–1) of lines damaged: truncated, no id, wrong types, junk, or a repeat of the line before. */
  broken?: number;
  bodyKb?: number;
  seed?: number;
}

const MODELS = [
  ["Qwen/Qwen2.5-3B-Instruct", "Qwen2.5-3B"],
  ["meta-llama/Llama-3.2-3B-Instruct", "Llama-3.2-3B"],
  ["microsoft/Phi-3.5-mini-instruct", "Phi-3.5-mini"],
  ["google/gemma-2-2b-it", "gemma-2-2b"],
] as const;

interface Task {
  id: string;
  type: string;
  name: string;
  system: string;
  user: (n: number) => string;
  wrong: (n: number) => string;
  reason: string;
}

const TASKS: Task[] = [
  {
    id: "code-fn",
    type: "code",
    name: "Code: Write a Python function",
    system: "You are a careful Python programmer. Answer with code only.",
    user: (n) => `Write a Python function that returns the sum of the first ${n} odd numbers.`,
    wrong: (n) => `def sum_odd(n):\n    return sum(range(1, ${n}))`,
    reason: "pattern_match: 0/2 matched",
  },
  {
    id: "email-cls",
    type: "email_classification",
    name: "Email: classify job-search email",
    system: "Classify the email into one of: interview, rejection, offer, action_required, skip.",
    user: (n) => `Subject: Next steps for req #${n}\n\nHi, please confirm a time for the on-site interview.`,
    wrong: () => "skip",
    reason: "exact_match: expected interview",
  },
  {
    id: "recipe-sub",
    type: "recipe_suggestion",
    name: "Recipe: ingredient substitution",
    system: "You suggest safe ingredient substitutions for home cooks.",
    user: (n) => `I have no eggs. What can replace 2 eggs in a ${n}-gram banana bread?`,
    wrong: () => "Use 2 tablespoons of baking soda per egg.",
    reason: "judge: unsafe or incorrect substitution",
  },
  {
    id: "sum-news",
    type: "summarization",
    name: "Summarize: news paragraph",
    system: "Summarize in one sentence. Do not add facts.",
    user: (n) =>
      `The city council voted ${(n % 9) + 1}-2 on Tuesday to extend the bike lane pilot by a year.`,
    wrong: () => "The council unanimously banned bike lanes after a rise in accidents.",
    reason: "judge: hallucinated facts",
  },
  {
    id: "math-word",
    type: "math",
    name: "Math: word problem",
    system: "Solve the problem. End with 'Answer: <number>'.",
    user: (n) => `A train travels ${(n % 200) + 40} km in 2 hours. What is its average speed in km/h?`,
    wrong: (n) => `Answer: ${((n % 200) + 40) * 2}`,
    reason: "numeric_match: off by factor",
  },
];

const FILLER =
  "Context: the reviewer expects precise, well-formatted answers that follow the system prompt. ";
const START = Date.UTC(2026, 3, 7, 14, 30, 22);

/** A linear congruential generator: tiny, seedable, and the same on every platform. */
function seeded(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** The lines of a run, one at a time (no trailing newline), so a run of any size streams. */
export function* generateRunLines(options: RunOptions): Generator<string> {
  const rand = seeded(options.seed ?? 7);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T;
  const bodyBytes = Math.round((options.bodyKb ?? 1.5) * 1024);
  const pad = (text: string) => {
    const want = bodyBytes - text.length;
    return want > 0 ? `${text}\n\n${FILLER.repeat(Math.ceil(want / FILLER.length)).slice(0, want)}` : text;
  };
  const damages: ((line: string) => string)[] = [
    (line) => line.slice(0, Math.floor(line.length / 2)),
    (line) => JSON.stringify({ ...JSON.parse(line), id: undefined }),
    (line) => JSON.stringify({ ...JSON.parse(line), prompt_messages: "oops" }),
    (line) => JSON.stringify({ ...JSON.parse(line), quality_score: "high" }),
    () => "not json at all",
    () => "[1, 2, 3]",
    () => "null",
  ];
  const broken = options.broken ?? 0;
  let previous: string | null = null;
  for (let i = 0; i < options.count; i++) {
    const [modelId, modelName] = pick(MODELS);
    const task = pick(TASKS);
    const n = Math.floor(rand() * 1000) + 3;
    let line = JSON.stringify({
      id: `${options.runId}-${String(i).padStart(7, "0")}`,
      source: "cf-orch-benchmark",
      benchmark_run_id: options.runId,
      timestamp: new Date(START + i * 1000).toISOString().replace(".000", ""),
      status: "needs_review",
      prompt_messages: [
        { role: "system", content: task.system },
        { role: "user", content: pad(task.user(n)) },
      ],
      model_response: task.wrong(n),
      corrected_response: null,
      quality_score: Math.round(rand() * 60) / 100,
      failure_reason: task.reason,
      task_id: task.id,
      task_type: task.type,
      task_name: task.name,
      model_id: modelId,
      model_name: modelName,
      node_id: pick(["heimdall", "odin", "freya"]),
      gpu_id: Math.floor(rand() * 4),
      tokens_per_sec: Math.round((20 + rand() * 60) * 10) / 10,
    });
    if (broken > 0 && rand() < broken) {
      line = rand() < 0.15 && previous !== null ? previous : pick(damages)(line);
    }
    previous = line;
    yield line;
  }
}

/** Writes a generated run to a file, with back-pressure, and resolves once it is on disk. */
export async function writeRun(path: string, options: RunOptions): Promise<void> {
  const out = createWriteStream(path);
  for (const line of generateRunLines(options)) {
    if (!out.write(`${line}\n`)) await once(out, "drain");
  }
  out.end();
  await once(out, "finish");
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      count: { type: "string", default: "1000" },
      "run-id": { type: "string", default: "2026-04-07-143022" },
      broken: { type: "string", default: "0" },
      "body-kb": { type: "string", default: "1.5" },
      seed: { type: "string", default: "7" },
      out: { type: "string" },
    },
  });
  const options: RunOptions = {
    count: Number(values.count),
    runId: values["run-id"],
    broken: Number(values.broken),
    bodyKb: Number(values["body-kb"]),
    seed: Number(values.seed),
  };
  if (values.out) return writeRun(values.out, options);
  for (const line of generateRunLines(options)) {
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, "drain");
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) await main();

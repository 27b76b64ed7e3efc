import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import type { RequestBody } from "../lib/api/types.ts";
import { JUDGE_BACKENDS } from "../lib/eval/domain/judge-run.ts";
import { MAX_JOB_CANDIDATES } from "../lib/suggest/domain/job.ts";
import { type CommandIo, EXIT, stderrProgress, toIo, usageExit, WaitTimeoutError } from "./output.ts";
import { API_FLAGS, type ApiTarget, apiTargetOf, callRoute, UsageError } from "./target.ts";

const DEFAULT_WAIT_SECONDS = 1800;

export const SUGGESTIONS_USAGE = `  flywheel suggestions start [--run ID] [--model M] [--task-type T] [--source S] [--limit N]
                             [--suggest-model NAME] [--backend ${JUDGE_BACKENDS.join("|")}] [--replace]
                             [--wait [--timeout SECONDS]] [--progress] [--local | --api-url URL [--token TOKEN]]
      Starts a suggestion job (POST /api/sft/suggestions, scope admin): the LLM suggests a corrected
      answer for each of the --limit (1–${MAX_JOB_CANDIDATES}, 100 by default) oldest waiting candidates of the run,
      model, task type and source named (none: the whole queue). --suggest-model and --backend name
      the LLM (the judge's defaults when absent); --replace asks again where a candidate already
      holds this model's suggestion. --wait follows GET /api/sft/suggestions/ID until every candidate
      is counted (default timeout ${DEFAULT_WAIT_SECONDS} s), with a progress line on stderr on a terminal (or
      with --progress). Exits 1 when --wait saw a candidate fail.
      JSON: the job {id, state, filters, limit, replace, model, backend, prompt_version, total,
      pending, passed_over, suggested, failed, failed_by_reason, skipped, skipped_by_reason,
      created_at, created_by, completed_at}, as it was when the command ended.
  flywheel suggestions show ID [--local | --api-url URL [--token TOKEN]]
      A suggestion job and its progress (GET /api/sft/suggestions/ID). JSON: the job, as above.`;

/** A suggestion job as the API answers it (the contract's schema). */
export type SuggestionJobView = Awaited<ReturnType<typeof showJob>>;

const showJob = (api: ApiTarget, id: string) =>
  callRoute(api, "GET /api/sft/suggestions/:id", `/api/sft/suggestions/${encodeURIComponent(id)}`);

export interface SuggestionsOptions {
  /** Progress while waiting; the default is stderr's (a terminal, or `--progress`). */
  readonly progress?: ((line: string, final?: boolean) => void) | undefined;
  /** First poll interval; it grows by half each poll up to 5 s. */
  readonly pollIntervalMs?: number;
}

/** `flywheel suggestions …`; returns the exit code. */
export async function suggestionsCommand(
  argv: string[],
  output: CommandIo | ((line: string) => void),
  env: Record<string, string | undefined> = process.env,
  options: SuggestionsOptions = {},
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      run: { type: "string" },
      "run-id": { type: "string" },
      model: { type: "string" },
      "task-type": { type: "string" },
      source: { type: "string" },
      limit: { type: "string" },
      "suggest-model": { type: "string" },
      backend: { type: "string" },
      replace: { type: "boolean" },
      wait: { type: "boolean" },
      timeout: { type: "string" },
      progress: { type: "boolean" },
      ...API_FLAGS,
    },
  });
  const io = toIo(output);
  const [command, ...args] = positionals;
  if (values.help || !command) return usageExit(io, SUGGESTIONS_USAGE, values.help);
  const api = apiTargetOf(values, env);

  if (command === "show") {
    const [id, ...extra] = args;
    if (!id || extra.length > 0) throw new UsageError("suggestions show takes ID");
    const job = await showJob(await api(), id);
    io.emit(job);
    for (const line of describeJob(job)) io.print(line);
    return EXIT.ok;
  }

  if (command === "start") {
    if (args.length > 0) throw new UsageError(`suggestions start takes no arguments: ${args.join(" ")}`);
    if (values.run !== undefined && values["run-id"] !== undefined && values.run !== values["run-id"]) {
      throw new UsageError("--run and --run-id name two runs");
    }
    const limit = values.limit === undefined ? undefined : Number(values.limit);
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= MAX_JOB_CANDIDATES)) {
      throw new UsageError(`--limit takes a whole number from 1 to ${MAX_JOB_CANDIDATES}`);
    }
    const backend = values.backend;
    if (backend !== undefined && !isBackend(backend)) {
      throw new UsageError(`--backend takes ${JUDGE_BACKENDS.join(", ")}`);
    }
    if (!values.wait && values.timeout !== undefined) throw new UsageError("--timeout goes with --wait");
    const timeoutSeconds = Number(values.timeout ?? DEFAULT_WAIT_SECONDS);
    if (!(timeoutSeconds > 0)) throw new UsageError("--timeout must be a positive number of seconds");

    const request: RequestBody<"POST /api/sft/suggestions"> = {
      ...defined("run_id", values.run ?? values["run-id"]),
      ...defined("model", values.model),
      ...defined("task_type", values["task-type"]),
      ...defined("source", values.source),
      ...defined("limit", limit),
      ...defined("suggest_model", values["suggest-model"]),
      ...defined("backend", backend),
      ...(values.replace ? { replace: true } : {}),
    };
    const target = await api();
    let job = await callRoute(target, "POST /api/sft/suggestions", "/api/sft/suggestions", request);
    io.print(
      `suggestion job ${job.id} started on ${target.description}: ${job.total} candidate(s) selected, ${job.passed_over} passed over`,
    );
    if (values.wait) {
      const progress = options.progress ?? stderrProgress(values.progress ?? false);
      job = await waitForSuggestions(target, job, {
        timeoutMs: timeoutSeconds * 1000,
        intervalMs: options.pollIntervalMs,
        progress,
      });
    }
    io.emit(job);
    for (const line of describeJob(job)) io.print(line);
    return values.wait && job.failed > 0 ? EXIT.failure : EXIT.ok;
  }

  throw new UsageError(`unknown command: suggestions ${positionals.join(" ")}`);
}

const isBackend = (value: string): value is (typeof JUDGE_BACKENDS)[number] =>
  (JUDGE_BACKENDS as readonly string[]).includes(value);

/** `{name: value}` when the value is given, else nothing (the API's default holds). */
const defined = <K extends string, V>(name: K, value: V | undefined) =>
  (value === undefined ? {} : { [name]: value }) as Partial<Record<K, V>>;

/** Polls, once a job is `done`, for the `completed_at` stamped just after its last count. */
const STAMP_POLLS = 3;

/**
 * Follows a job through `GET /api/sft/suggestions/{id}` until it is `done` (and stamped
 * `completed_at`, which follows the last count by a moment). Throws {@link WaitTimeoutError} past
 * the timeout (the job goes on).
 */
export async function waitForSuggestions(
  api: ApiTarget,
  started: SuggestionJobView,
  options: {
    readonly timeoutMs: number;
    readonly intervalMs?: number | undefined;
    readonly progress?: ((line: string, final?: boolean) => void) | undefined;
  },
): Promise<SuggestionJobView> {
  const begun = Date.now();
  const deadline = begun + options.timeoutMs;
  let interval = options.intervalMs ?? 500;
  let job = started;
  let stampPolls = 0;
  for (;;) {
    const seconds = Math.round((Date.now() - begun) / 1000);
    if (job.state === "done") {
      if (job.completed_at !== null || stampPolls >= STAMP_POLLS || Date.now() + interval > deadline) {
        options.progress?.(progressLine(job, seconds), true);
        return job;
      }
      stampPolls += 1;
    } else {
      options.progress?.(progressLine(job, seconds));
    }
    if (Date.now() + interval > deadline) {
      throw new WaitTimeoutError(
        `suggestion job ${job.id} is still running (${job.pending} of ${job.total} candidate(s) pending) after ${seconds} s; gave up waiting`,
      );
    }
    await sleep(interval);
    interval = Math.min(Math.round(interval * 1.5), 5_000);
    job = await showJob(api, job.id);
  }
}

function progressLine(job: SuggestionJobView, seconds: number): string {
  const counted = job.suggested + job.failed + job.skipped;
  return `suggestion job ${job.id}: ${job.state}, ${counted} of ${job.total} counted (${job.suggested} suggested, ${job.failed} failed, ${job.skipped} skipped) (${seconds} s)`;
}

const byReason = (counts: Partial<Record<string, number>>) => {
  const parts = Object.entries(counts)
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([reason, n]) => `${reason} ${n}`);
  return parts.length > 0 ? ` (${parts.join(", ")})` : "";
};

/** The job in lines for a person. */
export function describeJob(job: SuggestionJobView): string[] {
  const filters = Object.entries(job.filters).map(([name, value]) => `${name}=${value}`);
  return [
    `suggestion job ${job.id}: ${job.state}, ${job.total} candidate(s), ${job.pending} pending`,
    `  ${job.suggested} suggested, ${job.failed} failed${byReason(job.failed_by_reason)}, ${job.skipped} skipped${byReason(job.skipped_by_reason)}, ${job.passed_over} passed over`,
    `  model ${job.model} (${job.backend}), prompt ${job.prompt_version}; ${filters.length > 0 ? filters.join(", ") : "the whole queue"}, limit ${job.limit}${job.replace ? ", replacing" : ""}`,
    `  created ${job.created_at} by ${job.created_by}${job.completed_at ? `, completed ${job.completed_at}` : ""}`,
  ];
}

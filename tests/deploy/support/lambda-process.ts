import { type ChildProcess, fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { SynthesizedFunction } from "./synth.ts";

const RUNTIME = fileURLToPath(new URL("./lambda-runtime.mjs", import.meta.url));

export interface FunctionError {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly stack: string;
}

export class InvocationError extends Error {
  constructor(
    readonly functionId: string,
    readonly error: FunctionError,
    readonly output: string,
  ) {
    super(
      `${functionId}: ${error.errorType}: ${error.errorMessage}\n${error.stack}\n--- function output ---\n${output}`,
    );
  }
}

export interface RunningFunction {
  readonly fn: SynthesizedFunction;
  /** How long importing the bundle took (module evaluation included), as the process measured it. */
  readonly initMs: number;
  /** From spawning the process to the handler being ready. */
  readonly coldStartMs: number;
  /**
   * Invokes the handler with `event`. `options.remainingMs` starts the invocation's clock with
   * that much time left, as for an invocation that has already spent most of its timeout.
   */
  invoke<T = unknown>(event: unknown, options?: { remainingMs?: number }): Promise<T>;
  /** What the function wrote to stdout and stderr (its logs). */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Starts the function's bundle in a fresh Node process, as Lambda does: `environment` is all it
 * sees (the caller passes the template's variables resolved, plus what the Lambda service sets),
 * the working directory is the bundle's folder, and the heap is bounded by its memory size.
 * Rejects with an `InvocationError` when the handler cannot load.
 */
export async function startFunction(
  fn: SynthesizedFunction,
  environment: Record<string, string>,
): Promise<RunningFunction> {
  const spawned = performance.now();
  const child: ChildProcess = fork(RUNTIME, [], {
    cwd: fn.bundleDir,
    env: {
      ...environment,
      LAMBDA_TASK_ROOT: fn.bundleDir,
      _HANDLER: fn.handler,
      FLYWHEEL_FUNCTION_TIMEOUT_SECONDS: String(fn.timeoutSeconds),
    },
    execArgv: [`--max-old-space-size=${Math.floor(fn.memoryMb * 0.85)}`],
    stdio: ["ignore", "pipe", "pipe", "ipc"],
    serialization: "advanced",
  });
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  let exited: Error | undefined;

  const ready = await new Promise<{ initMs: number }>((resolve, reject) => {
    child.once("message", (message: { type: string; initMs: number; error: FunctionError }) => {
      if (message.type === "ready") resolve(message);
      else reject(new InvocationError(fn.logicalId, message.error, output));
    });
    child.once("exit", (code) =>
      reject(new Error(`${fn.logicalId}: exited with ${code} while loading:\n${output}`)),
    );
  });
  const coldStartMs = performance.now() - spawned;

  child.on("message", (message: { type: string; id: number; result?: unknown; error?: FunctionError }) => {
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    if (message.type === "result") waiting.resolve(message.result);
    else waiting.reject(new InvocationError(fn.logicalId, message.error as FunctionError, output));
  });
  child.on("exit", (code, signal) => {
    exited = new Error(`${fn.logicalId}: process exited (${code ?? signal}):\n${output}`);
    for (const waiting of pending.values()) waiting.reject(exited);
    pending.clear();
  });

  let next = 0;
  return {
    fn,
    initMs: ready.initMs,
    coldStartMs,
    invoke<T>(event: unknown, options: { remainingMs?: number } = {}): Promise<T> {
      if (exited) return Promise.reject(exited);
      const id = next++;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${fn.logicalId}: Task timed out after ${fn.timeoutSeconds} seconds\n${output}`));
        }, fn.timeoutSeconds * 1000);
        pending.set(id, {
          resolve: (value) => {
            clearTimeout(timer);
            resolve(value as T);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        });
        child.send({ id, event, remainingMs: options.remainingMs });
      });
    },
    output: () => output,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

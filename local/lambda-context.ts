import { randomBytes, randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";
import { LOCAL_ACCOUNT_ID } from "./s3-events.ts";

export interface LocalFunction {
  readonly functionName: string;
  readonly region: string;
  readonly timeoutSeconds: number;
  readonly memoryLimitMb?: number;
  /**
   * Once aborted, the invocation has no time left: a handler that watches its remaining time
   * (an import checkpoints and hands the rest on) stops at its next checkpoint.
   */
  readonly cutShort?: AbortSignal;
}

const RANDOM_POOL_BYTES = 4096;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/**
 * `bytes` random bytes for an id, cut from a pool filled 4 KiB at a time (as `randomUUID` does):
 * every request and invocation takes a few, and a call into the CPRNG for each cost more than the
 * rest of turning a request into an event. The slice is only valid until the next call.
 */
export function randomId(bytes: number): Buffer {
  if (randomPoolOffset + bytes > randomPool.length) {
    randomPool = randomBytes(Math.max(RANDOM_POOL_BYTES, bytes));
    randomPoolOffset = 0;
  }
  const id = randomPool.subarray(randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return id;
}

/** A Lambda `Context` for one invocation; the remaining time counts down from now. */
export function createLambdaContext(fn: LocalFunction, now: () => number = Date.now): Context {
  const deadline = now() + fn.timeoutSeconds * 1000;
  const today = new Date(now()).toISOString().slice(0, 10).replace(/-/g, "/");
  const unsupported = (name: string) => () => {
    throw new Error(`context.${name}() is not supported; return a promise from the handler`);
  };
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: fn.functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:${fn.region}:${LOCAL_ACCOUNT_ID}:function:${fn.functionName}`,
    memoryLimitInMB: String(fn.memoryLimitMb ?? 1024),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.functionName}`,
    logStreamName: `${today}/[$LATEST]${randomId(16).toString("hex")}`,
    getRemainingTimeInMillis: () => (fn.cutShort?.aborted ? 0 : Math.max(0, deadline - now())),
    done: unsupported("done"),
    fail: unsupported("fail"),
    succeed: unsupported("succeed"),
  };
}

/** Runs `invoke`, rejecting with {@link InvocationTimeout} once the function's timeout passes. */
export async function withTimeout<T>(timeoutSeconds: number, invoke: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new InvocationTimeout(timeoutSeconds)), timeoutSeconds * 1000);
  });
  try {
    return await Promise.race([invoke(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class InvocationTimeout extends Error {
  constructor(readonly timeoutSeconds: number) {
    super(`Task timed out after ${timeoutSeconds.toFixed(2)} seconds`);
  }
}

/** Full-jitter exponential backoff (25 ms doubling, capped at two seconds). */
export function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(2_000, 25 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export const MAX_ATTEMPTS = 10;

const THROTTLING = new Set([
  "ThrottlingException",
  "ProvisionedThroughputExceededException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
]);

/** True for the errors a service returns when it sheds load; worth another try after a pause. */
export function isThrottling(error: unknown): boolean {
  return error instanceof Error && THROTTLING.has(error.name);
}

/**
 * Runs `call`, retrying throttling errors with backoff beyond the SDK's own retries (whose retry
 * quota runs dry under sustained throttling, as in a long import).
 */
export async function retryThrottled<T>(call: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await call();
    } catch (error) {
      if (!isThrottling(error) || attempt + 1 >= MAX_ATTEMPTS) throw error;
      await backoff(attempt + 3);
    }
  }
}

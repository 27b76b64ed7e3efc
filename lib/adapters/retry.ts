/** Full-jitter exponential backoff (25 ms doubling, capped at two seconds). */
export function backoff(attempt: number): Promise<void> {
  const ceiling = Math.min(2_000, 25 * 2 ** attempt);
  return new Promise((resolve) => setTimeout(resolve, Math.random() * ceiling));
}

export const MAX_ATTEMPTS = 10;

/**
 * Bounded retries with exponential back-off and full jitter, for transient failures only
 * (5xx, connection resets, timeouts). The caller says what is transient; everything else is
 * thrown at once.
 */

export interface RetryPolicy {
  /** Attempts in total, including the first. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** Injectable for tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const defaultRetryPolicy: RetryPolicy = { attempts: 4, baseDelayMs: 300, maxDelayMs: 5000 };

/** Delay before retry number `retry` (0-based): uniform in [0, min(max, base * 2^retry)]. */
export function backoffDelay(policy: RetryPolicy, retry: number): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** retry);
  return Math.floor((policy.random ?? Math.random)() * ceiling);
}

export class RetriesExhausted extends Error {
  override name = 'RetriesExhausted';
  readonly attempts: number;
  readonly last: unknown;
  constructor(attempts: number, last: unknown) {
    super(`gave up after ${attempts} attempts`);
    this.attempts = attempts;
    this.last = last;
  }
}

/**
 * Runs `operation` until it succeeds, throws a non-transient error (rethrown as is), or the
 * attempts run out (RetriesExhausted wrapping the last error).
 */
export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  isTransient: (error: unknown) => boolean,
  policy: RetryPolicy,
): Promise<T> {
  const sleep = policy.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const attempts = Math.max(1, policy.attempts);
  for (let attempt = 0; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (attempt + 1 >= attempts) throw new RetriesExhausted(attempts, error);
      await sleep(backoffDelay(policy, attempt));
    }
  }
}

/** Network-level failures worth retrying: resets, refused mid-flight, timeouts, closed sockets. */
export function isTransientNetworkError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (
      typeof code === 'string' &&
      /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR_.*|ERR_STREAM_PREMATURE_CLOSE)$/.test(
        code,
      )
    ) {
      return true;
    }
    if (e.name === 'TimeoutError') return true;
    if (/fetch failed|other side closed|socket hang up|terminated/i.test(e.message)) return true;
    e = e.cause;
  }
  return false;
}

/** Waiting on a promise that an AbortSignal can cut short. */

/**
 * `promise`, or a rejection with `signal.reason` as soon as the signal aborts (at once if it
 * already has). The listener is removed either way, so a long-lived signal does not collect one
 * per call.
 */
export async function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!signal) return await promise;
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    if (onAbort) signal.removeEventListener('abort', onAbort);
  }
}

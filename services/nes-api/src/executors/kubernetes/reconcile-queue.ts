/**
 * The reconcile loop's queue, in the manner of client-go's rate-limited work queue: a key marked
 * dirty is reconciled soon (changes arriving together are reconciled once), never twice at the
 * same time (a change during a reconcile asks for one more after it), and a reconcile that throws
 * is requeued with exponential back-off, so a failing API call is tried again in a moment rather
 * than at the next periodic pass, and without hammering the API server while it keeps failing.
 */

import type { LogFields } from '../../service-log.ts';

export interface ReconcileQueueOptions<K> {
  reconcile(key: K): Promise<void>;
  /** First retry after a failure; doubled on each further failure. Default 250 ms. */
  minBackoffMs?: number;
  /** The longest wait between retries. Default 30 s. */
  maxBackoffMs?: number;
  log?: (level: 'warn', message: string, fields?: LogFields) => void;
  describe?: (key: K) => string;
  /** What a line about `key` is about (its run id). */
  fields?: (key: K) => LogFields;
}

export class ReconcileQueue<K> {
  readonly #o: ReconcileQueueOptions<K>;
  readonly #dirty = new Set<K>();
  readonly #busy = new Map<K, Promise<void>>();
  readonly #again = new Set<K>();
  /** Consecutive failures of a key, and the timer that retries it. */
  readonly #failures = new Map<K, { count: number; timer: NodeJS.Timeout | null }>();
  #flushScheduled = false;
  #stopped = false;
  /** Reconciles requeued after an error. */
  requeues = 0;

  constructor(options: ReconcileQueueOptions<K>) {
    this.#o = options;
  }

  /**
   * Reconcile `key` soon: a change was seen, or a periodic pass. A key waiting out its back-off
   * is left to its retry timer, which reconciles it with whatever changed meanwhile: a failing
   * API server or store is not asked again sooner because events keep coming.
   */
  add(key: K): void {
    if (this.#stopped || this.#failures.get(key)?.timer) return;
    this.#dirty.add(key);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const keys = [...this.#dirty];
      this.#dirty.clear();
      for (const dirty of keys) this.#run(dirty);
    });
  }

  /** The key is waiting to be retried after a failure. */
  backingOff(key: K): boolean {
    return Boolean(this.#failures.get(key)?.timer);
  }

  /** Forgets a key's failures (it is no longer tracked). */
  forget(key: K): void {
    const timer = this.#failures.get(key)?.timer;
    if (timer) clearTimeout(timer);
    this.#failures.delete(key);
  }

  #run(key: K): void {
    if (this.#busy.has(key)) {
      this.#again.add(key);
      return;
    }
    const done = this.#reconcileOnce(key).finally(() => {
      this.#busy.delete(key);
      if (this.#again.delete(key)) this.add(key);
    });
    this.#busy.set(key, done);
  }

  async #reconcileOnce(key: K): Promise<void> {
    try {
      await this.#o.reconcile(key);
    } catch (error) {
      if (this.#stopped) return;
      const count = (this.#failures.get(key)?.count ?? 0) + 1;
      const min = this.#o.minBackoffMs ?? 250;
      const waitMs = Math.min(min * 2 ** (count - 1), this.#o.maxBackoffMs ?? 30_000);
      const what = this.#o.describe?.(key) ?? String(key);
      this.#o.log?.(
        'warn',
        `${what}: ${describe(error)}; trying again in ${waitMs} ms`,
        this.#o.fields?.(key),
      );
      const previous = this.#failures.get(key)?.timer;
      if (previous) clearTimeout(previous);
      // The count stays until a reconcile succeeds: the next failure waits longer.
      const timer = setTimeout(() => {
        const failed = this.#failures.get(key);
        if (failed) failed.timer = null;
        this.add(key);
      }, waitMs);
      timer.unref();
      this.#failures.set(key, { count, timer });
      this.requeues += 1;
      return;
    }
    this.forget(key);
  }

  /** Stops taking keys and waits for the reconciles in progress. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const { timer } of this.#failures.values()) if (timer) clearTimeout(timer);
    this.#failures.clear();
    this.#dirty.clear();
    await Promise.all(this.#busy.values());
  }
}

function describe(error: unknown): string {
  return String((error as Error)?.message ?? error).split('\n')[0] ?? 'error';
}

/**
 * In-process notifications of run changes, for live views (SSE). Whoever changes a run in the
 * store (routes on submit/cancel, the scheduler on every transition, progress update or appended
 * event) publishes here right after the store write. The store stays the truth: subscribers
 * re-read it (by event sequence) so a missed or duplicated notification never loses or repeats
 * an event; another replica's changes are caught by a periodic re-read.
 */
import type { Run, RunEventRecord } from './runs/run-model.ts';

export type BusMessage =
  /** The run row changed (status, progress, output URI...): its new state. */
  | { type: 'run'; run: Run }
  /** An event was appended to the run's event log (status, progress, log line...). */
  | { type: 'event'; event: RunEventRecord };

export type BusListener = (message: BusMessage) => void;

export class RunEventBus {
  readonly #all = new Set<BusListener>();
  readonly #byRun = new Map<string, Set<BusListener>>();

  publishRun(run: Run): void {
    this.#publish(run.id, { type: 'run', run });
  }

  publishEvent(event: RunEventRecord): void {
    this.#publish(event.runId, { type: 'event', event });
  }

  /** Every message for every run. Returns the unsubscribe function. */
  subscribeAll(listener: BusListener): () => void {
    this.#all.add(listener);
    return () => this.#all.delete(listener);
  }

  /** Messages about one run. Returns the unsubscribe function. */
  subscribeRun(runId: string, listener: BusListener): () => void {
    let set = this.#byRun.get(runId);
    if (set === undefined) {
      set = new Set();
      this.#byRun.set(runId, set);
    }
    set.add(listener);
    return () => {
      const current = this.#byRun.get(runId);
      if (current === undefined) return;
      current.delete(listener);
      if (current.size === 0) this.#byRun.delete(runId);
    };
  }

  get listenerCount(): number {
    let n = this.#all.size;
    for (const set of this.#byRun.values()) n += set.size;
    return n;
  }

  #publish(runId: string, message: BusMessage): void {
    // A throwing listener must not stop the others nor the publisher.
    for (const listener of this.#byRun.get(runId) ?? []) safeCall(listener, message);
    for (const listener of this.#all) safeCall(listener, message);
  }
}

function safeCall(listener: BusListener, message: BusMessage): void {
  try {
    listener(message);
  } catch {
    // listeners handle their own failures (a closed stream unsubscribes itself)
  }
}

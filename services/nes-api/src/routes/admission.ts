/**
 * Back-pressure for submits. A submit that cannot be served promptly is refused at once with 429
 * and a `Retry-After`, before any work, instead of waiting in an unbounded line:
 * - at most `maxConcurrentSubmits` submits are in the service at once, counted from the request's
 *   arrival (a hook that runs before authentication) to its answer. The embedded database serves
 *   one query at a time, so more in flight only lengthens every answer;
 * - at most `maxQueuedRuns` runs wait in the queue, the runs being admitted right now included
 *   (so submits at once cannot overshoot it). The embedded store keeps the queued count exact in
 *   memory (store.queuedCount), so the check costs no query; on PostgreSQL, shared with other
 *   replicas, the count is read at most once a second and counted up locally in between.
 * On the embedded database neither check waits for a query: a 429 is answered from memory (on
 * PostgreSQL at most one submit a second waits for the count). A refused submit created
 * nothing; clients retry it (the NES client and the Airflow provider honour Retry-After), with
 * the same Idempotency-Key if they sent one.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../errors.ts';
import type { RunStore } from '../runs/run-store.ts';

const QUEUE_COUNT_TTL_MS = 1000;

declare module 'fastify' {
  interface FastifyContextConfig {
    /** A route that creates runs: counted and bounded by SubmitAdmission. */
    submit?: boolean;
  }
}

export class SubmitAdmission {
  readonly #store: RunStore;
  readonly #maxInFlight: number;
  readonly #maxQueued: number;
  #inFlight = 0;
  #queued = 0;
  /** Runs being created by submits admitted and not yet answered. */
  #admitting = 0;
  #queuedReadAt = Number.NEGATIVE_INFINITY;
  #reading: Promise<void> | null = null;

  constructor(store: RunStore, limits: { maxConcurrentSubmits: number; maxQueuedRuns: number }) {
    this.#store = store;
    this.#maxInFlight = limits.maxConcurrentSubmits;
    this.#maxQueued = limits.maxQueuedRuns;
  }

  /**
   * An app-level onRequest hook, registered before authentication: routes whose config has
   * `submit: true` are counted while in flight, and refused past the bound.
   */
  register(app: FastifyInstance): void {
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      if (request.routeOptions.config.submit !== true) return;
      if (this.#inFlight >= this.#maxInFlight) {
        throw tooBusy(
          1,
          `the service is handling ${this.#inFlight} submits already; retry in a second`,
          { reason: 'submits_in_flight', limit: this.#maxInFlight },
        );
      }
      this.#inFlight++;
      let released = false;
      // 'close' comes once the answer is sent or the connection is gone, whichever is first.
      reply.raw.once('close', () => {
        if (released) return;
        released = true;
        this.#inFlight--;
      });
    });
  }

  /** Runs `work` when the queue has room for `runs` more runs; throws a 429 ApiError otherwise. */
  async admit<T>(runs: number, work: () => Promise<T>): Promise<T> {
    const known = this.#store.queuedCount?.();
    if (known === undefined) await this.#refreshQueued();
    const queued = (known ?? this.#queued) + this.#admitting;
    if (queued + runs > this.#maxQueued) {
      throw tooBusy(
        10,
        `the queue holds ${queued} runs, its limit is ${this.#maxQueued} (NES_MAX_QUEUED_RUNS); retry when runs have finished`,
        { reason: 'queue_full', queued, limit: this.#maxQueued },
      );
    }
    this.#admitting += runs;
    try {
      const result = await work();
      // Counted up until the next read (a replayed submit counts too: the bound errs on the side
      // of refusing). The embedded store has counted it already.
      if (known === undefined) this.#queued += runs;
      return result;
    } finally {
      this.#admitting -= runs;
    }
  }

  async #refreshQueued(): Promise<void> {
    if (performance.now() - this.#queuedReadAt < QUEUE_COUNT_TTL_MS) return;
    this.#reading ??= this.#store
      .countRuns('queued')
      .then((n) => {
        this.#queued = n;
        this.#queuedReadAt = performance.now();
      })
      .finally(() => {
        this.#reading = null;
      });
    await this.#reading;
  }
}

function tooBusy(retryAfterSeconds: number, message: string, details: Record<string, unknown>) {
  return new ApiError(429, 'too_many_requests', message, { ...details, retryAfterSeconds });
}

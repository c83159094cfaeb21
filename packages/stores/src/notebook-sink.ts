/**
 * A NotebookSink (services/runner's contract) over any ObjectStore.
 *
 * GCS allows about one write per second to one object; beyond that it answers 429. The runner's
 * Autosaver already throttles, but this sink is the store-side guard whatever its caller does:
 * a write starts no sooner than `minIntervalMs` after the previous one ended. A write asked for
 * while one is waiting or in flight replaces the waiting notebook (the runner only ever wants the
 * latest), and every caller's promise settles with the write that carried its notebook or a
 * newer one. So N requests in T seconds cost at most about T / minIntervalMs + 1 writes.
 *
 * A failed autosave rejects (the runner reports it and goes on). The final save is retried
 * (`finalAttempts`, back-off from 500 ms), since an overwrite is not retried by the GCS store:
 * this sink is the only writer of its object, so repeating the same bytes is safe here.
 */
import { Readable } from 'node:stream';
import { type Notebook, serializeNotebookChunks } from '@nes/notebook';
import type { ObjectStore, PutBody } from './types.ts';

/** Structurally the runner's `NotebookSink` (services/runner/src/execution-types.ts). */
export interface NotebookSinkLike {
  readonly uri: string;
  write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void>;
}

export const NOTEBOOK_CONTENT_TYPE = 'application/x-ipynb+json';

export interface StoreNotebookSinkOptions {
  /** Recorded as `nes-run-id` metadata. */
  runId?: string;
  /** Extra metadata on every write. */
  metadata?: Record<string, string>;
  /** Minimum time between the end of one write and the start of the next. Default 1000. */
  minIntervalMs?: number;
  /** Attempts of the final save. Default 4. */
  finalAttempts?: number;
  serialize?: (notebook: Notebook) => string;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface Waiter {
  resolve: () => void;
  reject: (error: unknown) => void;
}

interface Pending {
  notebook: Notebook;
  reason: 'autosave' | 'final';
  waiters: Waiter[];
}

export class StoreNotebookSink implements NotebookSinkLike {
  readonly uri: string;
  readonly store: ObjectStore;
  readonly key: string;
  readonly #options: StoreNotebookSinkOptions;
  readonly #minIntervalMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #status = 'running';
  #pending: Pending | null = null;
  #pumping = false;
  #nextAllowedAt = Number.NEGATIVE_INFINITY;
  #writes = 0;

  constructor(store: ObjectStore, key: string, options: StoreNotebookSinkOptions = {}) {
    this.store = store;
    this.key = key;
    this.uri = store.uriOf(key);
    this.#options = options;
    this.#minIntervalMs = Math.max(0, options.minIntervalMs ?? 1000);
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Writes that reached the store (attempts that failed not counted). */
  get writes(): number {
    return this.#writes;
  }

  /** Recorded as `nes-status` metadata from the next write on (e.g. the run's final status). */
  setStatus(status: string): void {
    this.#status = status;
  }

  write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject };
      if (this.#pending) {
        this.#pending.notebook = notebook;
        if (reason === 'final') this.#pending.reason = 'final';
        this.#pending.waiters.push(waiter);
      } else {
        this.#pending = { notebook, reason, waiters: [waiter] };
      }
      void this.#pump();
    });
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#pending) {
        const wait = this.#nextAllowedAt - this.#now();
        if (wait > 0) await this.#sleep(wait);
        const job = this.#pending;
        this.#pending = null;
        try {
          await this.#writeWithRetries(job);
          for (const w of job.waiters) w.resolve();
        } catch (error) {
          for (const w of job.waiters) w.reject(error);
        }
      }
    } finally {
      this.#pumping = false;
    }
  }

  async #writeWithRetries(job: Pending): Promise<void> {
    const attempts = job.reason === 'final' ? Math.max(1, this.#options.finalAttempts ?? 4) : 1;
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt += 1) {
      const wait = this.#nextAllowedAt - this.#now();
      if (wait > 0) await this.#sleep(wait);
      try {
        // Serialized per attempt: a streamed body is read once.
        const body = this.#options.serialize?.(job.notebook) ?? notebookBody(job.notebook);
        await this.store.put(this.key, body, {
          contentType: NOTEBOOK_CONTENT_TYPE,
          metadata: this.#metadata(job.reason),
        });
        this.#writes += 1;
        this.#nextAllowedAt = this.#now() + this.#minIntervalMs;
        return;
      } catch (error) {
        lastError = error;
        this.#nextAllowedAt = this.#now() + this.#minIntervalMs;
        if (attempt < attempts) await this.#sleep(500 * 2 ** (attempt - 1));
      }
    }
    throw lastError;
  }

  #metadata(reason: 'autosave' | 'final'): Record<string, string> {
    return {
      ...this.#options.metadata,
      ...(this.#options.runId === undefined ? {} : { 'nes-run-id': this.#options.runId }),
      'nes-status': this.#status,
      'nes-save': reason,
    };
  }
}

/** Notebooks up to this many characters are written as one string (one request to GCS). */
const WHOLE_BODY_CHARS = 8 * 1024 * 1024;

/**
 * The notebook's bytes for `put`: one string when small, otherwise a stream of pieces made as
 * they are written, so a notebook holding tens of MB of output never exists as one string (which
 * costs several copies of it while it is built).
 */
function notebookBody(notebook: Notebook): PutBody {
  const chunks = serializeNotebookChunks(notebook);
  const head: string[] = [];
  let size = 0;
  while (size < WHOLE_BODY_CHARS) {
    const next = chunks.next();
    if (next.done) return head.join('');
    head.push(next.value);
    size += next.value.length;
  }
  return Readable.from(
    (function* () {
      yield* head.splice(0);
      yield* chunks;
    })(),
  );
}

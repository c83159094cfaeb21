/**
 * The embedded database (PGlite) in a worker thread of its own, behind the same Database
 * interface as PostgreSQL. PGlite is Postgres compiled to WebAssembly: every query runs
 * synchronously on the thread that calls it. On the API's event loop, queries held up every
 * request behind them (even a 429 that needs no query waited for the one running); in a worker
 * they run beside the loop, which only sends a message and later reads the rows. Results keep
 * PGlite's types (Date, parsed JSON) through the structured clone.
 *
 * Semantics are PGlite's own: it is single-connection, so queries and transactions are served
 * one at a time in the order they arrive (its mutex, in the worker). A transaction is opened in
 * the worker and held there until `fn` settles in this thread; meanwhile other queries wait, as
 * they would in-process.
 *
 * The worker does not keep the process alive while nothing is asked of it: it is unreferenced
 * whenever no call is pending, as an in-process PGlite would be.
 */
import { Worker } from 'node:worker_threads';
import type { Database, Queryable, Row } from './database.ts';

/** A call from this thread to the database thread. */
export type DbRequest = { id: number } & (
  | { op: 'query'; sql: string; params: unknown[]; tx?: number }
  | { op: 'exec'; sql: string; tx?: number }
  | { op: 'begin'; tx: number }
  | { op: 'end'; tx: number; commit: boolean }
  | { op: 'close' }
);

/** The database error's own fields (code, detail, constraint, ...), so callers can tell them apart. */
export interface SerializedError {
  message: string;
  fields: Record<string, string | number | boolean | null>;
}

export type DbReply =
  | { id: number; ok: true; rows?: Row[] }
  | { id: number; ok: false; error: SerializedError };

/** The worker's first message: the database is open, or why it is not. */
export type DbReady = { ready: true } | { ready: false; error: SerializedError };

export interface PgliteThreadData {
  /** The data directory; undefined: in memory. */
  dir: string | undefined;
}

const WORKER = new URL('./pglite-worker.ts', import.meta.url);

/** The longest `idle` waits for a database that is never idle. */
const IDLE_WAIT_MAX_MS = 200;

export function serializeError(error: unknown): SerializedError {
  const fields: SerializedError['fields'] = {};
  if (error !== null && typeof error === 'object') {
    for (const [key, value] of Object.entries(error)) {
      if (value === null || ['string', 'number', 'boolean'].includes(typeof value)) {
        fields[key] = value as string | number | boolean | null;
      }
    }
  }
  return { message: error instanceof Error ? error.message : String(error), fields };
}

function rebuildError(serialized: SerializedError): Error {
  return Object.assign(new Error(serialized.message), serialized.fields);
}

type Call = DbRequest extends infer R ? (R extends DbRequest ? Omit<R, 'id'> : never) : never;

/** Opens PGlite in `dir` (in memory when undefined) in a worker thread. */
export async function openPgliteThread(dir: string | undefined): Promise<Database> {
  const worker = new Worker(WORKER, { workerData: { dir } satisfies PgliteThreadData });
  const pending = new Map<number, { resolve: (rows: Row[]) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let nextTx = 1;
  let gone: Error | null = null;

  const failAll = (error: Error) => {
    gone ??= error;
    for (const call of pending.values()) call.reject(error);
    pending.clear();
  };
  worker.on('error', (error) =>
    failAll(new Error(`the embedded database failed: ${error.message}`)),
  );
  worker.on('exit', (code) =>
    failAll(new Error(`the embedded database's thread has stopped (exit code ${code})`)),
  );

  await new Promise<void>((resolve, reject) => {
    const onExit = () => reject(gone ?? new Error('the embedded database did not start'));
    worker.once('exit', onExit);
    worker.once('message', (message: DbReady) => {
      worker.off('exit', onExit);
      if (message.ready) resolve();
      else reject(rebuildError(message.error));
    });
  }).catch(async (error: unknown) => {
    await worker.terminate();
    throw error;
  });
  // Waiters for `idle`: released once nothing is pending, checked a turn of the event loop after
  // the last reply, so a request that reads its next query right after a reply still goes first.
  let idleWaiters: Array<() => void> = [];
  let idleCheckScheduled = false;
  const checkIdle = () => {
    idleCheckScheduled = false;
    if (pending.size > 0 || idleWaiters.length === 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const wake of waiters) wake();
  };
  const scheduleIdleCheck = () => {
    if (idleCheckScheduled) return;
    idleCheckScheduled = true;
    setImmediate(checkIdle);
  };
  worker.on('message', (reply: DbReply) => {
    const call = pending.get(reply.id);
    if (call === undefined) return;
    pending.delete(reply.id);
    if (pending.size === 0) {
      worker.unref();
      if (idleWaiters.length > 0) scheduleIdleCheck();
    }
    if (reply.ok) call.resolve(reply.rows ?? []);
    else call.reject(rebuildError(reply.error));
  });
  worker.unref();

  const call = (request: Call): Promise<Row[]> => {
    if (gone !== null) return Promise.reject(gone);
    const id = nextId++;
    return new Promise<Row[]>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker.ref();
      worker.postMessage({ ...request, id } as DbRequest);
    });
  };

  const queryable = (tx?: number): Queryable => ({
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      return (await call({ op: 'query', sql, params, ...(tx === undefined ? {} : { tx }) })) as T[];
    },
    async exec(sql: string) {
      await call({ op: 'exec', sql, ...(tx === undefined ? {} : { tx }) });
    },
  });

  let closing: Promise<void> | null = null;
  return {
    driver: 'pglite',
    ...queryable(),
    async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      const tx = nextTx++;
      await call({ op: 'begin', tx });
      let value: T;
      try {
        value = await fn(queryable(tx));
      } catch (error) {
        await call({ op: 'end', tx, commit: false }).catch(() => undefined);
        throw error;
      }
      await call({ op: 'end', tx, commit: true });
      return value;
    },
    idle() {
      return new Promise<void>((resolve) => {
        // Bounded: requests that never let up must not stop background work for good.
        const timer = setTimeout(() => {
          idleWaiters = idleWaiters.filter((w) => w !== wake);
          resolve();
        }, IDLE_WAIT_MAX_MS);
        const wake = () => {
          clearTimeout(timer);
          resolve();
        };
        idleWaiters.push(wake);
        scheduleIdleCheck();
      });
    },
    close() {
      closing ??= (async () => {
        try {
          if (gone === null) await call({ op: 'close' });
        } finally {
          await worker.terminate();
        }
      })();
      return closing;
    },
  };
}

/**
 * The database thread of the embedded database (pglite-thread.ts): opens PGlite and answers the
 * API thread's calls. Calls are started as they arrive; PGlite's own mutex serves them one at a
 * time in that order, a transaction holding it from `begin` to `end`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import type { Row } from './database.ts';
import { openPgliteDirectory } from './pglite-files.ts';
import {
  type DbReady,
  type DbReply,
  type DbRequest,
  type PgliteThreadData,
  serializeError,
} from './pglite-thread.ts';

const port = parentPort;
if (port === null) throw new Error('pglite-worker.ts runs as a worker thread');

/** Thrown inside PGlite's transaction to make it roll back; not an error for the caller. */
const ROLLBACK = Symbol('rollback');

interface OpenTransaction {
  tx: Transaction;
  finish(commit: boolean): void;
  /** Settles once PGlite has committed or rolled back. */
  ended: Promise<void>;
}

const transactions = new Map<number, OpenTransaction>();

async function answer(db: PGlite, request: DbRequest): Promise<DbReply> {
  switch (request.op) {
    case 'query': {
      const target = request.tx === undefined ? db : transactionOf(request.tx).tx;
      const result = await target.query(request.sql, request.params);
      return { id: request.id, ok: true, rows: result.rows as Row[] };
    }
    case 'exec': {
      const target = request.tx === undefined ? db : transactionOf(request.tx).tx;
      await target.exec(request.sql);
      return { id: request.id, ok: true };
    }
    case 'begin':
      await begin(db, request.tx);
      return { id: request.id, ok: true };
    case 'end': {
      const open = transactionOf(request.tx);
      open.finish(request.commit);
      await open.ended;
      return { id: request.id, ok: true };
    }
    case 'close':
      await db.close();
      return { id: request.id, ok: true };
  }
}

function transactionOf(tx: number): OpenTransaction {
  const open = transactions.get(tx);
  if (open === undefined) throw new Error(`no open transaction ${tx}`);
  return open;
}

/**
 * Resolves once the transaction is open (PGlite's BEGIN done); it stays open, holding PGlite,
 * until `end` decides. A COMMIT that fails rejects `ended`, which `end` reports.
 */
function begin(db: PGlite, id: number): Promise<void> {
  return new Promise<void>((opened, failed) => {
    let finish: (commit: boolean) => void = () => undefined;
    const decided = new Promise<boolean>((resolve) => {
      finish = resolve;
    });
    const ended: Promise<void> = db
      .transaction(async (tx) => {
        transactions.set(id, { tx, finish, ended });
        opened();
        if (!(await decided)) throw ROLLBACK;
      })
      .then(
        () => undefined,
        (error: unknown) => {
          if (error !== ROLLBACK) throw error;
        },
      )
      .finally(() => transactions.delete(id));
    // Before the transaction opened: the BEGIN failed. After: a no-op (`end` reports it).
    ended.catch(failed);
  });
}

try {
  const db = await openPgliteDirectory((workerData as PgliteThreadData).dir);
  port.on('message', (request: DbRequest) => {
    answer(db, request).then(
      (reply) => port.postMessage(reply),
      (error: unknown) =>
        port.postMessage({
          id: request.id,
          ok: false,
          error: serializeError(error),
        } satisfies DbReply),
    );
  });
  port.postMessage({ ready: true } satisfies DbReady);
} catch (error) {
  port.postMessage({ ready: false, error: serializeError(error) } satisfies DbReady);
}

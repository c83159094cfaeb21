/**
 * The smallest common ground of the two drivers: parameterized queries returning rows, and
 * transactions on one connection. PostgreSQL goes through a `pg` Pool (several API replicas may
 * share the database); PGlite is embedded and single-connection, so its transactions and queries
 * are serialized (PGlite's own mutex: a transaction holds it until COMMIT or ROLLBACK). PGlite
 * runs in a worker thread (pglite-thread.ts), so its queries never block the event loop.
 */
import pg from 'pg';
import { openPgliteThread } from './pglite-thread.ts';

export type Row = Record<string, unknown>;

export interface Queryable {
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
}

export interface Database extends Queryable {
  readonly driver: 'postgres' | 'pglite';
  /** Runs `fn` in one transaction (READ COMMITTED): committed when it resolves, else rolled back. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Resolves when the calls already waiting for the database have been served, so background
   * work (the schedule ticker) can let requests go first between its batches. On PGlite, one
   * connection serves everything in arrival order; on PostgreSQL the pool serves both at once.
   */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface PostgresOptions {
  /** Pool size; default 10. */
  max?: number;
}

export function openPostgres(url: string, options: PostgresOptions = {}): Database {
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // An idle client losing its connection must not crash the process; the pool drops it.
  pool.on('error', () => {});
  return {
    driver: 'postgres',
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      const result = await pool.query(sql, params);
      return result.rows as T[];
    },
    async exec(sql: string) {
      await pool.query(sql);
    },
    async transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      const client = await pool.connect();
      let broken: Error | undefined;
      try {
        await client.query('BEGIN');
        const tx: Queryable = {
          async query<R extends Row>(sql: string, params: unknown[] = []) {
            const result = await client.query(sql, params);
            return result.rows as R[];
          },
          async exec(sql: string) {
            await client.query(sql);
          },
        };
        const value = await fn(tx);
        await client.query('COMMIT');
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          broken = rollbackError;
        });
        throw error;
      } finally {
        // A client whose rollback failed is destroyed rather than returned to the pool.
        client.release(broken);
      }
    },
    // Other pool connections serve requests meanwhile: only give the event loop a turn.
    idle: () => new Promise<void>((resolve) => setImmediate(resolve)),
    close: () => pool.end(),
  };
}

/**
 * Opens (creating when absent) a PGlite database persisted in `dir`, in memory when undefined.
 * It runs in a thread of its own (pglite-thread.ts), off the API's event loop.
 */
export function openPglite(dir: string | undefined): Promise<Database> {
  return openPgliteThread(dir);
}

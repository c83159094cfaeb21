/**
 * The smallest common ground of the two drivers: parameterized queries returning rows, and
 * transactions on one connection. PostgreSQL goes through a `pg` Pool (several API replicas may
 * share the database); PGlite is embedded and single-connection, so its transactions and queries
 * are serialized (PGlite's own mutex: a transaction holds it until COMMIT or ROLLBACK).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';
import pg from 'pg';

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
    close: () => pool.end(),
  };
}

/** Opens (creating when absent) a PGlite database persisted in `dir`; in memory when undefined. */
export async function openPglite(dir: string | undefined): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  let db: PGlite;
  if (dir === undefined) db = await PGlite.create();
  else {
    await mkdir(dir, { recursive: true });
    db =
      (await readdir(dir)).length === 0
        ? await createFromTemplate(PGlite, dir)
        : await PGlite.create(dir);
  }
  return {
    driver: 'pglite',
    async query<T extends Row>(sql: string, params: unknown[] = []) {
      const result = await db.query<T>(sql, params);
      return result.rows;
    },
    async exec(sql: string) {
      await db.exec(sql);
    },
    transaction<T>(fn: (tx: Queryable) => Promise<T>) {
      return db.transaction(async (inner) =>
        fn({
          async query<R extends Row>(sql: string, params: unknown[] = []) {
            const result = await inner.query<R>(sql, params);
            return result.rows;
          },
          async exec(sql: string) {
            await inner.exec(sql);
          },
        }),
      );
    },
    close: () => db.close(),
  };
}

type PGliteClass = typeof PGlite;

/**
 * A new PGlite database directory costs ~10 s of initdb written file by file; initdb in memory
 * costs ~4 s and loading its dump ~1.5 s. The dump of a fresh cluster (no NES tables) is cached
 * in the temporary directory per PGlite version, so only the first database on a machine pays.
 */
async function createFromTemplate(PGlite: PGliteClass, dir: string): Promise<PGlite> {
  try {
    const template = await pgliteTemplate(PGlite);
    return await PGlite.create(dir, { loadDataDir: template });
  } catch {
    for (const entry of await readdir(dir))
      await rm(join(dir, entry), { recursive: true, force: true });
    return PGlite.create(dir);
  }
}

async function pgliteTemplate(PGlite: PGliteClass): Promise<Blob> {
  const pkg = JSON.parse(
    await readFile(new URL('../package.json', import.meta.resolve('@electric-sql/pglite')), 'utf8'),
  ) as { version: string };
  const path = join(
    tmpdir(),
    `nes-pglite-template-${pkg.version}-uid${process.getuid?.() ?? 0}.tar.gz`,
  );
  try {
    const info = await stat(path);
    // Only a template this user wrote and nobody else may change.
    if (info.uid === (process.getuid?.() ?? info.uid) && (info.mode & 0o022) === 0)
      return new Blob([await readFile(path)]);
  } catch {
    // not cached yet
  }
  const fresh = await PGlite.create();
  let dump: Blob;
  try {
    dump = await fresh.dumpDataDir('gzip');
  } finally {
    await fresh.close();
  }
  const partial = `${path}.${randomBytes(6).toString('hex')}`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()), { mode: 0o644 });
  await rename(partial, path);
  return dump;
}

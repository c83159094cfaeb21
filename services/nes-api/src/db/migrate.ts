/**
 * Versioned migrations: `migrations/NNNN_name.sql`, applied in order in one transaction and
 * recorded in `schema_migrations` with a checksum. A transaction-level advisory lock makes
 * replicas that start together take turns: the second sees the first's work and applies nothing.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { Database } from './database.ts';

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

/** Arbitrary constant shared by every NES process: "NES migrate". */
const MIGRATION_LOCK = 0x4e45_5301;

const MIGRATIONS_DIR = new URL('./migrations/', import.meta.url);

export async function loadMigrations(dir: URL = MIGRATIONS_DIR): Promise<Migration[]> {
  const migrations: Migration[] = [];
  for (const file of (await readdir(dir)).sort()) {
    const match = /^(\d+)_([\w-]+)\.sql$/.exec(file);
    if (match === null) continue;
    const sql = await readFile(new URL(file, dir), 'utf8');
    migrations.push({
      version: Number(match[1]),
      name: match[2] as string,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  for (let i = 1; i < migrations.length; i++) {
    if (migrations[i]?.version === migrations[i - 1]?.version)
      throw new Error(`two migrations share version ${migrations[i]?.version}`);
  }
  return migrations;
}

/** Applies the migrations the database lacks; returns the versions it applied. */
export async function migrate(db: Database, migrations?: Migration[]): Promise<number[]> {
  const all = migrations ?? (await loadMigrations());
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await tx.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    integer PRIMARY KEY,
         name       text NOT NULL,
         checksum   text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const applied = new Map(
      (
        await tx.query<{ version: number; name: string; checksum: string }>(
          'SELECT version, name, checksum FROM schema_migrations',
        )
      ).map((row) => [row.version, row]),
    );
    const done: number[] = [];
    for (const migration of all) {
      const known = applied.get(migration.version);
      if (known !== undefined) {
        if (known.checksum !== migration.checksum)
          throw new Error(
            `migration ${migration.version}_${migration.name} changed after it was applied; ` +
              'add a new migration instead of editing an applied one',
          );
        continue;
      }
      await tx.exec(migration.sql);
      await tx.query(
        'INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)',
        [migration.version, migration.name, migration.checksum],
      );
      done.push(migration.version);
    }
    return done;
  });
}

/**
 * The run store's entry point: PostgreSQL when a database URL is configured (NES_DATABASE_URL),
 * else PGlite persisted under `<dataDir>/db`. Migrations run before the store is returned.
 */
import { join } from 'node:path';
import { type Database, openPglite, openPostgres } from './database.ts';
import { migrate } from './migrate.ts';
import { SqlRunStore } from './sql-run-store.ts';

export type { Database, Queryable } from './database.ts';
export { loadMigrations, type Migration, migrate } from './migrate.ts';
export { SqlRunStore } from './sql-run-store.ts';

export interface RunStoreConfig {
  /** postgres://... ; PGlite under `dataDir` when absent or empty. */
  databaseUrl?: string;
  dataDir: string;
}

async function openDatabase(config: RunStoreConfig): Promise<Database> {
  return config.databaseUrl
    ? openPostgres(config.databaseUrl)
    : await openPglite(join(config.dataDir, 'db'));
}

export async function createRunStore(config: RunStoreConfig): Promise<SqlRunStore> {
  const db = await openDatabase(config);
  try {
    await migrate(db);
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
  const store = new SqlRunStore(db);
  await store.primeQueuedCount();
  return store;
}

/** The two drivers the run store tests loop over, and small helpers they share. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PostgresServer, startPostgres } from '../../../test/servers/postgres/index.ts';
import { createRunStore, type SqlRunStore } from '../src/db/index.ts';
import type { RunSpec } from '../src/runs/run-model.ts';

export interface Driver {
  readonly name: 'pglite' | 'postgres';
  /** A store on a fresh database, migrated. */
  open(): Promise<SqlRunStore>;
  /** A second store on the same database (another replica, or a restart). */
  reopen(): Promise<SqlRunStore>;
  dispose(): Promise<void>;
}

export async function pgliteDriver(): Promise<Driver> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nes-run-store-'));
  return {
    name: 'pglite',
    open: () => createRunStore({ dataDir }),
    reopen: () => createRunStore({ dataDir }),
    dispose: () => rm(dataDir, { recursive: true, force: true }),
  };
}

export async function postgresDriver(server?: PostgresServer): Promise<Driver> {
  const pg = server ?? (await startPostgres());
  const databaseUrl = await pg.createDatabase('nes_run_store');
  return {
    name: 'postgres',
    open: () => createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
    reopen: () => createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
    dispose: () => (server === undefined ? pg.stop() : Promise.resolve()),
  };
}

export function spec(overrides: Partial<RunSpec> = {}): RunSpec {
  return {
    notebook: 'github://acme/repo/nb/hello.ipynb',
    ref: 'main',
    commitSha: '0123456789abcdef0123456789abcdef01234567',
    parameters: { name: 'NES', count: 3, nested: { list: [1, 'two', null] } },
    kernel: 'python3',
    labels: {},
    timeoutSeconds: null,
    resources: null,
    image: null,
    queue: 'default',
    sweepId: null,
    ...overrides,
  };
}

/** Empties every table but schema_migrations. */
export async function reset(store: SqlRunStore): Promise<void> {
  await store.db.query('TRUNCATE runs, run_events, api_tokens CASCADE');
  // Emptied behind the store's back: it counts its queued runs again.
  await store.primeQueuedCount();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

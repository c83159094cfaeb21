/**
 * Several replicas on one PostgreSQL (two stores, two pools): migrations started together,
 * claims that never overlap and skip rows others hold, queue limits that hold across replicas,
 * idempotent creates across pools. And PGlite's data surviving a close and reopen.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/servers/postgres/index.ts';
import { createRunStore, type SqlRunStore } from '../src/db/index.ts';
import { loadMigrations } from '../src/db/migrate.ts';
import { pgliteDriver, spec } from './run-store-support.ts';

describe('run store replicas on PostgreSQL', () => {
  let server: PostgresServer;
  let a: SqlRunStore;
  let b: SqlRunStore;

  before(async () => {
    server = await startPostgres();
    const databaseUrl = await server.createDatabase('nes_replicas');
    // Both replicas start at once on an empty database: the migration lock makes them take turns.
    [a, b] = await Promise.all([
      createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
      createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
    ]);
  });
  after(async () => {
    await a?.close();
    await b?.close();
    await server?.stop();
  });

  const clear = () => a.db.query('TRUNCATE runs, run_events, api_tokens CASCADE');

  test('replicas started together migrate once', async () => {
    const rows = await a.db.query<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    const versions = (await loadMigrations()).map((m) => m.version);
    assert.deepEqual(
      rows.map((r) => Number(r.version)),
      versions,
    );
  });

  test('four claimers on two pools never claim the same run', async () => {
    await clear();
    const ids: string[] = [];
    for (let i = 0; i < 60; i++) ids.push((await a.createRun(spec())).run.id);
    const claimedBy = async (store: SqlRunStore) => {
      const mine: string[][] = [];
      for (;;) {
        const batch = await store.claimQueued(3);
        if (batch.length > 0) mine.push(batch.map((r) => r.id));
        else if ((await store.listRuns({ limit: 1, status: ['queued'] })).runs.length === 0)
          return mine;
      }
    };
    const batches = (await Promise.all([claimedBy(a), claimedBy(b), claimedBy(a), claimedBy(b)]))
      .flat()
      .filter((batch) => batch.length > 0);
    const all = batches.flat();
    assert.equal(all.length, 60, 'every run claimed once');
    assert.equal(new Set(all).size, 60, 'no run claimed twice');
    for (const batch of batches) {
      const order = batch.map((id) => ids.indexOf(id));
      assert.deepEqual(
        order,
        [...order].sort((x, y) => x - y),
        'a batch is in submit order',
      );
    }
    const starts = await a.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM run_events WHERE data->>'status' = 'starting'`,
    );
    assert.equal(starts[0]?.n, 60, 'one starting event per run');
  });

  test('a claimer skips the rows another transaction holds', async () => {
    await clear();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await a.createRun(spec())).run.id);
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((resolve) => {
      locked = resolve;
    });
    const holder = a.db.transaction(async (tx) => {
      await tx.query('SELECT id FROM runs WHERE id = $1 FOR UPDATE', [ids[0]]);
      locked();
      await new Promise<void>((resolve) => {
        release = resolve;
      });
    });
    await isLocked;
    const claimed = await b.claimQueued(5);
    release();
    await holder;
    assert.deepEqual(
      claimed.map((r) => r.id),
      [ids[1], ids[2]],
    );
    assert.deepEqual(
      (await b.claimQueued(5)).map((r) => r.id),
      [ids[0]],
    );
  });

  test('queue limits hold across replicas claiming at once', async () => {
    await clear();
    for (let i = 0; i < 20; i++) await a.createRun(spec({ queue: 'q' }));
    for (let i = 0; i < 5; i++) await a.createRun(spec({ queue: 'other' }));
    const limits = { q: 3, other: 2 };
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? a : b).claimQueued(5, limits)),
    );
    const claimed = results.flat();
    assert.equal(claimed.filter((r) => r.queue === 'q').length, 3);
    assert.equal(claimed.filter((r) => r.queue === 'other').length, 2);
    assert.equal(new Set(claimed.map((r) => r.id)).size, 5);
  });

  test('one idempotency key across two pools makes one run', async () => {
    await clear();
    const key = { key: 'replicated', requestHash: 'h' };
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 === 0 ? a : b).createRun(spec(), key)),
    );
    assert.equal(results.filter((r) => r.created).length, 1);
    assert.equal(new Set(results.map((r) => r.run.id)).size, 1);
  });

  test('a cancel and a claim racing on two replicas leave a valid history', async () => {
    await clear();
    for (let i = 0; i < 20; i++) {
      const { run } = await a.createRun(spec());
      const [cancelled, claimed] = await Promise.all([
        a.transition(run.id, 'cancelled'),
        b.claimQueued(1),
      ]);
      assert.ok(cancelled, 'cancel applies from queued and from starting');
      assert.equal((await b.getRun(run.id))?.status, 'cancelled');
      const path = (await b.listEvents(run.id)).map((e) => e.data.status);
      // Either the claim came first (queued, starting, cancelled) or it found nothing.
      if (claimed.length === 1) assert.deepEqual(path, ['queued', 'starting', 'cancelled']);
      else assert.deepEqual(path, ['queued', 'cancelled']);
    }
  });
});

describe('run store on PGlite across a reopen', () => {
  test('runs, events and tokens survive closing and reopening the data directory', async (t) => {
    const driver = await pgliteDriver();
    let second: SqlRunStore | undefined;
    // One hook, in this order: PGlite writes its data directory while it closes.
    t.after(async () => {
      await second?.close();
      await driver.dispose();
    });
    const first = await driver.open();
    const { run } = await first.createRun(spec({ labels: { keep: 'yes' } }), {
      key: 'k',
      requestHash: 'h',
    });
    await first.transition(run.id, 'starting');
    const running = await first.transition(run.id, 'running');
    await first.appendEvent(run.id, 'log', { text: 'hello' });
    const token = await first.createToken('admin', ['admin']);
    await first.close();

    second = await driver.reopen();
    assert.deepEqual(await second.getRun(run.id), running);
    assert.deepEqual(
      (await second.listEvents(run.id)).map((e) => e.type),
      ['status', 'status', 'status', 'log'],
    );
    assert.equal((await second.verifyToken(token.token))?.id, token.id);
    assert.equal((await second.createRun(spec(), { key: 'k', requestHash: 'h' })).created, false);
    assert.equal(
      (await second.db.query('SELECT * FROM schema_migrations')).length,
      (await loadMigrations()).length,
    );
    const next = await second.createRun(spec());
    const page = await second.listRuns({ limit: 10 });
    assert.deepEqual(
      page.runs.map((r) => r.id),
      [next.run.id, run.id],
      'submit order continues after the reopen',
    );
  });
});

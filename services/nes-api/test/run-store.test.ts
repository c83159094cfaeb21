/**
 * The run store's contract, the same table of tests on PGlite and on a real PostgreSQL:
 * transitions (every pair), idempotent create under concurrency, list filters and pages,
 * claims in submit order within queue limits, events, tokens, migrations.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, test } from 'node:test';
import { FloatValue, pythonFloat } from '@nes/notebook';
import { loadMigrations, migrate, type SqlRunStore } from '../src/db/index.ts';
import {
  NEXT_STATUSES,
  type Run,
  type RunStatus,
  TERMINAL_STATUSES,
} from '../src/runs/run-model.ts';
import {
  IdempotencyConflictError,
  InvalidCursorError,
  RevokedTokenError,
} from '../src/runs/run-store.ts';
import {
  type Driver,
  pgliteDriver,
  postgresDriver,
  reset,
  sleep,
  spec,
} from './run-store-support.ts';

const STATUSES = Object.keys(NEXT_STATUSES) as RunStatus[];

/** The forward path from queued to each status. */
const PATH: Record<RunStatus, RunStatus[]> = {
  queued: [],
  starting: ['starting'],
  running: ['starting', 'running'],
  succeeded: ['starting', 'running', 'succeeded'],
  failed: ['starting', 'running', 'failed'],
  cancelled: ['starting', 'running', 'cancelled'],
  timed_out: ['starting', 'running', 'timed_out'],
};

for (const makeDriver of [pgliteDriver, postgresDriver]) {
  describe(`run store (${makeDriver === pgliteDriver ? 'pglite' : 'postgres'})`, () => {
    let driver: Driver;
    let store: SqlRunStore;

    before(async () => {
      driver = await makeDriver();
      store = await driver.open();
    });
    after(async () => {
      await store?.close();
      await driver?.dispose();
    });
    beforeEach(() => reset(store));

    async function runAt(status: RunStatus, overrides = {}): Promise<Run> {
      let { run } = await store.createRun(spec(overrides));
      for (const step of PATH[status]) {
        const next = await store.transition(run.id, step);
        assert.ok(next, `${run.status} -> ${step}`);
        run = next;
      }
      return run;
    }

    test('a new run is queued with its spec, defaults and a first status event', async () => {
      const { run, created } = await store.createRun(
        spec({ labels: { team: 'data' }, resources: { cpu: '1' }, timeoutSeconds: 60 }),
      );
      assert.equal(created, true);
      assert.match(run.id, /^[0-9a-z]{26}$/);
      assert.equal(run.status, 'queued');
      assert.deepEqual(run.parameters, spec().parameters);
      assert.deepEqual(run.labels, { team: 'data' });
      assert.deepEqual(run.resources, { cpu: '1' });
      assert.equal(run.timeoutSeconds, 60);
      assert.deepEqual(run.progress, { cellsDone: 0, cellsTotal: 0, currentCell: null });
      assert.equal(run.error, null);
      assert.equal(run.cancelRequested, false);
      assert.ok(Math.abs(Date.parse(run.createdAt) - Date.now()) < 60_000);
      assert.deepEqual(await store.getRun(run.id), run);
      assert.equal(await store.getRun('nope'), null);
      const events = await store.listEvents(run.id);
      assert.deepEqual(
        events.map((e) => [e.seq, e.type, e.data]),
        [[1, 'status', { status: 'queued' }]],
      );
    });

    test('parameters read back exactly: key order, floats written 1.0, big integers', async () => {
      const parameters = {
        zeta: 'last letter first',
        alpha: pythonFloat(1),
        big: 12345678901234567890n,
        nested: { b: 2, a: [pythonFloat(0.5), 1] },
      };
      const { run } = await store.createRun(spec({ parameters }));
      for (const read of [run, await store.getRun(run.id), (await store.listActive())[0]]) {
        const p = read?.parameters as typeof parameters;
        assert.deepEqual(Object.keys(p), ['zeta', 'alpha', 'big', 'nested']);
        assert.ok(p.alpha instanceof FloatValue && p.alpha.value === 1);
        assert.equal(p.big, 12345678901234567890n);
        assert.deepEqual(Object.keys(p.nested), ['b', 'a']);
      }
    });

    test('every transition pair: allowed ones apply with an event, others change nothing', async () => {
      for (const from of STATUSES) {
        for (const to of STATUSES) {
          const run = await runAt(from);
          const before = await store.listEvents(run.id);
          const result = await store.transition(run.id, to);
          const allowed = NEXT_STATUSES[from].includes(to);
          const after = await store.listEvents(run.id);
          if (allowed) {
            assert.equal(result?.status, to, `${from} -> ${to} applies`);
            assert.equal(after.length, before.length + 1);
            assert.deepEqual(after.at(-1)?.data, { status: to, from });
          } else {
            assert.equal(result, null, `${from} -> ${to} is refused`);
            assert.deepEqual(await store.getRun(run.id), run);
            assert.equal(after.length, before.length);
          }
        }
      }
    });

    test('a terminal run never changes: status, progress, cancel flag, patch fields', async () => {
      for (const terminal of TERMINAL_STATUSES) {
        const run = await runAt(terminal);
        for (const to of STATUSES)
          assert.equal(
            await store.transition(run.id, to, {
              error: null,
              outputUri: 'x',
              startedAt: run.createdAt,
            }),
            null,
          );
        await store.updateProgress(run.id, { cellsDone: 9, cellsTotal: 9, currentCell: null });
        await store.recordOutputUri(run.id, 'file:///elsewhere.ipynb');
        const cancelled = await store.requestCancel(run.id);
        assert.deepEqual(cancelled, run);
        assert.deepEqual(await store.getRun(run.id), run);
      }
    });

    test('a finished run is read from the database once, then served from memory', async () => {
      const finished = await runAt('succeeded');
      const active = await runAt('running');
      const query = store.db.query.bind(store.db);
      let queries = 0;
      store.db.query = ((...args: Parameters<typeof query>) => {
        queries++;
        return query(...args);
      }) as typeof store.db.query;
      try {
        assert.deepEqual(await store.getRun(finished.id), finished);
        assert.deepEqual(await store.getRun(finished.id), finished);
        assert.equal(queries, 1, 'the second read of a finished run needs no query');
        await store.getRun(active.id);
        await store.getRun(active.id);
        assert.equal(queries, 3, 'a run that can still change is read every time');
      } finally {
        store.db.query = query;
      }
    });

    test('transition patches: times filled when absent, kept exactly when given', async () => {
      const { run } = await store.createRun(spec());
      await store.transition(run.id, 'starting');
      const running = await store.transition(run.id, 'running');
      assert.ok(running?.startedAt, 'startedAt set on running');
      assert.equal(running.finishedAt, null);
      const progress = { cellsDone: 2, cellsTotal: 5, currentCell: 2 };
      await store.updateProgress(run.id, progress);
      assert.deepEqual((await store.getRun(run.id))?.progress, progress);
      await store.recordOutputUri(run.id, 'file:///out/run.ipynb');
      assert.equal((await store.getRun(run.id))?.outputUri, 'file:///out/run.ipynb');
      const error = {
        class: 'cell_error' as const,
        ename: 'ValueError',
        evalue: 'bad',
        cellIndex: 2,
      };
      const failed = await store.transition(run.id, 'failed', {
        finishedAt: '2026-11-22T10:00:00.123Z',
        error,
        outputUri: 'file:///out/nb.ipynb',
        progress: { cellsDone: 3, cellsTotal: 5, currentCell: null },
      });
      assert.equal(failed?.finishedAt, '2026-11-22T10:00:00.123Z');
      assert.deepEqual(failed?.error, error);
      assert.equal(failed?.outputUri, 'file:///out/nb.ipynb');
      assert.deepEqual(failed?.progress, { cellsDone: 3, cellsTotal: 5, currentCell: null });
      assert.equal(failed?.startedAt, running.startedAt);
      const events = await store.listEvents(run.id);
      assert.deepEqual(events.at(-1)?.data, {
        status: 'failed',
        from: 'running',
        error,
        outputUri: 'file:///out/nb.ipynb',
      });

      const queued = (await store.createRun(spec())).run;
      const cancelled = await store.transition(queued.id, 'cancelled');
      assert.ok(cancelled?.finishedAt, 'finishedAt filled on a terminal status');
      assert.equal(cancelled.startedAt, null);
    });

    test('concurrent transitions of one run: exactly one terminal status wins', async () => {
      const run = await runAt('running');
      const targets: RunStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => store.transition(run.id, targets[i % 4] as RunStatus)),
      );
      const winners = results.filter((r) => r !== null);
      assert.equal(winners.length, 1);
      const final = await store.getRun(run.id);
      assert.equal(final?.status, winners[0]?.status);
      const statusEvents = (await store.listEvents(run.id)).filter((e) => e.type === 'status');
      assert.deepEqual(
        statusEvents.map((e) => e.data.status),
        ['queued', 'starting', 'running', final?.status],
      );
    });

    test('100 concurrent identical creates with one key make exactly one run', async () => {
      const key = { key: 'submit-42', requestHash: 'hash-a' };
      const results = await Promise.all(
        Array.from({ length: 100 }, () => store.createRun(spec(), key)),
      );
      assert.equal(results.filter((r) => r.created).length, 1);
      assert.equal(new Set(results.map((r) => r.run.id)).size, 1);
      const rows = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM runs');
      assert.equal(rows[0]?.n, 1);
      const again = await store.createRun(spec(), key);
      assert.equal(again.created, false);
      assert.equal(again.run.id, results[0]?.run.id);
      await assert.rejects(
        store.createRun(spec(), { key: 'submit-42', requestHash: 'hash-b' }),
        IdempotencyConflictError,
      );
      const conflicts = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) =>
          store.createRun(spec(), { key: 'submit-43', requestHash: `h${i % 2}` }),
        ),
      );
      const ok = conflicts.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 10, 'the body that came first wins; the other body conflicts');
      for (const r of conflicts)
        if (r.status === 'rejected') assert.ok(r.reason instanceof IdempotencyConflictError);
      const a = await store.createRun(spec());
      const b = await store.createRun(spec());
      assert.notEqual(a.run.id, b.run.id, 'without a key every create is a new run');
    });

    test('list filters: status list, notebook, labels, sweep, created range; newest first', async () => {
      const nbA = 'github://acme/repo/a.ipynb';
      const nbB = 'gs://bucket/b.ipynb';
      const r1 = (
        await store.createRun(spec({ notebook: nbA, labels: { team: 'x', env: 'prod' } }))
      ).run;
      await sleep(5);
      const r2 = (await store.createRun(spec({ notebook: nbB, labels: { team: 'x' } }))).run;
      await sleep(5);
      const r3 = (
        await store.createRun(spec({ notebook: nbA, labels: { team: 'y' }, sweepId: 'sweep-1' }))
      ).run;
      await sleep(5);
      const r4 = (await store.createRun(spec({ notebook: nbB, sweepId: 'sweep-1' }))).run;
      await store.transition(r2.id, 'starting');
      await store.transition(r4.id, 'cancelled');

      const ids = async (filter: Parameters<SqlRunStore['listRuns']>[0]) =>
        (await store.listRuns(filter)).runs.map((r) => r.id);
      assert.deepEqual(await ids({ limit: 10 }), [r4.id, r3.id, r2.id, r1.id]);
      assert.deepEqual(await ids({ limit: 10, status: ['queued'] }), [r3.id, r1.id]);
      assert.deepEqual(await ids({ limit: 10, status: ['starting', 'cancelled'] }), [r4.id, r2.id]);
      assert.deepEqual(await ids({ limit: 10, status: [] }), [r4.id, r3.id, r2.id, r1.id]);
      assert.deepEqual(await ids({ limit: 10, notebook: nbA }), [r3.id, r1.id]);
      assert.deepEqual(await ids({ limit: 10, labels: { team: 'x' } }), [r2.id, r1.id]);
      assert.deepEqual(await ids({ limit: 10, labels: { team: 'x', env: 'prod' } }), [r1.id]);
      assert.deepEqual(await ids({ limit: 10, labels: { team: 'z' } }), []);
      assert.deepEqual(await ids({ limit: 10, sweepId: 'sweep-1' }), [r4.id, r3.id]);
      assert.deepEqual(await ids({ limit: 10, createdAfter: r1.createdAt }), [r4.id, r3.id, r2.id]);
      assert.deepEqual(await ids({ limit: 10, createdBefore: r3.createdAt }), [r2.id, r1.id]);
      assert.deepEqual(
        await ids({ limit: 10, createdAfter: r1.createdAt, createdBefore: r4.createdAt }),
        [r3.id, r2.id],
      );
      assert.deepEqual(
        await ids({ limit: 10, notebook: nbA, labels: { team: 'y' }, status: ['queued'] }),
        [r3.id],
      );
    });

    test('pages: stable under inserts and updates, no duplicates, end marked by a null cursor', async () => {
      const created: string[] = [];
      for (let i = 0; i < 25; i++)
        created.push((await store.createRun(spec({ labels: { batch: 'p' } }))).run.id);
      const newestFirst = [...created].reverse();
      const seen: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.listRuns({ limit: 10, labels: { batch: 'p' }, cursor });
        seen.push(...page.runs.map((r) => r.id));
        cursor = page.nextCursor ?? undefined;
        pages++;
        if (pages === 1) {
          // Runs added and changed between pages do not shift the next ones.
          await store.createRun(spec({ labels: { batch: 'p' } }));
          await store.transition(created[20] as string, 'starting');
        }
      } while (cursor !== undefined);
      assert.equal(pages, 3);
      assert.deepEqual(seen, newestFirst);
      const exact = await store.listRuns({ limit: 26, labels: { batch: 'p' } });
      assert.equal(exact.nextCursor, null);
      assert.equal(exact.runs.length, 26);
      for (const bad of ['garbage', Buffer.from('{"s":"x"}').toString('base64url'), ''])
        await assert.rejects(store.listRuns({ limit: 10, cursor: bad }), InvalidCursorError);
    });

    test('claims take queued runs in submit order and move them to starting with an event', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await store.createRun(spec())).run.id);
      await store.transition(ids[1] as string, 'cancelled');
      const first = await store.claimQueued(2);
      assert.deepEqual(
        first.map((r) => r.id),
        [ids[0], ids[2]],
      );
      assert.ok(first.every((r) => r.status === 'starting'));
      assert.deepEqual((await store.listEvents(ids[0] as string)).at(-1)?.data, {
        status: 'starting',
        from: 'queued',
      });
      assert.deepEqual(
        (await store.claimQueued(10)).map((r) => r.id),
        [ids[3], ids[4]],
      );
      assert.deepEqual(await store.claimQueued(10), []);
      assert.deepEqual(await store.claimQueued(0), []);
      assert.deepEqual(
        (await store.listActive()).map((r) => r.id),
        [ids[0], ids[2], ids[3], ids[4]],
      );
    });

    test('the queued count: kept exact in memory on PGlite through creates, claims and cancels; counted on PostgreSQL', async () => {
      const exact = async () => {
        const counted = await store.countRuns('queued');
        if (store.db.driver === 'pglite') assert.equal(store.queuedCount(), counted);
        else
          assert.equal(store.queuedCount(), undefined, 'replicas share PostgreSQL: no local count');
        return counted;
      };
      assert.equal(await exact(), 0);
      const created = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          store.createRun(spec(), { key: `q${i % 5}`, requestHash: 'h' }),
        ),
      );
      assert.equal(created.filter((c) => c.created).length, 5, 'a replayed key adds no run');
      assert.equal(await exact(), 5);
      await store.claimQueued(2);
      assert.equal(await exact(), 3);
      await store.claimQueued(1, { default: 10 });
      assert.equal(await exact(), 2);
      const queued = (await store.listActive(['queued']))[0] as Run;
      await store.transition(queued.id, 'cancelled');
      assert.equal(await exact(), 1);
      // A transition that does not apply (a terminal run) changes nothing.
      assert.equal(await store.transition(queued.id, 'failed'), null);
      const started = (await store.listActive(['starting']))[0] as Run;
      await store.transition(started.id, 'running');
      await store.transition(started.id, 'succeeded');
      assert.equal(await exact(), 1);
    });

    test('per-queue limits count runs already starting or running', async () => {
      const make = async (queue: string) => (await store.createRun(spec({ queue }))).run.id;
      const a1 = await make('a');
      const b1 = await make('b');
      const a2 = await make('a');
      const b2 = await make('b');
      const d1 = await make('default');
      const b3 = await make('b');
      const limits = { a: 1, b: 2 };
      assert.deepEqual(
        (await store.claimQueued(10, limits)).map((r) => r.id),
        [a1, b1, b2, d1],
      );
      assert.deepEqual(await store.claimQueued(10, limits), []);
      await store.transition(a1, 'running');
      assert.deepEqual(await store.claimQueued(10, limits), [], 'running still counts');
      await store.transition(a1, 'succeeded');
      await store.transition(b1, 'failed');
      assert.deepEqual(
        (await store.claimQueued(1, limits)).map((r) => r.id),
        [a2],
        'the global limit still applies',
      );
      assert.deepEqual(
        (await store.claimQueued(10, limits)).map((r) => r.id),
        [b3],
      );
      assert.deepEqual(
        (await store.claimQueued(10, { a: 0 })).map((r) => r.id),
        [],
      );
    });

    test('events: seq per run, atomic under concurrency, replay after a seq', async () => {
      const { run } = await store.createRun(spec());
      const other = (await store.createRun(spec())).run;
      const appended = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.appendEvent(run.id, 'log', { stream: 'stdout', text: `line ${i}` }),
        ),
      );
      assert.deepEqual(
        appended.map((e) => e.seq).sort((a, b) => a - b),
        Array.from({ length: 50 }, (_, i) => i + 2),
      );
      await store.transition(run.id, 'starting');
      const all = await store.listEvents(run.id);
      assert.deepEqual(
        all.map((e) => e.seq),
        Array.from({ length: 52 }, (_, i) => i + 1),
      );
      assert.equal(all.at(-1)?.type, 'status');
      const later = await store.listEvents(run.id, 50);
      assert.deepEqual(
        later.map((e) => e.seq),
        [51, 52],
      );
      assert.equal(later[0]?.runId, run.id);
      assert.ok(!Number.isNaN(Date.parse(later[0]?.time ?? '')));
      assert.deepEqual(await store.listEvents(run.id, 52), []);
      assert.equal((await store.appendEvent(other.id, 'progress', { cellsDone: 1 })).seq, 2);
      await assert.rejects(store.appendEvent('missing', 'log', {}), /no run missing/);
    });

    test('cancel requests flag unfinished runs only', async () => {
      const queued = (await store.createRun(spec())).run;
      const flagged = await store.requestCancel(queued.id);
      assert.equal(flagged?.cancelRequested, true);
      assert.equal(flagged?.status, 'queued');
      const claimed = await store.claimQueued(5);
      assert.equal(claimed[0]?.cancelRequested, true, 'the claimer sees the request');
      assert.equal(await store.requestCancel('missing'), null);
    });

    test('tokens: the table holds the sha256 of the secret, never the secret', async () => {
      const admin = await store.createToken('admin', ['admin']);
      assert.match(admin.token, /^nes_[\w-]{40,}$/);
      const reader = await store.createToken('ci', ['read', 'submit']);
      const verified = await store.verifyToken(admin.token);
      assert.deepEqual(
        { id: verified?.id, name: verified?.name, scopes: verified?.scopes },
        { id: admin.id, name: 'admin', scopes: ['admin'] },
      );
      assert.deepEqual((await store.verifyToken(reader.token))?.scopes, ['read', 'submit']);
      assert.equal(await store.verifyToken(`${admin.token}x`), null);
      assert.equal(await store.verifyToken(''), null);
      const rows = await store.db.query('SELECT * FROM api_tokens ORDER BY name');
      const dump = JSON.stringify(rows);
      assert.ok(!dump.includes(admin.token) && !dump.includes(reader.token));
      assert.deepEqual(
        rows.map((r) => r.secret_hash),
        [admin.token, reader.token].map((t) => createHash('sha256').update(t).digest('hex')),
      );
      // A given secret is stored once: creating it again updates the same token.
      const fixed = await store.createToken('admin', ['admin'], { secret: 'fixed-admin-secret' });
      const again = await store.createToken('admin', ['admin', 'read'], {
        secret: 'fixed-admin-secret',
      });
      assert.equal(fixed.token, 'fixed-admin-secret');
      assert.equal(again.id, fixed.id);
      assert.deepEqual((await store.verifyToken('fixed-admin-secret'))?.scopes, ['admin', 'read']);
      await assert.rejects(store.createToken('x', ['root' as 'admin']), /unknown token scope/);
    });

    test('tokens: revoked and expired ones stop verifying at once; listings never hold a secret', async () => {
      const ci = await store.createToken('ci', ['submit']);
      const soon = await store.createToken('soon', ['read'], {
        expiresAt: new Date(Date.now() + 1500).toISOString(),
      });
      assert.equal((await store.verifyToken(ci.token))?.id, ci.id);
      assert.equal((await store.verifyToken(soon.token))?.id, soon.id);
      const revoked = await store.revokeToken(ci.id);
      assert.ok(revoked?.revokedAt, 'revokedAt is set');
      assert.equal(await store.verifyToken(ci.token), null, 'revoked: refused on the next check');
      // Revoking again changes nothing; an unknown id is null.
      assert.equal((await store.revokeToken(ci.id))?.revokedAt, revoked.revokedAt);
      assert.equal(await store.revokeToken('tok_none'), null);
      await new Promise((resolve) => setTimeout(resolve, 1600));
      assert.equal(await store.verifyToken(soon.token), null, 'expired');
      const listed = await store.listTokens();
      const byId = new Map(listed.map((t) => [t.id, t]));
      assert.ok(byId.get(ci.id)?.revokedAt && byId.get(soon.id)?.expiresAt);
      assert.ok(byId.get(soon.id)?.lastUsedAt, 'the first use is recorded');
      assert.ok(!JSON.stringify(listed).includes(ci.token));
      assert.deepEqual(await store.getToken(ci.id), byId.get(ci.id));
    });

    test('service token: a new admin secret revokes the previous one; a revoked one cannot return', async () => {
      const first = await store.setServiceToken('first-admin-secret-0123');
      assert.equal(first.record.service, true);
      assert.deepEqual(first.record.scopes, ['admin']);
      // A restart with the same secret: the same token, nothing revoked.
      const again = await store.setServiceToken('first-admin-secret-0123');
      assert.equal(again.record.id, first.record.id);
      assert.deepEqual(again.revoked, []);
      const other = await store.createToken('alice', ['admin']);
      const second = await store.setServiceToken('second-admin-secret-0123');
      assert.deepEqual(
        second.revoked.map((t) => t.id),
        [first.record.id],
      );
      assert.equal(await store.verifyToken('first-admin-secret-0123'), null);
      assert.equal((await store.verifyToken('second-admin-secret-0123'))?.service, true);
      assert.equal((await store.verifyToken(other.token))?.id, other.id, 'other tokens stay');
      await assert.rejects(store.setServiceToken('first-admin-secret-0123'), RevokedTokenError);
      assert.equal(await store.verifyToken('first-admin-secret-0123'), null);
    });

    test('migrations: applying again does nothing; a restart keeps the data', async () => {
      const { run } = await store.createRun(spec());
      assert.deepEqual(await migrate(store.db), []);
      const versions = await store.db.query('SELECT version FROM schema_migrations');
      assert.deepEqual(
        versions.map((v) => v.version).sort((a, b) => Number(a) - Number(b)),
        (await loadMigrations()).map((m) => m.version),
      );
      // A restart: the store closes, a new one migrates the same database and finds the run.
      await store.close();
      store = await driver.reopen();
      assert.deepEqual(await store.getRun(run.id), run);
      await assert.rejects(
        migrate(store.db, [{ version: 1, name: 'runs', sql: 'SELECT 1', checksum: 'edited' }]),
        /changed after it was applied/,
      );
    });
  });
}

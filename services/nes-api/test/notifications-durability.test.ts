/**
 * The outbox's promises under failure and load: the API killed mid-delivery and restarted
 * delivers every event (a duplicate only under the same event id); two replicas on one
 * PostgreSQL deliver each event once, one run's (one key's) events in order; a thousand runs
 * finishing at once are drained in the background with a bounded number in flight.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { startPostgres } from '../../../test/servers/postgres/index.ts';
import { createRunStore, type SqlRunStore } from '../src/db/index.ts';
import { Deliverer } from '../src/notifications/deliverer.ts';
import { OutboxStore } from '../src/notifications/outbox-store.ts';
import { targetPolicy } from '../src/notifications/target-url.ts';
import { Receiver, until } from './notification-receiver.ts';
import { spec } from './run-store-support.ts';
import { workspace, writeNotebook } from './scheduler-support.ts';
import { spawnService } from './service-support.ts';

const ws = workspace();
const ok = writeNotebook(ws.notebooks, 'ok.ipynb', ['x = 1', 'print(x)']);

describe('the API killed mid-delivery', () => {
  test('every event is delivered after a restart; a duplicate carries the same event id', async () => {
    const receiver = new Receiver();
    await receiver.start();
    receiver.holding = true;
    const env = {
      NES_DATA_DIR: join(ws.root, 'crash-data'),
      NES_NOTEBOOK_ROOTS: ws.notebooks,
      NES_NOTIFY_ALLOWED_HOSTS: '127.0.0.1',
      NES_NOTIFY_BACKOFF_MS: '100',
      NES_NOTIFY_TIMEOUT_SECONDS: '2',
    };
    const first = await spawnService(env);
    let second: Awaited<ReturnType<typeof spawnService>> | null = null;
    try {
      const created = await first.api.request<{ secret: string }>(
        'POST',
        '/v1/notifications/subscriptions',
        {
          name: 'crash',
          events: ['succeeded', 'failed'],
          target: { kind: 'webhook', url: `${receiver.url}/hook` },
        },
      );
      assert.equal(created.status, 201, created.text);
      receiver.secret = created.body.secret;
      const runs = [];
      for (let i = 0; i < 3; i++) runs.push(await first.api.submit({ notebook: ok }));
      for (const run of runs) await first.api.waitTerminal(run.id, 120_000);
      const expected = new Set(runs.map((run) => `run-${run.id}-succeeded`));
      // A delivery is on the wire, unanswered: kill the service outright.
      await until('a delivery in flight', () => receiver.held >= 1);
      first.child.kill('SIGKILL');
      await first.exited;
      const inFlight = new Set(receiver.received.map((r) => r.eventId));
      receiver.release(200);

      second = await spawnService(env);
      await until(
        'every event',
        () => [...expected].every((id) => receiver.byEvent().has(id)),
        90_000,
      );
      const counts = receiver.byEvent();
      assert.deepEqual(new Set(counts.keys()), expected, 'only these events, each at least once');
      for (const [id, n] of counts) {
        if (n > 1) assert.ok(inFlight.has(id), `${id} was repeated only because it was in flight`);
      }
      assert.ok(receiver.received.every((r) => r.signed === true));
      const log = await second.api.request<{ deliveries: Array<{ status: string }> }>(
        'GET',
        '/v1/notifications/deliveries',
      );
      await until('the log says delivered', async () => {
        const now = await second?.api.request<{ deliveries: Array<{ status: string }> }>(
          'GET',
          '/v1/notifications/deliveries',
        );
        return now?.body.deliveries.every((d) => d.status === 'delivered');
      });
      assert.equal(log.body.deliveries.length, 3);
    } finally {
      if (first.child.exitCode === null && first.child.signalCode === null)
        first.child.kill('SIGKILL');
      if (second) {
        second.child.kill('SIGTERM');
        await second.exited;
      }
      await receiver.down();
    }
  });
});

describe('replicas and bursts', () => {
  const stores: SqlRunStore[] = [];
  const deliverers: Deliverer[] = [];
  after(async () => {
    for (const d of deliverers) await d.stop();
    for (const s of stores) await s.close();
  });

  const deliverer = (
    store: SqlRunStore,
    extra: Partial<ConstructorParameters<typeof Deliverer>[0]> = {},
  ) => {
    const d = new Deliverer({
      outbox: new OutboxStore(store.db),
      runs: store,
      policy: targetPolicy('127.0.0.1'),
      publicUrl: () => 'http://nes.test',
      pollMs: 50,
      baseDelayMs: 50,
      ...extra,
    });
    deliverers.push(d);
    return d;
  };

  test('two replicas on one PostgreSQL deliver each event once, each key in order', async () => {
    const pg = await startPostgres();
    try {
      const databaseUrl = await pg.createDatabase('nes_notify');
      const a = await createRunStore({ databaseUrl, dataDir: '/nonexistent' });
      const b = await createRunStore({ databaseUrl, dataDir: '/nonexistent' });
      stores.push(a, b);
      const receiver = new Receiver();
      await receiver.start();
      const outbox = new OutboxStore(a.db);
      await outbox.createSubscription({
        name: 'all',
        events: ['freshness_missed'],
        notebook: null,
        labels: {},
        sweepId: null,
        scheduleId: null,
        target: { kind: 'webhook', url: `${receiver.url}/h` },
        secret: 'whsec_replicas',
      });
      receiver.secret = 'whsec_replicas';
      const byReplica = { a: 0, b: 0 };
      const count = (replica: 'a' | 'b') => () => {
        byReplica[replica] += 1;
      };
      const da = deliverer(a, { concurrency: 4, onAttempt: count('a') });
      const db = deliverer(b, { concurrency: 4, onAttempt: count('b') });
      da.start();
      db.start();
      const keys = 20;
      const perKey = 3;
      for (let n = 0; n < perKey; n++) {
        for (let k = 0; k < keys; k++) {
          const event = {
            id: `fresh-${k}-${n}`,
            type: 'freshness_missed' as const,
            key: `schedule-${k}`,
            subject: { scheduleId: `schedule-${k}` },
            data: { n },
          };
          await new OutboxStore((n % 2 ? a : b).db).enqueue(event);
          // The same event reported twice is one delivery.
          if (k === 0) await outbox.enqueue(event);
        }
        da.wake();
        db.wake();
      }
      await until('every event', () => receiver.byEvent().size === keys * perKey, 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(receiver.received.length, keys * perKey, 'no event delivered twice');
      assert.ok(receiver.received.every((r) => r.signed));
      for (let k = 0; k < keys; k++) {
        const order = receiver.received
          .filter((r) => r.eventId?.startsWith(`fresh-${k}-`))
          .map((r) => r.json.n);
        assert.deepEqual(order, [0, 1, 2], `key ${k} in order`);
      }
      assert.equal(byReplica.a + byReplica.b, keys * perKey);
      await receiver.down();
    } finally {
      for (const d of deliverers.splice(0)) await d.stop();
      for (const s of stores.splice(0)) await s.close();
      await pg.stop();
    }
  });

  test('a thousand runs finishing at once: drained in the background, never more in flight than the bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nes-notify-burst-'));
    const store = await createRunStore({ dataDir: dir });
    stores.push(store);
    const receiver = new Receiver();
    await receiver.start();
    receiver.holding = true;
    await new OutboxStore(store.db).createSubscription({
      name: 'burst',
      events: ['succeeded'],
      notebook: null,
      labels: {},
      sweepId: null,
      scheduleId: null,
      target: { kind: 'webhook', url: `${receiver.url}/h` },
      secret: null,
    });
    const runs = [];
    for (let i = 0; i < 1000; i++)
      runs.push((await store.createRun(spec({ labels: { i: String(i) } }))).run);
    await Promise.all(runs.map((run) => store.transition(run.id, 'starting')));
    // Every run finishes at once; each transition enqueues its delivery in the same statement.
    await Promise.all(runs.map((run) => store.transition(run.id, 'succeeded')));
    const d = deliverer(store, { concurrency: 8 });
    d.start();
    await until('the bound reached', () => receiver.held === 8);
    let most = 0;
    for (let i = 0; i < 20; i++) {
      most = Math.max(most, d.inFlight, receiver.held);
      // The store answers while deliveries wait on a slow receiver.
      assert.equal((await store.getRun(runs[i]?.id as string))?.status, 'succeeded');
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(most, 8, 'never more than the bound in flight');
    receiver.release(200);
    await until('all delivered', () => receiver.byEvent().size === 1000, 120_000);
    const pending = await new OutboxStore(store.db).pendingCount();
    await until('none pending', async () => (await new OutboxStore(store.db).pendingCount()) === 0);
    assert.ok(pending >= 0);
    assert.equal(receiver.received.length, 1000, 'each once');
    await d.stop();
    await receiver.down();
    await store.close();
    stores.splice(stores.indexOf(store), 1);
    await rm(dir, { recursive: true, force: true });
  });
});

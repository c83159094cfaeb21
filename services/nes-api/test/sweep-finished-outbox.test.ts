/**
 * `sweep_finished` is enqueued by the run store in the statement of the sweep's last terminal
 * transition, on both drivers: the outbox row is there when the transition returns, with no
 * notification service running (nothing after the commit to crash before), with the sweep's runs
 * by status; earlier endings enqueue nothing; and on PostgreSQL two replicas ending the last two
 * runs of many sweeps at once enqueue each sweep's event exactly once, never zero times.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SqlRunStore } from '../src/db/index.ts';
import { OutboxStore } from '../src/notifications/outbox-store.ts';
import { pgliteDriver, postgresDriver, spec } from './run-store-support.ts';

const NB = 'github://acme/etl/sweep.ipynb';

async function subscribe(store: SqlRunStore, sweepId: string | null = null): Promise<string> {
  const outbox = new OutboxStore(store.db);
  const created = await outbox.createSubscription({
    name: 'sweeps',
    events: ['sweep_finished', 'failed'],
    notebook: NB,
    labels: {},
    sweepId,
    scheduleId: null,
    target: { kind: 'webhook', url: 'https://hooks.example.com/nes' },
    secret: 'whsec_x',
  });
  return created.id;
}

async function sweepEvents(store: SqlRunStore, sweepId: string) {
  return store.db.query(
    `SELECT event_id, subscription_id, run_id, order_key, payload FROM notification_outbox
      WHERE event_type = 'sweep_finished' AND order_key = $1`,
    [sweepId],
  );
}

async function finish(
  store: SqlRunStore,
  id: string,
  status: 'succeeded' | 'failed' | 'cancelled',
) {
  if (status === 'cancelled') {
    assert.ok(await store.transition(id, 'cancelled'));
    return;
  }
  assert.ok(await store.transition(id, 'starting'));
  assert.ok(
    await store.transition(id, status, {
      ...(status === 'failed'
        ? { error: { class: 'cell_error', ename: 'E', evalue: 'x', cellIndex: 0 } }
        : {}),
    }),
  );
}

for (const make of [pgliteDriver, postgresDriver]) {
  describe(`sweep_finished in the last transition's statement (${make.name})`, () => {
    test('enqueued with the last ending only, with the runs by status', async () => {
      const driver = await make();
      const store = await driver.open();
      try {
        const subscription = await subscribe(store, 'sw-a');
        await subscribe(store, 'sw-other'); // another sweep's subscription: not told
        const ids: string[] = [];
        for (let i = 0; i < 3; i++)
          ids.push((await store.createRun(spec({ notebook: NB, sweepId: 'sw-a' }))).run.id);
        const outside = (await store.createRun(spec({ notebook: NB }))).run.id;
        await finish(store, outside, 'succeeded');
        await finish(store, ids[0] as string, 'succeeded');
        await finish(store, ids[1] as string, 'failed');
        assert.deepEqual(await sweepEvents(store, 'sw-a'), [], 'a run is still to finish');
        await finish(store, ids[2] as string, 'cancelled');
        const events = await sweepEvents(store, 'sw-a');
        assert.equal(events.length, 1, 'one event, for the one subscription that selects it');
        const event = events[0] as Record<string, unknown>;
        assert.equal(event.event_id, 'sweep-sw-a-finished');
        assert.equal(event.subscription_id, subscription);
        assert.equal(event.run_id, null);
        assert.deepEqual(event.payload, {
          sweep: { id: 'sw-a', notebook: NB, runs: { succeeded: 1, failed: 1, cancelled: 1 } },
          summary: `Sweep sw-a of ${NB} finished: 1 cancelled, 1 failed, 1 succeeded`,
        });
        // The run's own failed event is there too, from the same kind of statement.
        const failed = await store.db.query(
          `SELECT count(*)::int AS n FROM notification_outbox WHERE event_type = 'failed' AND run_id = $1`,
          [ids[1]],
        );
        assert.equal(failed[0]?.n, 1);
      } finally {
        await store.close();
        await driver.dispose();
      }
    });

    if (make === postgresDriver) {
      test('two replicas ending the last two runs at once: exactly one event per sweep', async () => {
        const driver = await make();
        const one = await driver.open();
        const two = await driver.reopen();
        try {
          await subscribe(one);
          const sweeps = Array.from({ length: 25 }, (_, i) => `sw-race-${i}`);
          const pairs: Array<[string, string]> = [];
          for (const sweepId of sweeps) {
            const a = (await one.createRun(spec({ notebook: NB, sweepId }))).run.id;
            const b = (await one.createRun(spec({ notebook: NB, sweepId }))).run.id;
            await one.transition(a, 'starting');
            await one.transition(b, 'starting');
            pairs.push([a, b]);
          }
          await Promise.all(
            pairs.flatMap(([a, b]) => [
              one.transition(a, 'succeeded'),
              two.transition(b, 'succeeded'),
            ]),
          );
          for (const sweepId of sweeps) {
            const events = await sweepEvents(one, sweepId);
            assert.equal(events.length, 1, `${sweepId}: ${events.length} events`);
          }
        } finally {
          await two.close();
          await one.close();
          await driver.dispose();
        }
      });
    }
  });
}

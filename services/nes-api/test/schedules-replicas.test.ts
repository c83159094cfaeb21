/**
 * Two API replicas ticking against one real PostgreSQL (two pools, two tickers, the same
 * clock): every logical date gets exactly one run, whatever the interleaving, including a
 * catch-up after downtime where both replicas wake to the same backlog.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type PostgresServer, startPostgres } from '../../../test/servers/postgres/index.ts';
import { createRunStore, type SqlRunStore } from '../src/db/index.ts';
import {
  createSchedule,
  FakeClock,
  notebookRoot,
  runUntil,
  scheduleRuns,
  scheduleSpec,
  tickerOn,
} from './schedule-support.ts';

let server: PostgresServer;
let a: SqlRunStore;
let b: SqlRunStore;
let root: Awaited<ReturnType<typeof notebookRoot>>;

before(async () => {
  root = await notebookRoot();
  server = await startPostgres();
  const databaseUrl = await server.createDatabase('nes_schedule_replicas');
  [a, b] = await Promise.all([
    createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
    createRunStore({ databaseUrl, dataDir: '/nonexistent' }),
  ]);
});
after(async () => {
  await a?.close();
  await b?.close();
  await server?.stop();
  await root?.dispose();
});

test('two replicas ticking together create exactly one run per schedule and logical date', async () => {
  const clock = new FakeClock('2026-10-20T00:00:00Z');
  // Short leases, so claims also expire and get taken over mid-test.
  const one = tickerOn(a, clock, root.dir, { leaseMs: 1, batch: 7 });
  const two = tickerOn(b, clock, root.dir, { leaseMs: 1, batch: 7 });
  const ids: string[] = [];
  for (const [cron, timezone, catchup] of [
    ['0 * * * *', 'Europe/Berlin', 'all'],
    ['*/15 * * * *', 'UTC', 'all'],
    ['30 2 * * *', 'Europe/Berlin', 'latest'],
    ['0 0 * * *', 'America/New_York', 'all'],
  ] as const) {
    const spec = scheduleSpec({
      notebook: root.notebook,
      cron,
      timezone,
      catchup,
      startDate: '2026-10-20T00:00:00Z',
      // The runs never finish here: max active runs must not be what holds dates back.
      maxActiveRuns: 100_000,
    });
    ids.push((await createSchedule(one.schedules, spec, clock.now)).id);
  }
  // Ten days across Berlin's fall-back (2026-10-25), then a day of downtime, then both wake.
  await runUntil(
    [one.ticker, two.ticker, one.ticker, two.ticker],
    clock,
    '2026-10-30T00:00:00Z',
    20 * 60_000,
  );
  clock.set('2026-10-31T06:00:00Z');
  await Promise.all([one.ticker.pass(), two.ticker.pass(), one.ticker.pass(), two.ticker.pass()]);
  await Promise.all([one.ticker.pass(), two.ticker.pass()]);

  const expected = [
    // 11 days and 6 hours of real hours (the repeated fall-back hour is two local 02:00s).
    11 * 24 + 6,
    (11 * 24 + 6) * 4,
    // latest: 20-28 October on time (the 29th is due after the outage began), then only the
    // latest after it (the 30th).
    9 + 1,
    11,
  ];
  for (const [i, id] of ids.entries()) {
    const runs = await scheduleRuns(a, id);
    const dates = runs.map((r) => r.labels['nes/logical-date']);
    assert.equal(new Set(dates).size, dates.length, `schedule ${i}: a logical date ran twice`);
    assert.equal(runs.length, expected[i], `schedule ${i}`);
    const rows = await one.schedules.listDates(id, new Date('2026-01-01'), new Date('2027-01-01'));
    assert.equal(rows.length, runs.length);
    assert.ok(rows.every((row) => row.phase === 'submitted' && row.attempt === 1));
  }
});

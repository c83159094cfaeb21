/**
 * The ticker on the embedded database with a fake clock: two years of daily ticks in seconds,
 * the commit and rendered parameters of each run, catch-up after downtime (a restart on the
 * same data directory) by each policy, pause and resume, max active runs, preconditions met
 * and timed out, and freshness events.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { createRunStore, type SqlRunStore } from '../src/db/index.ts';
import { dateState } from '../src/schedules/schedule-model.ts';
import {
  createSchedule,
  FakeClock,
  finish,
  notebookRoot,
  runUntil,
  scheduleRuns,
  scheduleSpec,
  tickerOn,
} from './schedule-support.ts';

let root: Awaited<ReturnType<typeof notebookRoot>>;
let dataDir: string;
let store: SqlRunStore;

before(async () => {
  root = await notebookRoot();
  dataDir = await mkdtemp(join(tmpdir(), 'nes-ticker-'));
  store = await createRunStore({ dataDir });
});
// Each test's schedules alone: a schedule left by another test would be due at this test's clock.
beforeEach(() => store.db.exec('DELETE FROM schedules'));
after(async () => {
  await store?.close();
  await rm(dataDir, { recursive: true, force: true });
  await root?.dispose();
});

describe('ticking', () => {
  test('two years of a daily schedule: one run per day, parameters rendered, commit recorded', async () => {
    const clock = new FakeClock('2026-01-01T00:00:00Z');
    // Day-long steps: a date created up to a step after it is due is still on time.
    const { ticker, schedules } = tickerOn(store, clock, root.dir, {
      misfireGraceMs: 24 * 3600_000,
    });
    const schedule = await createSchedule(
      schedules,
      scheduleSpec({ notebook: root.notebook, cron: '0 6 * * *', timezone: 'Europe/Berlin' }),
      clock.now,
    );
    const started = Date.now();
    await runUntil([ticker], clock, '2028-01-01T00:00:00Z', 24 * 3600_000);
    const runs = await scheduleRuns(store, schedule.id);
    // 2026 and 2027: 730 local days at 06:00, each due at the next day's 06:00.
    assert.equal(runs.length, 729);
    const days = runs.map((r) => r.parameters.ds);
    assert.equal(new Set(days).size, 729);
    assert.equal(days[0], '2026-01-01');
    const first = runs[0];
    assert.deepEqual(first?.parameters, {
      ds: '2026-01-01',
      start: '2026-01-01T05:00:00+00:00',
      end: '2026-01-02T05:00:00+00:00',
    });
    // In summer the same local 06:00 is 04:00 UTC.
    const july = runs.find((r) => r.parameters.ds === '2026-07-01');
    assert.equal(july?.parameters.start, '2026-07-01T04:00:00+00:00');
    assert.equal(first?.labels['nes/logical-date'], '2026-01-01T05:00:00.000Z');
    assert.equal(first?.labels['nes/trigger'], 'scheduled');
    assert.equal(first?.queue, `schedule-${schedule.id}`);
    const dates = await schedules.listDates(
      schedule.id,
      new Date('2026-01-01'),
      new Date('2028-01-01'),
    );
    assert.equal(dates.length, 729);
    assert.ok(dates.every((d) => d.phase === 'submitted' && d.runId !== null));
    assert.ok(Date.now() - started < 120_000, 'years of ticks take seconds, not hours');
  });

  test('after downtime: all creates every missed date, latest only the last, none nothing', async () => {
    const clock = new FakeClock('2026-03-01T00:00:00Z');
    const { ticker, schedules } = tickerOn(store, clock, root.dir);
    const made: Record<string, string> = {};
    for (const catchup of ['all', 'latest', 'none'] as const) {
      made[catchup] = (
        await createSchedule(
          schedules,
          scheduleSpec({ notebook: root.notebook, catchup, startDate: '2026-03-01T00:00:00Z' }),
          clock.now,
        )
      ).id;
    }
    await runUntil([ticker], clock, '2026-03-03T00:01:00Z', 30 * 60_000);
    // The service stops for five days, then a new process starts on the same data directory.
    await store.close();
    store = await createRunStore({ dataDir });
    clock.set('2026-03-08T12:00:00Z');
    const restarted = tickerOn(store, clock, root.dir);
    await restarted.ticker.pass();
    const logical = async (id: string) =>
      (await scheduleRuns(store, id)).map((r) => [r.parameters.ds, r.labels['nes/trigger']]);
    assert.deepEqual(await logical(made.all as string), [
      ['2026-03-01', 'scheduled'],
      ['2026-03-02', 'scheduled'],
      ['2026-03-03', 'catchup'],
      ['2026-03-04', 'catchup'],
      ['2026-03-05', 'catchup'],
      ['2026-03-06', 'catchup'],
      ['2026-03-07', 'catchup'],
    ]);
    assert.deepEqual(await logical(made.latest as string), [
      ['2026-03-01', 'scheduled'],
      ['2026-03-02', 'scheduled'],
      ['2026-03-07', 'catchup'],
    ]);
    assert.deepEqual(await logical(made.none as string), [
      ['2026-03-01', 'scheduled'],
      ['2026-03-02', 'scheduled'],
    ]);
    // And ticking goes on from there, on time.
    clock.set('2026-03-09T00:00:00Z');
    await runUntil([restarted.ticker], clock, '2026-03-09T00:00:30Z', 60_000);
    assert.deepEqual((await logical(made.none as string)).at(-1), ['2026-03-08', 'scheduled']);
  });

  test('paused dates stay missing (none) and come back by catch-up (all) on resume', async () => {
    const clock = new FakeClock('2026-05-01T00:00:00Z');
    const { ticker, schedules } = tickerOn(store, clock, root.dir);
    const s = await createSchedule(
      schedules,
      scheduleSpec({ notebook: root.notebook, startDate: '2026-05-01T00:00:00Z', catchup: 'none' }),
      clock.now,
    );
    await runUntil([ticker], clock, '2026-05-02T00:00:30Z', 3600_000);
    await schedules.setPaused(s.id, true, clock.now);
    await runUntil([ticker], clock, '2026-05-05T12:00:00Z', 3600_000);
    assert.equal((await scheduleRuns(store, s.id)).length, 1);
    await schedules.setPaused(s.id, false, clock.now);
    clock.set('2026-05-06T00:00:00Z');
    await runUntil([ticker], clock, '2026-05-06T00:00:30Z', 60_000);
    const dates = await schedules.listDates(s.id, new Date('2026-05-01'), new Date('2026-06-01'));
    assert.deepEqual(
      dates.map((d) => d.logicalDate.slice(0, 10)),
      ['2026-05-01', '2026-05-05'],
    );
  });

  test('max active runs holds later dates until earlier runs finish', async () => {
    const clock = new FakeClock('2026-06-01T00:00:00Z');
    const { ticker, schedules } = tickerOn(store, clock, root.dir);
    const s = await createSchedule(
      schedules,
      scheduleSpec({
        notebook: root.notebook,
        cron: '0 * * * *',
        startDate: '2026-06-01T00:00:00Z',
        maxActiveRuns: 2,
      }),
      clock.now,
    );
    clock.set('2026-06-01T06:00:00Z');
    await ticker.pass();
    let runs = await scheduleRuns(store, s.id);
    assert.equal(runs.length, 2);
    const waiting = await schedules.listDates(s.id, new Date('2026-06-01'), new Date('2026-06-02'));
    assert.equal(waiting.length, 6);
    assert.deepEqual(
      waiting.map((d) => dateState(d)),
      ['running', 'running', 'queued', 'queued', 'queued', 'queued'],
    );
    for (const run of runs) await finish(store, run, 'succeeded');
    clock.advance(2000);
    await ticker.pass();
    runs = await scheduleRuns(store, s.id);
    assert.deepEqual(
      runs.map((r) => r.parameters.start),
      ['00', '01', '02', '03'].map((h) => `2026-06-01T${h}:00:00+00:00`),
    );
  });

  test('max active runs counts the runs still active from earlier passes', async () => {
    const clock = new FakeClock('2026-06-01T00:00:00Z');
    const { ticker, schedules } = tickerOn(store, clock, root.dir);
    const s = await createSchedule(
      schedules,
      scheduleSpec({
        notebook: root.notebook,
        cron: '0 * * * *',
        startDate: '2026-06-01T00:00:00Z',
        maxActiveRuns: 3,
      }),
      clock.now,
    );
    clock.set('2026-06-01T06:00:00Z');
    await ticker.pass();
    const first = await scheduleRuns(store, s.id);
    assert.equal(first.length, 3);
    // One of three ends: two are still active, so one more may start, not three.
    await finish(store, first[0], 'succeeded');
    clock.advance(2000);
    await ticker.pass();
    assert.equal((await scheduleRuns(store, s.id)).length, 4);
    clock.advance(2000);
    await ticker.pass();
    assert.equal((await scheduleRuns(store, s.id)).length, 4);
  });
});

describe('preconditions and freshness', () => {
  test('an object precondition: waiting (visible, with what it waits for), then met', async () => {
    const clock = new FakeClock('2026-07-01T00:00:00Z');
    const objects = new Set<string>();
    const { ticker, schedules } = tickerOn(store, clock, root.dir, {
      objectExists: async (uri) => objects.has(uri),
    });
    const s = await createSchedule(
      schedules,
      scheduleSpec({
        notebook: root.notebook,
        startDate: '2026-07-01T00:00:00Z',
        preconditions: [{ kind: 'object', uri: 'gs://raw/events/{{ ds }}/_SUCCESS' }],
        pokeIntervalSeconds: 300,
        preconditionTimeoutSeconds: 6 * 3600,
      }),
      clock.now,
    );
    clock.set('2026-07-01T23:59:00Z');
    await runUntil([ticker], clock, '2026-07-02T00:10:00Z', 60_000);
    const [date] = await schedules.listDates(s.id, new Date('2026-07-01'), new Date('2026-07-02'));
    assert.equal(dateState(date), 'waiting');
    assert.equal(date?.lastError, 'waiting for object gs://raw/events/2026-07-01/_SUCCESS');
    assert.equal(date?.waitingSince, '2026-07-02T00:00:00.000Z');
    objects.add('gs://raw/events/2026-07-01/_SUCCESS');
    await runUntil([ticker], clock, '2026-07-02T00:16:00Z', 60_000);
    const runs = await scheduleRuns(store, s.id);
    assert.equal(runs.length, 1);
    assert.equal(runs[0]?.parameters.ds, '2026-07-01');
  });

  test('depends-on-past and a cross-schedule dependency; a precondition that times out is its own outcome', async () => {
    const clock = new FakeClock('2026-08-01T00:00:00Z');
    const { ticker, schedules } = tickerOn(store, clock, root.dir);
    const upstream = await createSchedule(
      schedules,
      scheduleSpec({ notebook: root.notebook, startDate: '2026-08-01T00:00:00Z' }),
      clock.now,
    );
    const downstream = await createSchedule(
      schedules,
      scheduleSpec({
        notebook: root.notebook,
        startDate: '2026-08-01T00:00:00Z',
        preconditions: [{ kind: 'dependsOnPast' }, { kind: 'schedule', schedule: upstream.name }],
        pokeIntervalSeconds: 60,
        preconditionTimeoutSeconds: 3600,
      }),
      clock.now,
    );
    clock.set('2026-08-01T23:59:00Z');
    await runUntil([ticker], clock, '2026-08-02T00:05:00Z', 60_000);
    const [up1] = await scheduleRuns(store, upstream.id);
    assert.ok(up1);
    assert.equal((await scheduleRuns(store, downstream.id)).length, 0);
    await finish(store, up1, 'succeeded');
    await runUntil([ticker], clock, '2026-08-02T00:07:00Z', 60_000);
    const [down1] = await scheduleRuns(store, downstream.id);
    assert.equal(down1?.parameters.ds, '2026-08-01');
    // Day 2: upstream succeeds but downstream's day 1 fails: depends-on-past holds day 2 until
    // it times out, an outcome of its own.
    await finish(store, down1, 'failed');
    clock.set('2026-08-02T23:59:00Z');
    await runUntil([ticker], clock, '2026-08-03T00:02:00Z', 60_000);
    const up2 = (await scheduleRuns(store, upstream.id))[1];
    await finish(store, up2, 'succeeded');
    await runUntil([ticker], clock, '2026-08-03T01:01:00Z', 5 * 60_000);
    const day2 = await schedules.getDate(downstream.id, '2026-08-02T00:00:00.000Z');
    assert.equal(dateState(day2 ?? undefined), 'precondition_timed_out');
    assert.match(
      day2?.lastError ?? '',
      /not met after 3600 s: waiting for the previous logical date 2026-08-01T00:00:00.000Z to succeed \(it is failed\)/,
    );
    assert.equal((await scheduleRuns(store, downstream.id)).length, 1);
  });

  test('freshness: falling behind the SLA is one stale event, catching up one fresh event', async () => {
    const clock = new FakeClock('2026-09-01T00:00:00Z');
    const { ticker, schedules, events } = tickerOn(store, clock, root.dir);
    const s = await createSchedule(
      schedules,
      scheduleSpec({
        notebook: root.notebook,
        startDate: '2026-09-01T00:00:00Z',
        freshnessSlaSeconds: 2 * 3600,
      }),
      clock.now,
    );
    const mine = () => events.filter((e) => e.scheduleId === s.id);
    await runUntil([ticker], clock, '2026-09-02T01:00:00Z', 10 * 60_000);
    assert.equal(mine().length, 0, 'within the SLA');
    await runUntil([ticker], clock, '2026-09-02T03:00:00Z', 10 * 60_000);
    assert.deepEqual(
      mine().map((e) => [e.type, e.expectedLogicalDate]),
      [['schedule.stale', '2026-09-01T00:00:00.000Z']],
    );
    assert.equal((await schedules.get(s.id))?.freshnessState, 'stale');
    const [run] = await scheduleRuns(store, s.id);
    await finish(store, run, 'succeeded');
    await runUntil([ticker], clock, '2026-09-02T04:00:00Z', 10 * 60_000);
    assert.deepEqual(
      mine().map((e) => e.type),
      ['schedule.stale', 'schedule.fresh'],
    );
  });
});

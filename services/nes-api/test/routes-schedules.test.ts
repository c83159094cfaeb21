/**
 * /v1/schedules over real HTTP semantics (inject), a real PGlite store, the GitHub test server's
 * real repository and a ticker on a fake clock: validation, CRUD, pause/resume, each tick
 * resolving the branch to the commit of that moment, trigger, dates and their states,
 * invalidation, backfill (one sweep, idempotent per date, cancellable as a whole), scopes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { resolveSource } from '@nes/sources';
import type { SqlRunStore } from '../src/db/index.ts';
import { startTicker } from '../src/schedules/service-wiring.ts';
import type { Ticker } from '../src/schedules/ticker.ts';
import { type Harness, notebookText, startHarness } from './api-harness.ts';
import { FakeClock, finish } from './schedule-support.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
const clock = new FakeClock('2026-04-01T00:00:00Z');
let h: Harness;
let ticker: Ticker;
let sqlStore: SqlRunStore;
const limits: Array<[string, number]> = [];

before(async () => {
  h = await startHarness({
    services: ({ store, scheduler, bus, artifacts }) => {
      sqlStore = store as SqlRunStore;
      const wired = startTicker({
        db: sqlStore.db,
        store,
        scheduler,
        bus,
        artifacts,
        sourceOptions: {},
        resolve: (uri, options) => resolveSource(uri, { ...options, githubApiUrl: h.github.url }),
        options: { clock: clock.read, intervalMs: 3_600_000 },
        log: () => {},
      });
      ticker = wired.ticker;
      return { schedules: wired.services };
    },
  });
  h.scheduler.limitQueue = (queue, limit) => limits.push([queue, limit]);
});
after(async () => {
  await ticker?.stop();
  await h?.close();
});

const post = (url: string, payload?: Record<string, unknown>, token?: string) =>
  h.app.inject({
    method: 'POST',
    url,
    headers: h.auth(token),
    ...(payload === undefined ? {} : { payload }),
  });
const get = (url: string, token?: string) =>
  h.app.inject({ method: 'GET', url, headers: h.auth(token) });

const daily = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  notebook: NB,
  ref: 'main',
  cron: '0 0 * * *',
  timezone: 'UTC',
  startDate: '2026-04-01T00:00:00Z',
  parameters: { name: 'day {{ ds }}', mode: '{{ data_interval_end | ts_nodash }}' },
  ...extra,
});

async function advance(to: string) {
  clock.set(to);
  await ticker.pass();
}

describe('creating and changing schedules', () => {
  test('what is wrong is named: cron, zone, template, parameters, notebook, name', async () => {
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [{ cron: '0 0 * *' }, 400, 'invalid_cron'],
      [{ timezone: 'Europe/Atlantis' }, 400, 'invalid_cron'],
      [{ parameters: { name: '{{ var.value.secret }}' } }, 400, 'invalid_template'],
      [{ parameters: { nope: '{{ ds }}' } }, 422, 'invalid_parameters'],
      [{ parameters: { count: 'three' } }, 422, 'invalid_parameters'],
      [{ notebook: 'github://acme/notebooks/nb/missing.ipynb' }, 422, 'path_not_found'],
      [{ endDate: '2026-01-01T00:00:00Z' }, 400, 'invalid_request'],
      [{ name: 'Bad Name' }, 400, 'invalid_request'],
      [{ catchup: 'some' }, 400, 'invalid_request'],
    ];
    for (const [change, status, code] of cases) {
      const res = await post('/v1/schedules', daily('bad', change));
      assert.equal(res.statusCode, status, `${JSON.stringify(change)}: ${res.body}`);
      assert.equal(res.json().error.code, code, JSON.stringify(change));
    }
    assert.equal((await get('/v1/schedules')).json().schedules.length, 0, 'nothing half-made');
  });

  test('create, get by id and name, list by label, update, pause, resume, delete', async () => {
    const res = await post('/v1/schedules', daily('sales-report', { labels: { team: 'sales' } }));
    assert.equal(res.statusCode, 201, res.body);
    const s = res.json();
    assert.match(s.id, /^sch_/);
    assert.equal(s.catchup, 'latest');
    assert.equal(s.maxActiveRuns, 1);
    assert.equal(s.createdBy, 'pipeline');
    assert.equal(s.nextLogicalDate, '2026-04-01T00:00:00.000Z');
    assert.deepEqual(s.upcoming[0], {
      logicalDate: '2026-04-01T00:00:00.000Z',
      dueAt: '2026-04-02T00:00:00.000Z',
    });
    assert.equal(s.upcoming.length, 5);
    assert.equal(s.links.viewer, `http://nes.test/schedules/${s.id}`);
    assert.equal((await post('/v1/schedules', daily('sales-report'))).statusCode, 409);
    assert.equal((await get('/v1/schedules/sales-report')).json().id, s.id);
    const listed = (await get('/v1/schedules?label=team=sales')).json();
    assert.deepEqual(
      listed.schedules.map((x: { name: string }) => x.name),
      ['sales-report'],
    );
    assert.equal((await get('/v1/schedules?label=team=ops')).json().schedules.length, 0);

    const patched = await h.app.inject({
      method: 'PATCH',
      url: `/v1/schedules/${s.id}`,
      headers: h.auth(),
      payload: { cron: '0 6 * * *', timezone: 'Asia/Seoul' },
    });
    assert.equal(patched.statusCode, 200, patched.body);
    // 06:00 in Seoul is 21:00 UTC the day before: the first new date at or after the old one.
    assert.equal(patched.json().nextLogicalDate, '2026-04-01T21:00:00.000Z');
    const badPatch = await h.app.inject({
      method: 'PATCH',
      url: `/v1/schedules/${s.id}`,
      headers: h.auth(),
      payload: { cron: 'every day' },
    });
    assert.equal(badPatch.statusCode, 400);

    assert.equal((await post(`/v1/schedules/${s.id}/pause`)).json().paused, true);
    assert.equal((await get('/v1/schedules?paused=true')).json().schedules.length, 1);
    assert.equal((await post(`/v1/schedules/${s.id}/resume`)).json().paused, false);
    const deleted = await h.app.inject({
      method: 'DELETE',
      url: `/v1/schedules/${s.id}`,
      headers: h.auth(),
    });
    assert.equal(deleted.statusCode, 204);
    assert.equal((await get(`/v1/schedules/${s.id}`)).statusCode, 404);
  });

  test('scopes: a read token reads but cannot create, trigger or backfill', async () => {
    assert.equal((await post('/v1/schedules', daily('ro'), h.tokens.read)).statusCode, 403);
    assert.equal((await get('/v1/schedules', h.tokens.read)).statusCode, 200);
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/schedules' })).statusCode, 401);
  });
});

describe('ticks, dates and backfill', () => {
  test('each tick resolves the branch to the commit of that moment and records it', async () => {
    clock.set('2026-04-01T00:00:00Z');
    const s = (await post('/v1/schedules', daily('commits'))).json();
    await advance('2026-04-02T00:00:05Z');
    const firstSha = h.sha;
    // The first run finishes (max active runs is 1), then the branch moves.
    const [firstRun] = (await h.store.listRuns({ labels: { 'nes/schedule': s.id }, limit: 5 }))
      .runs;
    await finish(sqlStore, firstRun, 'succeeded');
    const newSha = await h.git.commit({
      'nb/params.ipynb': notebookText([
        { source: 'alpha = 0.5\nname = "world"\ncount = 3\nmode = "fast"', tags: ['parameters'] },
        'print(2)',
      ]),
    });
    await advance('2026-04-03T00:00:05Z');
    const dates = (
      await get(`/v1/schedules/${s.id}/dates?from=2026-04-01T00:00:00Z&to=2026-04-02T00:00:00Z`)
    ).json();
    assert.deepEqual(
      dates.dates.map((d: { commitSha: string; state: string }) => [d.commitSha, d.state]),
      [
        [firstSha, 'succeeded'],
        [newSha, 'running'],
      ],
    );
    const run = await h.store.getRun(dates.dates[0].runId);
    assert.deepEqual(run?.parameters, { name: 'day 2026-04-01', mode: '20260402T000000' });
    assert.equal(run?.ref, 'main');
    assert.equal(run?.commitSha, firstSha);
    await post(`/v1/schedules/${s.id}/pause`);
  });

  test('trigger now runs the latest ended date; a date under way is a 409', async () => {
    clock.set('2026-04-01T00:00:00Z');
    const s = (await post('/v1/schedules', daily('manual', { paused: true }))).json();
    clock.set('2026-04-05T12:00:00Z');
    const res = await post(`/v1/schedules/${s.id}/trigger`, {});
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().logicalDate, '2026-04-04T00:00:00.000Z');
    assert.equal(res.json().trigger, 'manual');
    await ticker.pass();
    const again = await post(`/v1/schedules/${s.id}/trigger`, {
      logicalDate: '2026-04-04T00:00:00Z',
    });
    assert.equal(again.statusCode, 409);
    const odd = await post(`/v1/schedules/${s.id}/trigger`, {
      logicalDate: '2026-04-04T03:00:00Z',
    });
    assert.equal(odd.statusCode, 400);
    assert.match(
      odd.json().error.message,
      /not a logical date .* nearest after it is 2026-04-05T00:00:00.000Z/,
    );
    const dates = (await get(`/v1/schedules/${s.id}/dates`)).json();
    // Paused from the start: only the triggered date ran; the others are missing.
    assert.deepEqual(
      dates.dates.map((d: { logicalDate: string; state: string }) => [
        d.logicalDate.slice(0, 10),
        d.state,
      ]),
      [
        ['2026-04-01', 'missing'],
        ['2026-04-02', 'missing'],
        ['2026-04-03', 'missing'],
        ['2026-04-04', 'running'],
      ],
    );
  });

  test('backfill of gaps: one sweep, only what is missing or invalidated, idempotent, cancellable', async () => {
    clock.set('2026-05-01T00:00:00Z');
    const s = (
      await post(
        '/v1/schedules',
        daily('backfilled', { startDate: '2026-05-01T00:00:00Z', catchup: 'none' }),
      )
    ).json();
    const runOf = async (day: string) => {
      const d = (await get(`/v1/schedules/${s.id}/dates?from=${day}&to=${day}`)).json().dates[0];
      return h.store.getRun(d.runId);
    };
    // 1 and 2 May run (one succeeds, one fails), then it is paused: 3-10 May are missing.
    await advance('2026-05-02T00:00:05Z');
    await finish(sqlStore, await runOf('2026-05-01T00:00:00Z'), 'succeeded');
    await advance('2026-05-03T00:00:05Z');
    await finish(sqlStore, await runOf('2026-05-02T00:00:00Z'), 'failed');
    await post(`/v1/schedules/${s.id}/pause`);
    clock.set('2026-05-11T00:00:05Z');
    const inv = await post(`/v1/schedules/${s.id}/invalidate`, {
      from: '2026-05-01T00:00:00Z',
      to: '2026-05-01T00:00:00Z',
    });
    assert.deepEqual(inv.json().invalidated, ['2026-05-01T00:00:00.000Z']);

    const body = {
      from: '2026-05-01T00:00:00Z',
      to: '2026-05-06T00:00:00Z',
      only: 'gaps',
      maxConcurrency: 2,
    };
    const first = await post(`/v1/schedules/${s.id}/backfill`, body);
    assert.equal(first.statusCode, 201, first.body);
    const fill = first.json();
    assert.deepEqual(
      fill.started.map((d: string) => d.slice(0, 10)),
      ['2026-05-01', '2026-05-03', '2026-05-04', '2026-05-05', '2026-05-06'],
    );
    assert.deepEqual(fill.skipped, [{ logicalDate: '2026-05-02T00:00:00.000Z', state: 'failed' }]);
    assert.deepEqual(limits.at(-1), [fill.sweepId, 2]);
    const pending = (await get(`/v1/sweeps/${fill.sweepId}`)).json();
    assert.equal(pending.pendingDates, 5);
    assert.equal(pending.status, 'queued');

    // Repeated: nothing new (every date is under way).
    const repeat = await post(`/v1/schedules/${s.id}/backfill`, body);
    assert.equal(repeat.statusCode, 200);
    assert.deepEqual(repeat.json().started, []);
    assert.equal(repeat.json().sweepId, null);

    await ticker.pass(); // paused schedule, but a backfill is a person's request: it runs
    const sweep = (await get(`/v1/sweeps/${fill.sweepId}`)).json();
    assert.equal(sweep.total, 5);
    assert.equal(sweep.pendingDates, 0);
    assert.ok(
      sweep.runs.every(
        (r: { labels: Record<string, string> }) => r.labels['nes/trigger'] === 'backfill',
      ),
    );
    assert.ok(sweep.runs.every((r: { queue: string }) => r.queue === fill.sweepId));

    const cancelled = await post(`/v1/sweeps/${fill.sweepId}/cancel`);
    assert.equal(cancelled.statusCode, 200, cancelled.body);
    assert.equal(cancelled.json().status, 'cancelled');
    const afterCancel = (
      await get(`/v1/schedules/${s.id}/dates?from=2026-05-01T00:00:00Z&to=2026-05-06T00:00:00Z`)
    ).json();
    assert.deepEqual(
      afterCancel.dates.map((d: { state: string }) => d.state),
      ['cancelled', 'failed', 'cancelled', 'cancelled', 'cancelled', 'cancelled'],
    );
    // Failed ones on request: the failed and the cancelled dates, as a new sweep.
    const failed = await post(`/v1/schedules/${s.id}/backfill`, { ...body, only: 'failed' });
    assert.equal(failed.json().started.length, 6);
    const all = await post(`/v1/schedules/${s.id}/backfill`, { ...body, only: 'all' });
    assert.deepEqual(all.json().started, [], 'dates under way are never started twice');
    const backwards = await post(`/v1/schedules/${s.id}/backfill`, {
      ...body,
      from: body.to,
      to: body.from,
    });
    assert.equal(backwards.statusCode, 400);
    // Dates before the start date are none of the schedule's: only 7-10 May are new here.
    const wide = await post(`/v1/schedules/${s.id}/backfill`, {
      ...body,
      from: '2020-01-01T00:00:00Z',
      to: '2026-05-10T00:00:00Z',
    });
    assert.deepEqual(
      wide.json().started.map((d: string) => d.slice(0, 10)),
      ['2026-05-07', '2026-05-08', '2026-05-09', '2026-05-10'],
    );
  });
});

/**
 * `nes schedule ...` spawned for real against the real API (listening on an ephemeral port, a
 * PGlite store, the GitHub test server's repository, a ticker on a fake clock): create, list,
 * get, trigger, dates, backfill, invalidate, pause, delete, and a refused cron named clearly.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { resolveSource } from '@nes/sources';
import type { SqlRunStore } from '../src/db/index.ts';
import { startTicker } from '../src/schedules/service-wiring.ts';
import type { Ticker } from '../src/schedules/ticker.ts';
import { type Harness, startHarness } from './api-harness.ts';
import { FakeClock } from './schedule-support.ts';

const BIN = fileURLToPath(new URL('../../../packages/cli/bin/nes.ts', import.meta.url));
const clock = new FakeClock('2026-03-10T12:00:00Z');
let h: Harness;
let ticker: Ticker;
let url: string;

before(async () => {
  h = await startHarness({
    services: ({ store, scheduler, bus, artifacts }) => {
      const wired = startTicker({
        db: (store as SqlRunStore).db,
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
  url = await h.app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await ticker?.stop();
  await h?.close();
});

function nes(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, NES_URL: url, NES_TOKEN: h.tokens.submit },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('nes schedule: create, list, trigger, dates, backfill, invalidate, pause, delete', async () => {
  const created = await nes([
    'schedule',
    'create',
    'cli-daily',
    'github://acme/notebooks/nb/params.ipynb',
    '--cron',
    '0 6 * * *',
    '--tz',
    'Asia/Seoul',
    '--ref',
    'main',
    '--start',
    '2026-03-01',
    '--catchup',
    'none',
    '-p',
    'name',
    'day {{ ds }}',
    '--label',
    'team=cli',
    '--sla',
    '86400',
    '--json',
  ]);
  assert.equal(created.code, 0, created.stderr);
  const s = JSON.parse(created.stdout);
  assert.equal(s.timezone, 'Asia/Seoul');
  assert.deepEqual(s.parameters, { name: 'day {{ ds }}' });
  assert.equal(s.freshnessSlaSeconds, 86400);

  const bad = await nes([
    'schedule',
    'create',
    'cli-bad',
    'github://acme/notebooks/nb/params.ipynb',
    '--cron',
    '0 6 * *',
  ]);
  assert.equal(bad.code === 0, false);
  assert.match(bad.stderr, /five fields/);

  const list = await nes(['schedule', 'list']);
  assert.match(list.stdout, /cli-daily\s+0 6 \* \* \*\s+Asia\/Seoul/);

  const trigger = await nes(['schedule', 'trigger', 'cli-daily', '--json']);
  assert.equal(trigger.code, 0, trigger.stderr);
  // 06:00 in Seoul is 21:00 UTC the day before: the latest interval ended at 10 March 21:00 UTC.
  assert.equal(JSON.parse(trigger.stdout).logicalDate, '2026-03-08T21:00:00.000Z');
  await ticker.pass();

  const backfill = await nes([
    'schedule',
    'backfill',
    'cli-daily',
    '--from',
    '2026-03-01',
    '--to',
    '2026-03-08',
    '--only',
    'gaps',
    '--concurrency',
    '2',
    '--json',
  ]);
  assert.equal(backfill.code, 0, backfill.stderr);
  const fill = JSON.parse(backfill.stdout);
  // 06:00 Seoul from 1 to 7 March (21:00 UTC the day before is before the start date).
  assert.deepEqual(
    fill.started.map((d: string) => d.slice(0, 13)),
    ['01', '02', '03', '04', '05', '06', '07'].map((d) => `2026-03-${d}T21`),
  );
  assert.deepEqual(fill.skipped, []);
  await ticker.pass();

  const dates = await nes([
    'schedule',
    'dates',
    'cli-daily',
    '--from',
    '2026-03-01',
    '--to',
    '2026-03-09',
  ]);
  assert.equal(dates.code, 0, dates.stderr);
  assert.equal((dates.stdout.match(/ running /g) ?? []).length, 8, dates.stdout);

  const again = await nes([
    'schedule',
    'backfill',
    'cli-daily',
    '--from',
    '2026-03-01',
    '--to',
    '2026-03-08',
  ]);
  assert.match(again.stderr, /nothing to run/);

  const paused = await nes(['schedule', 'pause', 'cli-daily']);
  assert.match(paused.stdout, /cli-daily \(sch_[^)]+\) paused/);
  const deleted = await nes(['schedule', 'delete', 'cli-daily']);
  assert.equal(deleted.code, 0, deleted.stderr);
  const gone = await nes(['schedule', 'get', 'cli-daily']);
  assert.notEqual(gone.code, 0);
  assert.match(gone.stderr, /not found|no schedule|404/i);
});

/**
 * Schedules at scale on the embedded database: N schedules firing every minute, the ticker
 * driven through simulated minutes by a fake clock, and the API answering over real HTTP
 * meanwhile.
 *
 *   node bench/schedules.bench.ts [--schedules N] [--minutes M] [--batch B] [--database-share S]
 *                                 [--keep-queued] [--no-write]
 *
 * N schedules (default 1000) with `* * * * *`; M simulated minutes (default 60; 1440 is a day).
 * Each simulated minute the clock moves to the next minute and one ticker pass runs (the pass a
 * replica runs each second), the service's own ticker wiring (run creation, events, the run
 * scheduler's wake-up) with a stand-in run scheduler. Between passes a stand-in executor
 * finishes the runs of the previous minute (one statement per 100 runs), as runs that take less
 * than a minute would; --keep-queued leaves them queued instead (a day then piles up 1.44 M
 * queued runs, which no real deployment has). Measured:
 * - tick lag: for every run, the wall time from the start of the pass in which its date fell due
 *   to the moment its run was stored (everything a real minute would see: the tick, claims,
 *   resolving the notebook, rendering, the run insert); p50, p99, max, and the p99 of the last
 *   tenth of the minutes against the first tenth (the database holds the day's runs by then);
 * - API latency: GET /v1/runs?limit=20 and GET /v1/schedules/{id} over HTTP, one request every
 *   50 ms: with the ticker idle before the day (the anchor), during passes, and idle again after
 *   the day (the same requests on a database holding the day's runs); p50 and p99, and ratios.
 * Runs are not executed (no kernels): this measures the schedule machinery, not notebooks.
 * Writes its section of bench/RESULTS.md unless --no-write.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { resolveSource } from '@nes/sources';
import { LocalStore } from '@nes/stores/local';
import { buildApp } from '../services/nes-api/src/app.ts';
import { loadConfig } from '../services/nes-api/src/config.ts';
import { createRunStore } from '../services/nes-api/src/db/index.ts';
import { RunEventBus } from '../services/nes-api/src/events-bus.ts';
import {
  SCHEDULE_DEFAULTS,
  type ScheduleSpec,
} from '../services/nes-api/src/schedules/schedule-model.ts';
import { startTicker } from '../services/nes-api/src/schedules/service-wiring.ts';
import { initialPosition } from '../services/nes-api/src/schedules/tick-plan.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '60' },
    batch: { type: 'string', default: '50' },
    'database-share': { type: 'string' },
    'keep-queued': { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
  },
});
const N = Number(values.schedules);
const MINUTES = Number(values.minutes);
const BATCH = Number(values.batch);
/** The ticker's share of the database's time; default: the ticker's own default. */
const SHARE = values['database-share'] === undefined ? undefined : Number(values['database-share']);
const FINISH = !values['keep-queued'];
const TOKEN = 'nes_bench_schedules_token_0123456789';

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}
const ms = (v: number) => `${v.toFixed(1)} ms`;

async function main(): Promise<void> {
  mkdirSync(join(ROOT, 'bench/.work'), { recursive: true });
  const work = mkdtempSync(join(ROOT, 'bench/.work/schedules-'));
  const loadStart = loadavg()[0] ?? 0;
  try {
    const nbDir = join(work, 'nb');
    mkdirSync(nbDir);
    const notebook = join(nbDir, 'daily.ipynb');
    writeFileSync(
      notebook,
      JSON.stringify({
        cells: [
          {
            cell_type: 'code',
            id: 'p',
            metadata: { tags: ['parameters'] },
            execution_count: null,
            outputs: [],
            source: 'ds = "x"',
          },
        ],
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
        nbformat: 4,
        nbformat_minor: 5,
      }),
    );
    const store = await createRunStore({ dataDir: join(work, 'data') });
    let now = new Date('2026-01-01T00:00:00Z');
    let passStart = 0;
    const lags: number[] = [];
    /** Each run's tick lag by the simulated minute it belongs to (does the lag grow over the day?). */
    const lagsByMinute: number[][] = [];
    let minute = 0;
    /** Runs stored and not yet finished by the stand-in executor. */
    let unfinished: string[] = [];
    const scheduler = {
      submitted(run: { id: string }) {
        const lag = performance.now() - passStart;
        lags.push(lag);
        const ofMinute = lagsByMinute[minute] ?? [];
        ofMinute.push(lag);
        lagsByMinute[minute] = ofMinute;
        unfinished.push(run.id);
      },
      cancel: async (id: string) => store.getRun(id),
      kernels: async () => ['python3'],
    };
    const bus = new RunEventBus();
    const artifacts = new LocalStore(join(work, 'store'));
    const { ticker, services } = startTicker({
      db: store.db,
      store,
      scheduler,
      bus,
      artifacts,
      sourceOptions: { localRoots: [nbDir] },
      resolve: (nb, options) => resolveSource(nb, options),
      options: {
        clock: () => now,
        batch: BATCH,
        intervalMs: 3_600_000,
        ...(SHARE === undefined ? {} : { databaseShare: SHARE }),
      },
      log: (level, message) => {
        if (level === 'error') process.stderr.write(`ticker: ${message}\n`);
      },
    });
    // Passes are run by hand, one per simulated minute.
    await ticker.stop();
    const schedules = services.store;
    const base: Omit<ScheduleSpec, 'name'> = {
      ...SCHEDULE_DEFAULTS,
      notebook,
      parameters: { ds: '{{ ts }}' },
      cron: '* * * * *',
      startDate: now.toISOString(),
      catchup: 'all',
      maxActiveRuns: 100_000,
    };
    let firstId = '';
    for (let i = 0; i < N; i++) {
      const spec = { ...base, name: `bench-${String(i).padStart(5, '0')}` };
      const s = await schedules.create(spec, initialPosition(spec), 'bench', now);
      if (i === 0) firstId = s.id;
    }

    const config = loadConfig({
      NES_DATA_DIR: join(work, 'data'),
      NES_PUBLIC_URL: 'http://nes.bench',
    });
    const app = await buildApp({
      config,
      store,
      services: {
        scheduler,
        bus,
        artifacts,
        sourceOptions: { localRoots: [nbDir] },
        schedules: services,
      },
    });
    await store.createToken('bench', ['admin'], { secret: TOKEN });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    let ticking = false;
    /** Samples until `until()`; each sample goes to `during` when a pass was running as it started. */
    const sample = async (
      until: () => boolean,
      during: number[] | null = null,
    ): Promise<number[]> => {
      const out: number[] = [];
      let i = 0;
      while (!until()) {
        const path = i++ % 2 === 0 ? '/v1/runs?limit=20' : `/v1/schedules/${firstId}`;
        const inPass = ticking;
        const t = performance.now();
        const res = await fetch(url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        (inPass && during !== null ? during : out).push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
      return out.sort((a, b) => a - b);
    };
    /** The stand-in executor: the runs stored so far end (succeeded), 100 per statement. */
    const finishRuns = async () => {
      const ids = unfinished;
      unfinished = [];
      for (let i = 0; i < ids.length; i += 100) {
        await store.db.idle();
        await store.db.query(
          `UPDATE runs SET status = 'succeeded', started_at = $2, finished_at = $2, updated_at = $2
           WHERE id IN (SELECT json_array_elements_text($1::json)) AND status = 'queued'`,
          [JSON.stringify(ids.slice(i, i + 100)), now.toISOString()],
        );
      }
    };

    // Warm-up (JIT, connections), not measured; then the anchor: the API with the ticker idle.
    const warmUntil = performance.now() + 2000;
    await sample(() => performance.now() > warmUntil);
    const idleUntil = performance.now() + 8000;
    const idle = await sample(() => performance.now() > idleUntil);

    let done = false;
    const busy: number[] = [];
    const betweenPromise = sample(() => done, busy);
    const started = performance.now();
    const passes: number[] = [];
    for (let m = 1; m <= MINUTES; m++) {
      minute = m;
      now = new Date(Date.parse('2026-01-01T00:00:00Z') + m * 60_000);
      passStart = performance.now();
      ticking = true;
      await ticker.pass();
      ticking = false;
      passes.push(performance.now() - passStart);
      if (FINISH) await finishRuns();
      if (m % 10 === 0) process.stderr.write(`minute ${m}/${MINUTES}: ${lags.length} runs\n`);
    }
    const wall = (performance.now() - started) / 1000;
    done = true;
    const between = await betweenPromise;
    busy.sort((a, b) => a - b);
    // The same requests on the database as the day left it.
    const afterUntil = performance.now() + 8000;
    const idleAfter = await sample(() => performance.now() > afterUntil);
    await app.close();
    await store.close();

    lags.sort((a, b) => a - b);
    // The first and the last tenth of the simulated minutes: the database grows in between.
    const tenth = Math.max(1, Math.floor(MINUTES / 10));
    const lagsOf = (from: number, to: number) =>
      lagsByMinute
        .slice(from, to + 1)
        .flat()
        .sort((a, b) => a - b);
    const early = lagsOf(1, tenth);
    const late = lagsOf(MINUTES - tenth + 1, MINUTES);
    passes.sort((a, b) => a - b);
    const expected = N * MINUTES;
    const ratio = (a: number, b: number) => (a / b).toFixed(2);
    const rows = [
      ['schedules x simulated minutes', `${N} x ${MINUTES}`, '', ''],
      ['runs created (expected)', `${lags.length} (${expected})`, '', ''],
      [
        'wall time / simulated minute',
        `${((wall / MINUTES) * 1000).toFixed(0)} ms`,
        '60000 ms',
        `${(wall / MINUTES / 60).toFixed(3)}`,
      ],
      ['pass duration p50', ms(percentile(passes, 50)), '', ''],
      ['pass duration p99', ms(percentile(passes, 99)), '', ''],
      ['tick lag p50', ms(percentile(lags, 50)), '', ''],
      ['tick lag p99', ms(percentile(lags, 99)), '', ''],
      ['tick lag max', ms(lags.at(-1) ?? Number.NaN), '', ''],
      [
        `tick lag p99, last ${tenth} vs first ${tenth} minutes`,
        ms(percentile(late, 99)),
        ms(percentile(early, 99)),
        ratio(percentile(late, 99), percentile(early, 99)),
      ],
      [
        'API GET p50 (during passes vs idle before)',
        ms(percentile(busy, 50)),
        ms(percentile(idle, 50)),
        ratio(percentile(busy, 50), percentile(idle, 50)),
      ],
      [
        'API GET p99 (during passes vs idle before)',
        ms(percentile(busy, 99)),
        ms(percentile(idle, 99)),
        ratio(percentile(busy, 99), percentile(idle, 99)),
      ],
      [
        'API GET p50 (during passes vs idle after the day)',
        ms(percentile(busy, 50)),
        ms(percentile(idleAfter, 50)),
        ratio(percentile(busy, 50), percentile(idleAfter, 50)),
      ],
      [
        'API GET p99 (during passes vs idle after the day)',
        ms(percentile(busy, 99)),
        ms(percentile(idleAfter, 99)),
        ratio(percentile(busy, 99), percentile(idleAfter, 99)),
      ],
      ['API GET p99 between passes (executor stand-in)', ms(percentile(between, 99)), '', ''],
      [
        'API requests (during passes / idle before / between / idle after)',
        `${busy.length} / ${idle.length} / ${between.length} / ${idleAfter.length}`,
        '',
        '',
      ],
    ];
    const table = [
      '| measure | NES | anchor | ratio |',
      '| --- | --- | --- | --- |',
      ...rows.map((r) => `| ${r.join(' | ')} |`),
    ].join('\n');
    const loadEnd = loadavg()[0] ?? 0;
    process.stdout.write(
      `${table}\n\nload average (1 min): ${loadStart.toFixed(1)} at start, ${loadEnd.toFixed(1)} at end\n`,
    );
    if (lags.length !== expected)
      process.stdout.write(`MISMATCH: ${lags.length} runs for ${expected} dates\n`);
    if (!values['no-write']) {
      const cpu = cpus();
      writeBenchSection(
        join(ROOT, 'bench/RESULTS.md'),
        'schedules',
        `## Schedules benchmark (bench/schedules.bench.ts --schedules ${N} --minutes ${MINUTES})

Measured on ${new Date().toISOString().slice(0, 10)}: ${cpu.length} CPU(s), ${cpu[0]?.model ?? 'unknown model'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}; load average ${loadStart.toFixed(1)} at start, ${loadEnd.toFixed(1)} at end (the machine was shared).
Embedded database (PGlite), one ticker (the service's wiring, batches of ${BATCH}${SHARE === undefined ? '' : `, database share ${SHARE}`}), a fake clock
moved one minute per pass, runs stored but not executed; ${FINISH ? "between passes a stand-in executor marks the minute's runs succeeded" : 'runs stay queued (--keep-queued)'}. Tick lag: from the start of the pass in which a date fell due to its run being
stored. "wall time / simulated minute" against the real minute it stands for: below 1 means the
ticker keeps up. The API anchor is the same requests with the ticker idle.

${table}
`,
      );
      process.stderr.write('wrote bench/RESULTS.md\n');
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

await main();

/**
 * Schedules at scale on the embedded database: N schedules firing every minute, the ticker
 * driven through simulated minutes by a fake clock, and the API answering over real HTTP
 * meanwhile.
 *
 *   node bench/schedules.bench.ts [--schedules N] [--minutes M] [--no-write]
 *
 * N schedules (default 1000) with `* * * * *`; M simulated minutes (default 60; 1440 is a day).
 * Each simulated minute the clock moves to the next minute and one ticker pass runs (the pass a
 * replica runs each second). Measured:
 * - tick lag: for every run, the wall time from the start of the pass in which its date fell due
 *   to the moment its run was stored (everything a real minute would see: the tick, claims,
 *   resolving the notebook, rendering, the run insert); p50, p99, max;
 * - API latency: GET /v1/runs?limit=20 and GET /v1/schedules/{id} over HTTP, one request every
 *   50 ms, first with the ticker idle (the anchor), then while it ticks; p50 and p99, and the ratio.
 * Runs are not executed (no executor): this measures the schedule machinery, not notebooks.
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
import { ScheduleStore } from '../services/nes-api/src/schedules/schedule-store.ts';
import { initialPosition } from '../services/nes-api/src/schedules/tick-plan.ts';
import { Ticker } from '../services/nes-api/src/schedules/ticker.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    schedules: { type: 'string', default: '1000' },
    minutes: { type: 'string', default: '60' },
    'no-write': { type: 'boolean', default: false },
  },
});
const N = Number(values.schedules);
const MINUTES = Number(values.minutes);
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
    const schedules = new ScheduleStore(store.db);
    let now = new Date('2026-01-01T00:00:00Z');
    let passStart = 0;
    const lags: number[] = [];
    const ticker = new Ticker({
      schedules,
      async submit(spec, key) {
        const { run } = await store.createRun(spec, key);
        lags.push(performance.now() - passStart);
        return run;
      },
      cancel: async () => undefined,
      resolve: (nb, ref) => resolveSource(nb, { localRoots: [nbDir], ref: ref ?? undefined }),
      objectExists: async () => false,
      clock: () => now,
      batch: 200,
    });
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
        scheduler: {
          submitted: () => {},
          cancel: async (id) => store.getRun(id),
          kernels: async () => ['python3'],
        },
        bus: new RunEventBus(),
        artifacts: new LocalStore(join(work, 'store')),
        sourceOptions: { localRoots: [nbDir] },
        schedules: { store: schedules, wake: () => {}, clock: () => now },
      },
    });
    await store.createToken('bench', ['admin'], { secret: TOKEN });
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    const sample = async (until: () => boolean): Promise<number[]> => {
      const out: number[] = [];
      let i = 0;
      while (!until()) {
        const path = i++ % 2 === 0 ? '/v1/runs?limit=20' : `/v1/schedules/${firstId}`;
        const t = performance.now();
        const res = await fetch(url + path, { headers: { authorization: `Bearer ${TOKEN}` } });
        await res.arrayBuffer();
        if (!res.ok) throw new Error(`${path}: ${res.status}`);
        out.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 50));
      }
      return out.sort((a, b) => a - b);
    };

    // The anchor: the API with the ticker idle (a few seconds of requests).
    const idleUntil = performance.now() + 8000;
    const idle = await sample(() => performance.now() > idleUntil);

    let done = false;
    const busyPromise = sample(() => done);
    const started = performance.now();
    const passes: number[] = [];
    for (let m = 1; m <= MINUTES; m++) {
      now = new Date(Date.parse('2026-01-01T00:00:00Z') + m * 60_000);
      passStart = performance.now();
      await ticker.pass();
      passes.push(performance.now() - passStart);
      if (m % 10 === 0) process.stderr.write(`minute ${m}/${MINUTES}: ${lags.length} runs\n`);
    }
    const wall = (performance.now() - started) / 1000;
    done = true;
    const busy = await busyPromise;
    await app.close();
    await store.close();

    lags.sort((a, b) => a - b);
    passes.sort((a, b) => a - b);
    const expected = N * MINUTES;
    const rows = [
      ['schedules x simulated minutes', `${N} x ${MINUTES}`, '', ''],
      ['runs created (expected)', `${lags.length} (${expected})`, '', ''],
      [
        'wall time / simulated minute',
        `${((wall / MINUTES) * 1000).toFixed(0)} ms`,
        '60000 ms',
        `${(wall / MINUTES / 60).toFixed(3)}`,
      ],
      ['tick lag p50', ms(percentile(lags, 50)), '', ''],
      ['tick lag p99', ms(percentile(lags, 99)), '', ''],
      ['tick lag max', ms(lags.at(-1) ?? Number.NaN), '', ''],
      ['pass duration p99', ms(percentile(passes, 99)), '', ''],
      [
        'API GET p50 (ticking vs idle)',
        ms(percentile(busy, 50)),
        ms(percentile(idle, 50)),
        (percentile(busy, 50) / percentile(idle, 50)).toFixed(2),
      ],
      [
        'API GET p99 (ticking vs idle)',
        ms(percentile(busy, 99)),
        ms(percentile(idle, 99)),
        (percentile(busy, 99) / percentile(idle, 99)).toFixed(2),
      ],
      ['API requests (ticking / idle)', `${busy.length}`, `${idle.length}`, ''],
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
Embedded database (PGlite), one ticker, a fake clock moved one minute per pass, runs stored but
not executed. Tick lag: from the start of the pass in which a date fell due to its run being
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

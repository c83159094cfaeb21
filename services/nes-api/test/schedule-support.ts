/**
 * What the schedule tests share: a ticker on a real run store (PGlite or PostgreSQL) that reads
 * a real local notebook through @nes/sources, driven by a fake clock.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveSource } from '@nes/sources';
import type { SqlRunStore } from '../src/db/index.ts';
import type { Run, RunStatus } from '../src/runs/run-model.ts';
import { SCHEDULE_DEFAULTS, type ScheduleSpec } from '../src/schedules/schedule-model.ts';
import { ScheduleStore } from '../src/schedules/schedule-store.ts';
import { initialPosition } from '../src/schedules/tick-plan.ts';
import { type FreshnessEvent, Ticker, type TickerOptions } from '../src/schedules/ticker.ts';
import { notebookText } from './api-harness.ts';

export class FakeClock {
  now: Date;
  constructor(iso: string) {
    this.now = new Date(iso);
  }
  set(iso: string | Date): void {
    this.now = new Date(iso);
  }
  advance(ms: number): void {
    this.now = new Date(this.now.getTime() + ms);
  }
  readonly read = () => this.now;
}

export async function notebookRoot(): Promise<{
  dir: string;
  notebook: string;
  dispose(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'nes-schedules-'));
  await mkdir(join(dir, 'nb'), { recursive: true });
  const notebook = join(dir, 'nb', 'daily.ipynb');
  await writeFile(
    notebook,
    notebookText([
      { source: 'ds = "x"\nstart = "x"\nend = "x"', tags: ['parameters'] },
      'print(ds)',
    ]),
  );
  return { dir, notebook, dispose: () => rm(dir, { recursive: true, force: true }) };
}

export function scheduleSpec(
  overrides: Partial<ScheduleSpec> & { notebook: string },
): ScheduleSpec {
  return {
    ...SCHEDULE_DEFAULTS,
    name: `s-${Math.random().toString(36).slice(2, 10)}`,
    parameters: {
      ds: '{{ ds }}',
      start: '{{ data_interval_start }}',
      end: '{{ data_interval_end }}',
    },
    cron: '0 0 * * *',
    startDate: '2026-01-01T00:00:00Z',
    catchup: 'all',
    maxActiveRuns: 1000,
    ...overrides,
  };
}

export async function createSchedule(schedules: ScheduleStore, spec: ScheduleSpec, now: Date) {
  return schedules.create(spec, initialPosition(spec), 'test', now);
}

export function tickerOn(
  store: SqlRunStore,
  clock: FakeClock,
  dir: string,
  options: Partial<TickerOptions> = {},
): { ticker: Ticker; schedules: ScheduleStore; events: FreshnessEvent[] } {
  const schedules = new ScheduleStore(store.db);
  const events: FreshnessEvent[] = [];
  const ticker = new Ticker({
    schedules,
    submit: async (items) => (await store.createRuns(items)).map((r) => r.run),
    cancel: async (id) =>
      store.transition(id, 'cancelled', { finishedAt: clock.now.toISOString() }),
    resolve: (notebook, ref) =>
      resolveSource(notebook, { localRoots: [dir], ref: ref ?? undefined }),
    objectExists: async () => false,
    freshness: (event) => {
      events.push(event);
    },
    clock: clock.read,
    freshnessEveryMs: 0,
    ...options,
  });
  return { ticker, schedules, events };
}

/** Moves the clock to `until` in steps, one ticker pass per step. */
export async function runUntil(
  tickers: Ticker[],
  clock: FakeClock,
  until: string,
  stepMs: number,
): Promise<void> {
  const end = new Date(until).getTime();
  while (clock.now.getTime() < end) {
    clock.advance(Math.min(stepMs, end - clock.now.getTime()));
    await Promise.all(tickers.map((t) => t.pass()));
  }
}

/** Finishes a run as the scheduler would. */
export async function finish(
  store: SqlRunStore,
  run: Run | null | undefined,
  status: RunStatus,
): Promise<void> {
  if (run === null || run === undefined) throw new Error('no run to finish');
  await store.transition(run.id, 'starting');
  await store.transition(run.id, 'running', { startedAt: new Date().toISOString() });
  await store.transition(run.id, status, { finishedAt: new Date().toISOString() });
}

export async function scheduleRuns(store: SqlRunStore, scheduleId: string): Promise<Run[]> {
  const runs: Run[] = [];
  let cursor: string | undefined;
  do {
    const page = await store.listRuns({
      labels: { 'nes/schedule': scheduleId },
      limit: 500,
      ...(cursor === undefined ? {} : { cursor }),
    });
    runs.push(...page.runs);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return runs.reverse();
}

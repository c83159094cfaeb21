/**
 * The ticker: every replica runs one, and together they create exactly one run per schedule and
 * logical date. Each pass (every `intervalMs`, or at once when woken):
 *
 * 1. tick: under the ticker's advisory lock, due schedules are locked and their dates inserted
 *    by the catch-up policy (tick-plan.ts); the unique (schedule, logical date) key makes a
 *    date once even if two passes overlapped.
 * 2. dispatch: pending and waiting dates are claimed with a lease; each is checked against the
 *    schedule's max active runs and preconditions, its notebook resolved at the ref (so the
 *    commit of that moment is recorded), its parameters rendered, and its run created with an
 *    idempotency key of schedule, logical date and attempt, so a replica that takes over an
 *    expired claim finds the same run instead of making a second.
 * 3. freshness: schedules with an SLA are compared with their latest succeeded date; a change
 *    between fresh and stale is an event.
 *
 * Time comes only from `clock`, so tests run years of ticks in seconds.
 */
import { createHash } from 'node:crypto';
import { notebookKernelName } from '@nes/notebook';
import type { ResolvedSource } from '@nes/sources';
import type { Run, RunSpec } from '../runs/run-model.ts';
import type { IdempotentCreate } from '../runs/run-store.ts';
import { CronClock } from './cron.ts';
import { type PreconditionContext, unmetPrecondition } from './preconditions.ts';
import type { Schedule, ScheduleDate } from './schedule-model.ts';
import type { ScheduleStore } from './schedule-store.ts';
import { renderParameters, type TemplateDates } from './template.ts';
import { planTick } from './tick-plan.ts';

/** A schedule fell behind its freshness SLA, or caught up again. */
export interface FreshnessEvent {
  type: 'schedule.stale' | 'schedule.fresh';
  scheduleId: string;
  scheduleName: string;
  /** The oldest logical date that is due and has not succeeded (stale), else null. */
  expectedLogicalDate: string | null;
  latestSucceededLogicalDate: string | null;
  /** How long past its due time the expected date is. */
  lateSeconds: number;
  slaSeconds: number;
  at: string;
}

/** Where freshness events go (the notifications outbox when there is one). */
export type FreshnessSink = (event: FreshnessEvent) => Promise<void> | void;

export interface TickerOptions {
  schedules: ScheduleStore;
  /** Creates the run (idempotent on the key), publishes it and wakes the run scheduler. */
  submit(spec: RunSpec, idempotency: IdempotentCreate): Promise<Run>;
  /** Cancels a run created for a date that was cancelled meanwhile. */
  cancel(runId: string): Promise<unknown>;
  /** Reads the notebook at a ref (resolving it to a commit). */
  resolve(notebook: string, ref: string | null): Promise<ResolvedSource>;
  /** Checks a rendered run before it is created (kernel, parameters); throws to refuse it. */
  check?(
    resolved: ResolvedSource,
    kernel: string,
    parameters: Record<string, unknown>,
  ): Promise<void>;
  objectExists: PreconditionContext['objectExists'];
  freshness?: FreshnessSink;
  clock?: () => Date;
  /** Pause between passes; default 1 s. */
  intervalMs?: number;
  /** How late a date may be created and still count as on time (catch-up `none`); default 5 min. */
  misfireGraceMs?: number;
  /** How long a claimed date is held by this replica; default 60 s. */
  leaseMs?: number;
  /** Dates dispatched per claim; default 50. */
  batch?: number;
  /** How often freshness is evaluated (clock time); default 30 s. */
  freshnessEveryMs?: number;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

interface PassResult {
  created: number;
  submitted: number;
  waiting: number;
  /** Whether this replica held the ticker lock. */
  ticked: boolean;
}

export class Ticker {
  readonly #o: Required<Omit<TickerOptions, 'check' | 'freshness'>> &
    Pick<TickerOptions, 'check' | 'freshness'>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<PassResult> | null = null;
  #stopped = true;
  #again = false;
  #lastFreshness = Number.NEGATIVE_INFINITY;

  constructor(options: TickerOptions) {
    this.#o = {
      clock: () => new Date(),
      intervalMs: 1000,
      misfireGraceMs: 5 * 60_000,
      leaseMs: 60_000,
      batch: 50,
      freshnessEveryMs: 30_000,
      log: () => {},
      ...options,
    };
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#schedule(0);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running?.catch(() => undefined);
  }

  /** Runs a pass soon (a schedule was created, a backfill requested). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#running !== null) this.#again = true;
    else this.#schedule(0);
  }

  #schedule(delay: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#timer = null;
      void this.pass()
        .catch((error: unknown) => this.#o.log('error', `schedule pass failed: ${String(error)}`))
        .finally(() => {
          if (this.#stopped) return;
          const again = this.#again;
          this.#again = false;
          this.#schedule(again ? 0 : this.#o.intervalMs);
        });
    }, delay);
    this.#timer.unref?.();
  }

  /** One pass: tick, dispatch, freshness. Passes of one ticker never overlap. */
  pass(): Promise<PassResult> {
    if (this.#running !== null) return this.#running.then(() => this.pass());
    this.#running = this.#pass().finally(() => {
      this.#running = null;
    });
    return this.#running;
  }

  async #pass(): Promise<PassResult> {
    const result: PassResult = { created: 0, submitted: 0, waiting: 0, ticked: false };
    const now = this.#o.clock();
    for (;;) {
      // Small transactions: on the embedded database a transaction holds the one connection, and
      // API requests wait for it.
      const tick = await this.#o.schedules.tick(now, 50, (s) =>
        planTick(s, now, this.#o.misfireGraceMs),
      );
      if (tick === null) break;
      result.ticked = true;
      result.created += tick.created.length;
      // A full batch may leave more due schedules (or an `all` catch-up more dates).
      if (tick.processed < 50) break;
    }
    const schedules = new Map<string, Schedule | null>();
    const active = new Map<string, number>();
    // One pass is one moment: a notebook at a ref is resolved once per pass, however many of its
    // dates (or schedules) are due in it.
    const resolved = new Map<string, Promise<ResolvedSource>>();
    for (;;) {
      const claimed = await this.#o.schedules.claimDates(now, this.#o.batch, this.#o.leaseMs);
      if (claimed.length === 0) break;
      let progressed = false;
      for (const date of claimed) {
        const outcome = await this.#dispatch(date, now, schedules, active, resolved).catch(
          async (error: unknown) => {
            this.#o.log(
              'error',
              `schedule ${date.scheduleId} ${date.logicalDate}: ${String(error)}`,
            );
            await this.#o.schedules.releaseDate(date, new Date(now.getTime() + this.#o.intervalMs));
            return 'deferred' as const;
          },
        );
        if (outcome === 'submitted') result.submitted++;
        if (outcome === 'waiting') result.waiting++;
        if (outcome !== 'deferred') progressed = true;
      }
      if (!progressed || claimed.length < this.#o.batch) break;
    }
    if (now.getTime() - this.#lastFreshness >= this.#o.freshnessEveryMs) {
      this.#lastFreshness = now.getTime();
      await this.#freshness(now);
    }
    return result;
  }

  async #dispatch(
    date: ScheduleDate,
    now: Date,
    schedules: Map<string, Schedule | null>,
    active: Map<string, number>,
    sources: Map<string, Promise<ResolvedSource>>,
  ): Promise<'submitted' | 'waiting' | 'deferred' | 'ended'> {
    const { schedules: store } = this.#o;
    let schedule = schedules.get(date.scheduleId);
    if (schedule === undefined) {
      schedule = await store.get(date.scheduleId);
      schedules.set(date.scheduleId, schedule);
    }
    if (schedule === null) return 'ended';
    const later = new Date(now.getTime() + this.#o.intervalMs);

    // Max active runs bounds the schedule's own ticks; a backfill has its sweep's limit, and a
    // person's manual trigger or a push fix is not held back.
    if (date.trigger === 'scheduled' || date.trigger === 'catchup') {
      let count = active.get(schedule.id);
      if (count === undefined) count = await store.countActive(schedule.id);
      if (count >= schedule.maxActiveRuns) {
        active.set(schedule.id, count);
        await store.releaseDate(date, later);
        return 'deferred';
      }
    }

    const dates: TemplateDates = {
      logicalDate: new Date(date.logicalDate),
      dataIntervalStart: new Date(date.logicalDate),
      dataIntervalEnd: new Date(date.dataIntervalEnd),
    };
    if (schedule.preconditions.length > 0) {
      const unmet = await unmetPrecondition(
        { schedules: store, objectExists: this.#o.objectExists },
        schedule,
        dates,
      );
      if (unmet !== null) {
        const since = date.waitingSince ?? now.toISOString();
        const waitedMs = now.getTime() - new Date(since).getTime();
        if (waitedMs >= schedule.preconditionTimeoutSeconds * 1000) {
          await store.settleDate(
            date,
            {
              phase: 'precondition_timed_out',
              waitingSince: since,
              lastError: `precondition not met after ${schedule.preconditionTimeoutSeconds} s: ${unmet}`,
            },
            now,
          );
          return 'ended';
        }
        await store.settleDate(
          date,
          {
            phase: 'waiting',
            waitingSince: since,
            lastError: unmet,
            nextCheckAt: new Date(
              now.getTime() + schedule.pokeIntervalSeconds * 1000,
            ).toISOString(),
          },
          now,
        );
        return 'waiting';
      }
    }

    let spec: RunSpec;
    try {
      const ref = date.refOverride ?? schedule.ref;
      const sourceKey = `${ref ?? ''}\u0000${schedule.notebook}`;
      let source = sources.get(sourceKey);
      if (source === undefined) {
        source = this.#o.resolve(schedule.notebook, ref);
        // A failure is the date's own outcome; the next date of this pass tries again.
        source.catch(() => sources.delete(sourceKey));
        sources.set(sourceKey, source);
      }
      const resolved = await source;
      const kernel = schedule.kernel ?? notebookKernelName(resolved.notebook);
      if (kernel === null || kernel === undefined)
        throw new Error('the notebook names no kernel and the schedule sets none');
      const parameters = renderParameters(schedule.parameters, dates);
      await this.#o.check?.(resolved, kernel, parameters);
      spec = runSpec(schedule, date, resolved, kernel, parameters);
    } catch (error) {
      await store.settleDate(
        date,
        { phase: 'failed_to_start', lastError: (error as Error).message ?? String(error) },
        now,
      );
      return 'ended';
    }
    const key = `nes-schedule/${schedule.id}/${date.logicalDate}/${date.attempt}`;
    const run = await this.#o.submit(spec, {
      key,
      requestHash: createHash('sha256').update(key).digest('hex'),
    });
    const settled = await store.settleDate(
      date,
      { phase: 'submitted', runId: run.id, commitSha: spec.commitSha, lastError: null },
      now,
    );
    if (!settled) {
      // The date was cancelled (a backfill cancelled as a whole) while its run was made.
      const current = await store.getDate(date.scheduleId, date.logicalDate);
      if (current?.runId !== run.id) await this.#o.cancel(run.id);
      return 'ended';
    }
    active.set(schedule.id, (active.get(schedule.id) ?? 0) + 1);
    return 'submitted';
  }

  async #freshness(now: Date): Promise<void> {
    const { schedules: store, freshness } = this.#o;
    for (const schedule of await store.withFreshnessSla()) {
      const sla = schedule.freshnessSlaSeconds ?? 0;
      const status = await freshnessOf(store, schedule, now);
      const state = status.lateSeconds > sla ? 'stale' : 'fresh';
      if (!(await store.setFreshness(schedule.id, state))) continue;
      const event: FreshnessEvent = {
        type: state === 'stale' ? 'schedule.stale' : 'schedule.fresh',
        scheduleId: schedule.id,
        scheduleName: schedule.name,
        expectedLogicalDate: status.expectedLogicalDate,
        latestSucceededLogicalDate: status.latestSucceededLogicalDate,
        lateSeconds: status.lateSeconds,
        slaSeconds: sla,
        at: now.toISOString(),
      };
      this.#o.log(
        state === 'stale' ? 'warn' : 'info',
        `schedule ${schedule.name} is ${state} (${status.lateSeconds} s late, SLA ${sla} s)`,
      );
      await Promise.resolve(freshness?.(event)).catch((error: unknown) =>
        this.#o.log('error', `freshness event for ${schedule.name}: ${String(error)}`),
      );
    }
  }
}

/**
 * How far behind a schedule is: the first logical date after its latest success (or its first
 * date) becomes due at its interval's end; once that has passed, the schedule is that late.
 */
async function freshnessOf(
  store: ScheduleStore,
  schedule: Schedule,
  now: Date,
): Promise<{
  expectedLogicalDate: string | null;
  latestSucceededLogicalDate: string | null;
  lateSeconds: number;
}> {
  const clock = new CronClock(schedule.cron, schedule.timezone);
  const latest = await store.latestSucceeded(schedule.id);
  const expected =
    latest === null
      ? clock.atOrAfter(new Date(schedule.startDate))
      : new Date(latest.dataIntervalEnd);
  const interval = expected === null ? null : clock.interval(expected);
  const ended =
    schedule.endDate !== null && expected !== null && expected > new Date(schedule.endDate);
  const late =
    interval === null || ended || interval.end > now
      ? 0
      : Math.floor((now.getTime() - interval.end.getTime()) / 1000);
  return {
    expectedLogicalDate: late > 0 && expected !== null ? expected.toISOString() : null,
    latestSucceededLogicalDate: latest?.logicalDate ?? null,
    lateSeconds: late,
  };
}

/** The labels every run of a schedule carries: which schedule, which date, why. */
const SCHEDULE_LABEL = 'nes/schedule';
const LOGICAL_DATE_LABEL = 'nes/logical-date';
const TRIGGER_LABEL = 'nes/trigger';

function runSpec(
  schedule: Schedule,
  date: ScheduleDate,
  resolved: ResolvedSource,
  kernel: string,
  parameters: Record<string, unknown>,
): RunSpec {
  const labels: Record<string, string> = {
    ...schedule.labels,
    [SCHEDULE_LABEL]: schedule.id,
    [LOGICAL_DATE_LABEL]: date.logicalDate,
    [TRIGGER_LABEL]: date.trigger,
    ...(schedule.createdBy === null ? {} : { 'nes/submitted-by': schedule.createdBy }),
    ...(date.sweepId === null ? {} : { 'nes/sweep': date.sweepId }),
  };
  return {
    notebook: schedule.notebook,
    ref: resolved.record.ref ?? date.refOverride ?? schedule.ref,
    commitSha: resolved.record.commitSha,
    parameters,
    kernel,
    labels,
    timeoutSeconds: schedule.timeoutSeconds,
    resources: schedule.resources,
    image: schedule.image,
    queue: date.sweepId ?? `schedule-${schedule.id}`,
    sweepId: date.sweepId,
  };
}

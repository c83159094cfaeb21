/**
 * The ticker: every replica runs one, and together they create exactly one run per schedule and
 * logical date. Each pass (every `intervalMs`, or at once when woken):
 *
 * 1. tick: due schedules are read, their dates planned by the catch-up policy (tick-plan.ts),
 *    and, under the ticker's advisory lock, each schedule's position moved only if it is still
 *    the one read, and its dates inserted; the unique (schedule, logical date) key makes a date
 *    once even if two passes overlapped. The new dates come back claimed by this replica.
 * 2. dispatch: those dates, then the other pending and waiting ones, claimed with a lease
 *    (backfills, triggers, pushes, preconditions, lapsed claims); each is checked against the
 *    schedule's max active runs and preconditions, its notebook resolved at the ref (so the
 *    commit of that moment is recorded), its parameters rendered, and its run created with an
 *    idempotency key of schedule, logical date and attempt, so a replica that takes over an
 *    expired claim finds the same run instead of making a second.
 * 3. freshness: schedules with an SLA are compared with their latest succeeded date; a change
 *    between fresh and stale is an event.
 *
 * Ticking and dispatch work in batches of `batch` schedules or dates, each a few statements (one
 * insert of the batch's dates, one of its runs, one update of its claims), never one per date: a
 * pass of 1,000 schedules is a few dozen statements. Before each statement the ticker waits for
 * the calls already queued at the database (Database.idle): on the embedded database, which
 * serves one call at a time, API requests go first and wait for at most one ticker statement.
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
import { dateKey, type ScheduleStore } from './schedule-store.ts';
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
  /**
   * Creates the runs (each idempotent on its key), publishes the new ones and wakes the run
   * scheduler; answers the runs in the order given.
   */
  submit(items: Array<{ spec: RunSpec; idempotency: IdempotentCreate }>): Promise<Run[]>;
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
  /** Schedules per tick step and dates per dispatch batch (one statement each); default 50. */
  batch?: number;
  /**
   * The most of the database's time a pass takes while it runs (0-1]: after each stretch of work
   * the ticker rests in proportion, so requests find the database free. Default 0.5 on the
   * embedded database (one connection for everything), 1 on PostgreSQL (a pool).
   */
  databaseShare?: number;
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
  /** When the ticker last handed the database back (performance.now()). */
  #workSince = 0;
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
      databaseShare: options.schedules.db.driver === 'pglite' ? 0.5 : 1,
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
    const { schedules: store, batch } = this.#o;
    const now = this.#o.clock();
    this.#workSince = performance.now();
    // One pass is one moment: a schedule is read once, its active runs counted once, and a
    // notebook at a ref resolved once per pass, however many of its dates are due in it.
    const pass: PassMemo = { schedules: new Map(), active: new Map(), sources: new Map() };
    for (;;) {
      await this.#yield();
      const tick = await store.tick(
        now,
        batch,
        (s) => planTick(s, now, this.#o.misfireGraceMs),
        this.#o.leaseMs,
        batch,
      );
      if (tick === null) break;
      result.ticked = true;
      result.created += tick.created.length;
      for (const schedule of tick.schedules) pass.schedules.set(schedule.id, schedule);
      // The new dates are claimed by this replica already: dispatched at once, in batches.
      for (let i = 0; i < tick.created.length; i += batch)
        await this.#dispatch(tick.created.slice(i, i + batch), now, pass, result);
      // A full batch may leave more due schedules (or an `all` catch-up more dates).
      if (!tick.more) break;
    }
    // Dates from elsewhere: backfills, manual triggers, pushes, waiting preconditions, and claims
    // another replica let lapse.
    for (;;) {
      await this.#yield();
      const claimed = await store.claimDates(now, batch, this.#o.leaseMs);
      if (claimed.length === 0) break;
      const progressed = await this.#dispatch(claimed, now, pass, result);
      if (!progressed || claimed.length < batch) break;
    }
    if (now.getTime() - this.#lastFreshness >= this.#o.freshnessEveryMs) {
      this.#lastFreshness = now.getTime();
      await this.#freshness(now);
    }
    return result;
  }

  /**
   * Before each statement: the ticker rests long enough for its work to stay within its share of
   * the time (databaseShare), then requests already waiting for the database go first.
   */
  async #yield(): Promise<void> {
    const share = Math.min(1, Math.max(0.01, this.#o.databaseShare));
    if (share < 1) {
      const worked = performance.now() - this.#workSince;
      const rest = Math.min(MAX_REST_MS, (worked * (1 - share)) / share);
      if (rest >= 1) await new Promise((resolve) => setTimeout(resolve, rest));
    }
    await this.#o.schedules.idle();
    this.#workSince = performance.now();
  }

  /** Dispatches one claimed batch; answers whether any date moved on (was not deferred). */
  async #dispatch(
    claimed: ScheduleDate[],
    now: Date,
    pass: PassMemo,
    result: PassResult,
  ): Promise<boolean> {
    const { schedules: store } = this.#o;
    const later = new Date(now.getTime() + this.#o.intervalMs);
    const unread = [...new Set(claimed.map((d) => d.scheduleId))].filter(
      (id) => !pass.schedules.has(id),
    );
    if (unread.length > 0) {
      const found = new Map((await store.getMany(unread)).map((s) => [s.id, s]));
      for (const id of unread) pass.schedules.set(id, found.get(id) ?? null);
    }
    const uncounted = [
      ...new Set(claimed.filter((d) => boundedByMaxActive(d)).map((d) => d.scheduleId)),
    ].filter((id) => !pass.active.has(id) && pass.schedules.get(id) != null);
    if (uncounted.length > 0) {
      for (const [id, n] of await store.countActiveMany(uncounted)) pass.active.set(id, n);
    }

    let progressed = false;
    const deferred: ScheduleDate[] = [];
    const ready: Array<{ date: ScheduleDate; spec: RunSpec }> = [];
    for (const date of claimed) {
      const outcome = await this.#prepare(date, now, pass).catch((error: unknown) => {
        this.#o.log('error', `schedule ${date.scheduleId} ${date.logicalDate}: ${String(error)}`);
        return 'deferred' as const;
      });
      if (outcome === 'deferred') deferred.push(date);
      else progressed = true;
      if (outcome === 'waiting') result.waiting++;
      if (typeof outcome === 'object') ready.push({ date, spec: outcome });
    }
    if (deferred.length > 0) await store.releaseDates(deferred, later);
    if (ready.length === 0) return progressed;

    let runs: Run[];
    try {
      await this.#yield();
      runs = await this.#o.submit(
        ready.map(({ date, spec }) => {
          const key = `nes-schedule/${date.scheduleId}/${date.logicalDate}/${date.attempt}`;
          return {
            spec,
            idempotency: { key, requestHash: createHash('sha256').update(key).digest('hex') },
          };
        }),
      );
    } catch (error) {
      // The keys make a retry find the runs that were made: the dates are looked at again soon.
      this.#o.log('error', `creating ${ready.length} scheduled runs: ${String(error)}`);
      await store.releaseDates(
        ready.map((r) => r.date),
        later,
      );
      return progressed;
    }
    await this.#yield();
    const settled = await store.settleSubmitted(
      ready.map(({ date, spec }, i) => ({
        date,
        runId: (runs[i] as Run).id,
        commitSha: spec.commitSha,
      })),
      now,
    );
    for (const [i, { date }] of ready.entries()) {
      const run = runs[i] as Run;
      if (settled.has(dateKey(date.scheduleId, date.logicalDate))) {
        result.submitted++;
        continue;
      }
      // The date was cancelled (a backfill cancelled as a whole) while its run was made.
      const current = await store.getDate(date.scheduleId, date.logicalDate);
      if (current?.runId !== run.id) await this.#o.cancel(run.id);
    }
    return true;
  }

  /**
   * Decides one claimed date: deferred (max active runs reached), waiting (a precondition does
   * not hold yet), ended (its precondition timed out, or its run cannot be made: recorded on the
   * date), or the run to create.
   */
  async #prepare(
    date: ScheduleDate,
    now: Date,
    pass: PassMemo,
  ): Promise<'waiting' | 'deferred' | 'ended' | RunSpec> {
    const { schedules: store } = this.#o;
    const schedule = pass.schedules.get(date.scheduleId);
    if (schedule == null) return 'ended';

    // A run this pass is about to make counts as active.
    if (boundedByMaxActive(date)) {
      const count = pass.active.get(schedule.id) ?? 0;
      if (count >= schedule.maxActiveRuns) return 'deferred';
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
      let source = pass.sources.get(sourceKey);
      if (source === undefined) {
        source = this.#o.resolve(schedule.notebook, ref);
        // A failure is the date's own outcome; the next date of this pass tries again.
        source.catch(() => pass.sources.delete(sourceKey));
        pass.sources.set(sourceKey, source);
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
    if (boundedByMaxActive(date))
      pass.active.set(schedule.id, (pass.active.get(schedule.id) ?? 0) + 1);
    return spec;
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
  const clock = CronClock.of(schedule.cron, schedule.timezone);
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

/** The longest rest between two statements of a pass (a slow statement must not stall it). */
const MAX_REST_MS = 100;

/** What one pass reads once and keeps (see #pass). */
interface PassMemo {
  schedules: Map<string, Schedule | null>;
  /** Active runs per schedule, counting the runs this pass is making. */
  active: Map<string, number>;
  sources: Map<string, Promise<ResolvedSource>>;
}

/**
 * Max active runs bounds the schedule's own ticks; a backfill has its sweep's limit, and a
 * person's manual trigger or a push fix is not held back.
 */
const boundedByMaxActive = (date: ScheduleDate) =>
  date.trigger === 'scheduled' || date.trigger === 'catchup';

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

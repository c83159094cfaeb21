/**
 * A schedule's clock: a five-field cron expression (or @hourly, @daily...) in an IANA time zone,
 * through croner. Data intervals follow Airflow's cron timetable: a logical date is a cron fire
 * time, its data interval runs to the next fire time, and its run is due at the interval's end.
 *
 * Daylight saving time is croner's: a fixed-time job (single minute and hour) whose time falls
 * in the spring-forward gap runs once at the first valid time after it, and once (the first
 * occurrence) when the fall-back hour repeats; interval jobs (`0 * * * *`) fire at every real
 * instant that matches, so an hourly schedule has 23 or 25 dates on those days, none lost and
 * none twice.
 */
import { Cron } from 'croner';

export interface DataInterval {
  /** The logical date: the interval's start. */
  start: Date;
  /** Exclusive end; the run is due then. */
  end: Date;
}

export class CronError extends Error {
  readonly code = 'invalid_cron';
}

const NICKNAMES = new Set(['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@hourly']);

export class CronClock {
  readonly expression: string;
  readonly timezone: string;
  readonly #cron: Cron;

  constructor(expression: string, timezone: string) {
    this.expression = expression.trim();
    this.timezone = timezone;
    checkTimezone(timezone);
    const fields = this.expression.split(/\s+/);
    if (!NICKNAMES.has(this.expression) && fields.length !== 5) {
      throw new CronError(
        `cron ${JSON.stringify(expression)}: expected five fields (minute hour day-of-month month day-of-week) or @hourly/@daily/@weekly/@monthly/@yearly`,
      );
    }
    try {
      this.#cron = new Cron(this.expression, { timezone, mode: '5-part', paused: true });
    } catch (error) {
      throw new CronError(`cron ${JSON.stringify(expression)}: ${(error as Error).message}`);
    }
    if (this.#cron.nextRun(new Date(0)) === null)
      throw new CronError(`cron ${JSON.stringify(expression)} never fires`);
  }

  /**
   * The clock of a schedule's cron and time zone, shared: a clock is immutable, and building one
   * (parsing, checking the zone) costs more than the ticker's whole plan for a schedule, which
   * it makes for every due schedule on every pass.
   */
  static of(expression: string, timezone: string): CronClock {
    const key = `${timezone}\u0000${expression}`;
    let clock = CLOCKS.get(key);
    if (clock === undefined) {
      clock = new CronClock(expression, timezone);
      if (CLOCKS.size >= CLOCKS_KEPT) CLOCKS.clear();
      CLOCKS.set(key, clock);
    }
    return clock;
  }

  /** The first fire time strictly after `after`, or null when there is none. */
  next(after: Date): Date | null {
    return this.#cron.nextRun(after);
  }

  /** The first fire time at or after `at`. */
  atOrAfter(at: Date): Date | null {
    return this.#cron.nextRun(new Date(at.getTime() - 1));
  }

  /** The last fire time at or before `at`, or null. */
  atOrBefore(at: Date): Date | null {
    return this.#cron.previousRuns(1, new Date(at.getTime() + 1))[0] ?? null;
  }

  /** The data interval that starts at the fire time `start`. */
  interval(start: Date): DataInterval | null {
    const end = this.next(start);
    return end === null ? null : { start, end };
  }

  /**
   * The interval a manual run gets when no date is given (Airflow's inferred manual interval):
   * the latest one that has ended at `now`.
   */
  latestEnded(now: Date): DataInterval | null {
    const end = this.atOrBefore(now);
    if (end === null) return null;
    const start = this.atOrBefore(new Date(end.getTime() - 1));
    return start === null ? null : { start, end };
  }
}

/** Clocks by time zone and cron (CronClock.of); emptied when full. */
const CLOCKS = new Map<string, CronClock>();
const CLOCKS_KEPT = 10_000;

/** Zones known to be valid: building a formatter to check one is slow. */
const KNOWN_ZONES = new Set<string>();

function checkTimezone(timezone: string): void {
  if (KNOWN_ZONES.has(timezone)) return;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    KNOWN_ZONES.add(timezone);
  } catch {
    throw new CronError(
      `unknown time zone ${JSON.stringify(timezone)} (an IANA name, e.g. Europe/Berlin)`,
    );
  }
}

/**
 * What a tick does for one due schedule, as a pure function of the schedule and the time: which
 * logical dates to create (by its catch-up policy) and where its cursor moves. The tick pass
 * (schedule-store.ts) applies it under the schedule's row lock.
 *
 * - all: every interval that has ended since the cursor, in order (at most MAX_PER_PASS per
 *   pass; the rest on the next pass), as Airflow's catchup=True.
 * - latest: only the latest ended interval, as Airflow's catchup=False.
 * - none: only an interval that ended within the misfire grace; what was missed stays missing
 *   (a backfill fills it on request).
 * A date is `scheduled` when created within the grace of its due time, else `catchup`.
 */
import { CronClock, type DataInterval } from './cron.ts';
import type { Schedule, ScheduleSpec } from './schedule-model.ts';
import type { TickPlan } from './schedule-store.ts';

export const MAX_PER_PASS = 500;

/** Where a new schedule's cursor starts: the first fire time at or after its start date. */
export function initialPosition(
  spec: Pick<ScheduleSpec, 'cron' | 'timezone' | 'startDate' | 'endDate'>,
  after: Date | null = null,
): { cursorDate: Date | null; nextDueAt: Date | null } {
  const clock = new CronClock(spec.cron, spec.timezone);
  const start = new Date(spec.startDate);
  const from = after !== null && after > start ? clock.next(after) : clock.atOrAfter(start);
  return position(clock, from, spec.endDate === null ? null : new Date(spec.endDate));
}

function position(
  clock: CronClock,
  cursor: Date | null,
  end: Date | null,
): { cursorDate: Date | null; nextDueAt: Date | null } {
  if (cursor === null || (end !== null && cursor > end))
    return { cursorDate: null, nextDueAt: null };
  return { cursorDate: cursor, nextDueAt: clock.interval(cursor)?.end ?? null };
}

export function planTick(schedule: Schedule, now: Date, misfireGraceMs: number): TickPlan {
  const clock = CronClock.of(schedule.cron, schedule.timezone);
  const end = schedule.endDate === null ? null : new Date(schedule.endDate);
  let cursor: Date | null = schedule.cursorDate === null ? null : new Date(schedule.cursorDate);
  const dates: TickPlan['dates'] = [];
  const trigger = (interval: DataInterval) =>
    now.getTime() - interval.end.getTime() <= misfireGraceMs ? 'scheduled' : 'catchup';

  if (cursor !== null && schedule.catchup === 'all') {
    while (cursor !== null && dates.length < MAX_PER_PASS) {
      if (end !== null && cursor > end) break;
      const interval = clock.interval(cursor);
      if (interval === null || interval.end > now) break;
      dates.push({
        logicalDate: interval.start,
        dataIntervalEnd: interval.end,
        trigger: trigger(interval),
      });
      cursor = interval.end;
    }
  } else if (cursor !== null) {
    let latest = clock.latestEnded(now);
    if (latest !== null && end !== null && latest.start > end) {
      const last = clock.atOrBefore(end);
      latest = last === null ? null : clock.interval(last);
    }
    if (latest !== null && latest.start >= cursor && latest.end <= now) {
      const kind = trigger(latest);
      if (schedule.catchup === 'latest' || kind === 'scheduled') {
        dates.push({ logicalDate: latest.start, dataIntervalEnd: latest.end, trigger: kind });
      }
      cursor = latest.end;
    }
  }
  const next = position(clock, cursor, end);
  return { dates, ...next };
}

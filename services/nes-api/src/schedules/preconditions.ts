/**
 * Readiness (the "Checker"): what must hold before a logical date's run is created. Each check
 * answers null when it holds, else a sentence saying what is still missing (shown on the
 * waiting date, and as the reason of a timed-out one).
 */
import { CronClock } from './cron.ts';
import { dateState, type Precondition, type Schedule } from './schedule-model.ts';
import type { ScheduleStore } from './schedule-store.ts';
import { renderString, type TemplateDates } from './template.ts';

export interface PreconditionContext {
  schedules: ScheduleStore;
  /** Whether an object exists: `gs://bucket/key`, or a key of the output store. */
  objectExists(uri: string): Promise<boolean>;
}

export async function unmetPrecondition(
  ctx: PreconditionContext,
  schedule: Schedule,
  dates: TemplateDates,
): Promise<string | null> {
  for (const precondition of schedule.preconditions) {
    const unmet = await check(ctx, schedule, precondition, dates);
    if (unmet !== null) return unmet;
  }
  return null;
}

async function check(
  ctx: PreconditionContext,
  schedule: Schedule,
  precondition: Precondition,
  dates: TemplateDates,
): Promise<string | null> {
  switch (precondition.kind) {
    case 'object': {
      const uri = renderString(precondition.uri, dates);
      return (await ctx.objectExists(uri)) ? null : `waiting for object ${uri}`;
    }
    case 'dependsOnPast': {
      const clock = CronClock.of(schedule.cron, schedule.timezone);
      const previous = clock.atOrBefore(new Date(dates.logicalDate.getTime() - 1));
      // The first date of a schedule has no past to depend on (Airflow's rule too).
      if (previous === null || previous < new Date(schedule.startDate)) return null;
      const date = await ctx.schedules.getDate(schedule.id, previous.toISOString());
      const state = dateState(date ?? undefined);
      return state === 'succeeded'
        ? null
        : `waiting for the previous logical date ${previous.toISOString()} to succeed (it is ${state})`;
    }
    case 'schedule': {
      const other = await ctx.schedules.get(precondition.schedule);
      if (other === null)
        return `waiting for schedule ${precondition.schedule}, which does not exist`;
      const date = await ctx.schedules.getDate(other.id, dates.logicalDate.toISOString());
      const state = dateState(date ?? undefined);
      return state === 'succeeded'
        ? null
        : `waiting for schedule ${other.name} to succeed for ${dates.logicalDate.toISOString()} (it is ${state})`;
    }
  }
}

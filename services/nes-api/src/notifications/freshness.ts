/**
 * The schedules' freshness events as notifications: a schedule that falls behind its SLA is a
 * `freshness_missed` event (one per stale episode: its id names the logical date it waits for);
 * catching up again is not notified.
 */
import type { FreshnessEvent } from '../schedules/ticker.ts';
import type { NotificationEvent } from './model.ts';

export function freshnessNotification(event: FreshnessEvent): NotificationEvent | null {
  if (event.type !== 'schedule.stale') return null;
  const episode = event.expectedLogicalDate ?? event.at;
  return {
    id: `freshness-${event.scheduleId}-${episode}`,
    type: 'freshness_missed',
    key: `schedule-${event.scheduleId}`,
    subject: { scheduleId: event.scheduleId },
    data: {
      schedule: {
        id: event.scheduleId,
        name: event.scheduleName,
        expectedLogicalDate: event.expectedLogicalDate,
        latestSucceededLogicalDate: event.latestSucceededLogicalDate,
        lateSeconds: event.lateSeconds,
        slaSeconds: event.slaSeconds,
      },
      summary: `Schedule ${event.scheduleName} missed its freshness SLA: ${event.lateSeconds} s late (SLA ${event.slaSeconds} s), waiting for ${event.expectedLogicalDate ?? 'its next run'}`,
    },
  };
}

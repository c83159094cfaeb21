/**
 * Notifications: who is told what. A subscription selects runs (notebook, labels, sweep,
 * schedule) and events, and names a target: a webhook (JSON, signed) or a Slack incoming webhook.
 * Each event becomes one outbox row per matching subscription (a delivery), delivered at least
 * once from the database (outbox-store.ts, deliverer.ts).
 */

import type { NotificationEventType, NotificationTargetKind, Subscription } from '@nes/client';

// The HTTP shapes (subscriptions, deliveries, their attempts) are @nes/client's.
export {
  type Delivery,
  type DeliveryAttempt,
  type DeliveryStatus,
  NOTIFICATION_EVENT_TYPES as NOTIFICATION_EVENTS,
  type NotificationEventType,
  type Subscription,
} from '@nes/client';
export type TargetKind = NotificationTargetKind;

export type SubscriptionFilter = Pick<
  Subscription,
  'notebook' | 'labels' | 'sweepId' | 'scheduleId'
>;

/** A subscription as stored: with its webhook secret (never served after creation). */
export interface StoredSubscription extends Subscription {
  secret: string | null;
}

/**
 * An event that is not a run's terminal transition (those are enqueued by the store itself):
 * a sweep that finished, a schedule whose notebook missed its freshness. `key` orders the
 * deliveries of one subject (a sweep id, a schedule id); `id` must be the same however many times
 * the same event is reported, so it is delivered once per subscription.
 */
export interface NotificationEvent {
  id: string;
  type: NotificationEventType;
  key: string;
  /** What subscriptions match on: the subject's notebook, labels, sweep and schedule. */
  subject: {
    notebook?: string | null;
    labels?: Record<string, string>;
    sweepId?: string | null;
    scheduleId?: string | null;
  };
  /** The event's body besides id, type and time (JSON). */
  data: Record<string, unknown>;
}

/**
 * What other parts of the service call to report an event (the schedules' freshness check, the
 * sweeps): durable once it resolves, delivered in the background.
 */
export interface Notifier {
  enqueue(event: NotificationEvent): Promise<void>;
}

/**
 * Notification subscriptions and their delivery log, as `/v1/notifications/*` serves them
 * (admin scope). A webhook's signing secret is in the creating answer only.
 */

export const NOTIFICATION_EVENT_TYPES = [
  'failed',
  'succeeded',
  'cancelled',
  'timed_out',
  'sweep_finished',
  'freshness_missed',
] as const;
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number];

/** `webhook`: signed JSON (X-NES-Signature); `slack`: a Slack incoming-webhook message. */
export type NotificationTargetKind = 'webhook' | 'slack';

export interface Subscription {
  id: string;
  name: string;
  events: NotificationEventType[];
  /** Only runs of this notebook (as submitted); null: any notebook. */
  notebook: string | null;
  /** Only runs carrying all of these labels. */
  labels: Record<string, string>;
  sweepId: string | null;
  scheduleId: string | null;
  target: { kind: NotificationTargetKind; url: string };
  enabled: boolean;
  createdAt: string;
}

export interface CreateSubscriptionRequest {
  name: string;
  events: NotificationEventType[];
  notebook?: string;
  labels?: Record<string, string>;
  sweepId?: string;
  scheduleId?: string;
  target: { kind: NotificationTargetKind; url: string };
}

/** The answer to a create: `secret` signs every webhook delivery and is never shown again. */
export interface CreatedSubscription {
  subscription: Subscription;
  /** Null for a Slack target (Slack's URL is its own secret). */
  secret: string | null;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryAttempt {
  attempt: number;
  time: string;
  /** The receiver's HTTP status; null when no answer came (refused, timed out). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

export interface Delivery {
  id: string;
  /** The same in every attempt and redelivery: receivers deduplicate on it. */
  eventId: string;
  eventType: NotificationEventType;
  subscriptionId: string;
  runId: string | null;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
  deliveredAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  /** Every attempt (in `getDelivery` only). */
  log?: DeliveryAttempt[];
}

export interface ListDeliveriesFilter {
  subscriptionId?: string;
  runId?: string;
  status?: DeliveryStatus;
  /** 1-500, default 100. */
  limit?: number;
}

/** Which runs a subscription follows, in words ("notebook a.ipynb env=prod", or "all runs"). */
export function subscriptionSelection(s: Subscription): string {
  const parts = [
    s.notebook ? `notebook ${s.notebook}` : null,
    ...Object.entries(s.labels).map(([k, v]) => `${k}=${v}`),
    s.sweepId ? `sweep ${s.sweepId}` : null,
    s.scheduleId ? `schedule ${s.scheduleId}` : null,
  ].filter((p) => p !== null);
  return parts.length === 0 ? 'all runs' : parts.join(' ');
}

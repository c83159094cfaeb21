/**
 * Subscriptions and the outbox in the database (migration 0005), over the same `Database` as the
 * run store (PostgreSQL or PGlite). A run's terminal transition enqueues its deliveries in the
 * run store's own statement; other events come through `enqueue`. Replicas share the outbox:
 * `claim` takes due rows with `FOR UPDATE SKIP LOCKED` and leases them, so one process delivers a
 * row at a time; a lease that lapses (its process died) makes the row due again (at least once).
 */
import { randomUUID } from 'node:crypto';
import type { Database, Row } from '../db/database.ts';
import { iso, isoOrNull } from '../db/row-values.ts';
import type {
  Delivery,
  DeliveryAttempt,
  DeliveryStatus,
  NotificationEvent,
  NotificationEventType,
  StoredSubscription,
  Subscription,
  SubscriptionFilter,
  TargetKind,
} from './model.ts';

export interface NewSubscription extends SubscriptionFilter {
  name: string;
  events: NotificationEventType[];
  target: { kind: TargetKind; url: string };
  secret: string | null;
}

/** A claimed delivery: the outbox row with its subscription, leased to this process. */
export interface ClaimedDelivery {
  id: string;
  eventId: string;
  eventType: NotificationEventType;
  runId: string | null;
  payload: Record<string, unknown> | null;
  attempt: number;
  createdAt: string;
  retryFrom: string;
  subscription: StoredSubscription;
}

export interface DeliveryListFilter {
  subscriptionId?: string;
  runId?: string;
  status?: DeliveryStatus;
  limit: number;
}

export class OutboxStore {
  readonly db: Database;
  constructor(db: Database) {
    this.db = db;
  }

  async createSubscription(spec: NewSubscription): Promise<StoredSubscription> {
    const rows = await this.db.query(
      `INSERT INTO notification_subscriptions
         (id, name, events, notebook, labels, sweep_id, schedule_id, target_kind, target_url, secret)
       VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6, $7, $8, $9, $10) RETURNING *`,
      [
        `sub_${randomUUID().replaceAll('-', '').slice(0, 20)}`,
        spec.name,
        JSON.stringify(spec.events),
        spec.notebook,
        JSON.stringify(spec.labels),
        spec.sweepId,
        spec.scheduleId,
        spec.target.kind,
        spec.target.url,
        spec.secret,
      ],
    );
    return toSubscription(rows[0] as Row);
  }

  async listSubscriptions(): Promise<StoredSubscription[]> {
    const rows = await this.db.query(
      'SELECT * FROM notification_subscriptions ORDER BY created_at DESC, id DESC',
    );
    return rows.map(toSubscription);
  }

  async getSubscription(id: string): Promise<StoredSubscription | null> {
    const rows = await this.db.query('SELECT * FROM notification_subscriptions WHERE id = $1', [
      id,
    ]);
    return rows[0] ? toSubscription(rows[0]) : null;
  }

  /** Deletes a subscription and its deliveries; false when there was none. */
  async deleteSubscription(id: string): Promise<boolean> {
    const rows = await this.db.query(
      'DELETE FROM notification_subscriptions WHERE id = $1 RETURNING id',
      [id],
    );
    return rows.length > 0;
  }

  /** One delivery per matching enabled subscription; the same event twice is enqueued once. */
  async enqueue(event: NotificationEvent): Promise<number> {
    const subject = event.subject;
    const rows = await this.db.query(
      `INSERT INTO notification_outbox (event_id, subscription_id, event_type, run_id, order_key, payload)
       SELECT $1, s.id, $2, NULL, $3, $4::jsonb FROM notification_subscriptions s
       WHERE s.enabled AND s.events ? $2
         AND (s.notebook IS NULL OR s.notebook = $5)
         AND $6::jsonb @> s.labels
         AND (s.sweep_id IS NULL OR s.sweep_id = $7)
         AND (s.schedule_id IS NULL OR s.schedule_id = $8)
       ON CONFLICT (event_id, subscription_id) DO NOTHING
       RETURNING id`,
      [
        event.id,
        event.type,
        event.key,
        JSON.stringify(event.data),
        subject.notebook ?? null,
        JSON.stringify(subject.labels ?? {}),
        subject.sweepId ?? null,
        subject.scheduleId ?? null,
      ],
    );
    return rows.length;
  }

  /**
   * Leases up to `limit` due deliveries for `leaseMs`: pending, their next attempt due, not
   * leased by a live process, and the oldest pending one of their subscription and key (so one
   * run's events reach a receiver in order).
   */
  async claim(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await this.db.query(
      `UPDATE notification_outbox o
          SET leased_until = now() + ($2::integer * interval '1 millisecond'),
              attempts = o.attempts + 1
        WHERE o.id IN (
          SELECT c.id FROM notification_outbox c
           WHERE c.status = 'pending' AND c.next_attempt_at <= now()
             AND (c.leased_until IS NULL OR c.leased_until < now())
             AND NOT EXISTS (
               SELECT 1 FROM notification_outbox p
                WHERE p.subscription_id = c.subscription_id AND p.order_key = c.order_key
                  AND p.status = 'pending' AND p.id < c.id)
           ORDER BY c.next_attempt_at, c.id
           LIMIT $1
           FOR UPDATE SKIP LOCKED)
        RETURNING o.id, o.event_id, o.event_type, o.run_id, o.payload, o.attempts, o.created_at,
                  o.retry_from, o.subscription_id`,
      [limit, leaseMs],
    );
    if (rows.length === 0) return [];
    const ids = [...new Set(rows.map((r) => r.subscription_id as string))];
    const subs = await this.db.query(
      'SELECT * FROM notification_subscriptions WHERE id = ANY($1::text[])',
      [ids],
    );
    const byId = new Map(subs.map((s) => [s.id as string, toSubscription(s)]));
    return rows
      .filter((row) => byId.has(row.subscription_id as string))
      .sort((a, b) => Number(a.id) - Number(b.id))
      .map((row) => ({
        id: String(row.id),
        eventId: row.event_id as string,
        eventType: row.event_type as NotificationEventType,
        runId: (row.run_id as string | null) ?? null,
        payload: (row.payload as Record<string, unknown> | null) ?? null,
        attempt: Number(row.attempts),
        createdAt: iso(row.created_at),
        retryFrom: iso(row.retry_from),
        subscription: byId.get(row.subscription_id as string) as StoredSubscription,
      }));
  }

  /** Records an attempt and its outcome: delivered, retried at `retryAt`, or given up (null). */
  async settle(
    claimed: ClaimedDelivery,
    outcome: { ok: boolean; statusCode: number | null; error: string | null; durationMs: number },
    retryAt: Date | null,
  ): Promise<void> {
    const status: DeliveryStatus = outcome.ok ? 'delivered' : retryAt ? 'pending' : 'failed';
    await this.db.transaction(async (tx) => {
      await tx.query(
        `INSERT INTO notification_attempts (outbox_id, attempt, status_code, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
        [claimed.id, claimed.attempt, outcome.statusCode, outcome.error, outcome.durationMs],
      );
      await tx.query(
        `UPDATE notification_outbox
            SET status = $2, leased_until = NULL, last_status = $3, last_error = $4,
                delivered_at = CASE WHEN $2 = 'delivered' THEN now() ELSE delivered_at END,
                next_attempt_at = coalesce($5::timestamptz, next_attempt_at)
          WHERE id = $1`,
        [claimed.id, status, outcome.statusCode, outcome.error, retryAt?.toISOString() ?? null],
      );
    });
  }

  async listDeliveries(filter: DeliveryListFilter): Promise<Delivery[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.subscriptionId) add('subscription_id = ?', filter.subscriptionId);
    if (filter.runId) add('run_id = ?', filter.runId);
    if (filter.status) add('status = ?', filter.status);
    params.push(filter.limit);
    const rows = await this.db.query(
      `SELECT * FROM notification_outbox ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY id DESC LIMIT $${params.length}`,
      params,
    );
    return rows.map(toDelivery);
  }

  async getDelivery(id: string): Promise<Delivery | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    const rows = await this.db.query('SELECT * FROM notification_outbox WHERE id = $1', [id]);
    if (!rows[0]) return null;
    const attempts = await this.db.query(
      'SELECT * FROM notification_attempts WHERE outbox_id = $1 ORDER BY attempt',
      [id],
    );
    return {
      ...toDelivery(rows[0]),
      log: attempts.map(
        (a): DeliveryAttempt => ({
          attempt: Number(a.attempt),
          time: iso(a.time),
          statusCode: a.status_code === null ? null : Number(a.status_code),
          error: (a.error as string | null) ?? null,
          durationMs: Number(a.duration_ms),
        }),
      ),
    };
  }

  /**
   * Sends a delivery again (the same event id): it becomes pending, due now, with a fresh retry
   * window. A delivery being attempted right now is left alone. Null: no such delivery.
   */
  async redeliver(id: string): Promise<Delivery | null> {
    if (!/^\d{1,18}$/.test(id)) return null;
    await this.db.query(
      `UPDATE notification_outbox
          SET status = 'pending', next_attempt_at = now(), retry_from = now()
        WHERE id = $1 AND (status <> 'pending' OR leased_until IS NULL OR leased_until < now())`,
      [id],
    );
    return this.getDelivery(id);
  }

  /** Deliveries waiting (pending), for the queue-depth gauge. */
  async pendingCount(): Promise<number> {
    const rows = await this.db.query(
      "SELECT count(*)::int AS n FROM notification_outbox WHERE status = 'pending'",
    );
    return Number(rows[0]?.n ?? 0);
  }
}

function toSubscription(row: Row): StoredSubscription {
  return {
    id: row.id as string,
    name: row.name as string,
    events: row.events as NotificationEventType[],
    notebook: (row.notebook as string | null) ?? null,
    labels: (row.labels as Record<string, string>) ?? {},
    sweepId: (row.sweep_id as string | null) ?? null,
    scheduleId: (row.schedule_id as string | null) ?? null,
    target: { kind: row.target_kind as TargetKind, url: row.target_url as string },
    enabled: row.enabled === true,
    createdAt: iso(row.created_at),
    secret: (row.secret as string | null) ?? null,
  };
}

/** A subscription as served: everything but the secret. */
export function publicSubscription(stored: StoredSubscription): Subscription {
  const { secret: _secret, ...rest } = stored;
  return rest;
}

function toDelivery(row: Row): Delivery {
  return {
    id: String(row.id),
    eventId: row.event_id as string,
    eventType: row.event_type as NotificationEventType,
    subscriptionId: row.subscription_id as string,
    runId: (row.run_id as string | null) ?? null,
    status: row.status as DeliveryStatus,
    attempts: Number(row.attempts),
    nextAttemptAt: row.status === 'pending' ? isoOrNull(row.next_attempt_at) : null,
    createdAt: iso(row.created_at),
    deliveredAt: isoOrNull(row.delivered_at),
    lastStatus: row.last_status === null ? null : Number(row.last_status),
    lastError: (row.last_error as string | null) ?? null,
  };
}

/**
 * Notifications assembled for the service: the outbox over the run store's database, the
 * deliverer, and what wakes it. A run's terminal transition enqueues its own deliveries, and the
 * last one of a sweep its `sweep_finished`, in the run store's statement (db/sql-run-store.ts), so
 * no crash can lose one; this wakes the deliverer then, and is the `Notifier` other parts call for
 * their events (the schedules' `freshness_missed`).
 */
import type { NesConfig } from '../config.ts';
import type { Database } from '../db/database.ts';
import type { RunEventBus } from '../events-bus.ts';
import { TERMINAL_STATUSES } from '../runs/run-model.ts';
import type { RunStore } from '../runs/run-store.ts';
import { Deliverer, type DelivererOptions } from './deliverer.ts';
import type { NotificationEvent, Notifier } from './model.ts';
import { OutboxStore } from './outbox-store.ts';
import { type TargetPolicy, targetPolicy } from './target-url.ts';

export interface NotificationServices extends Notifier {
  outbox: OutboxStore;
  policy: TargetPolicy;
  deliverer: Deliverer;
  /** Deliveries may be due now. */
  wake(): void;
  /** Observes every delivery attempt (metrics); returns the way to stop. */
  onAttempt(
    listener: (outcome: 'delivered' | 'retry' | 'failed', target: string, seconds: number) => void,
  ): () => void;
  close(): Promise<void>;
}

export function startNotifications(options: {
  db: Database;
  runs: RunStore;
  bus: RunEventBus;
  config: NesConfig;
  log?: DelivererOptions['log'];
  onAttempt?: DelivererOptions['onAttempt'];
  /** Overrides for tests (timeouts, leases, poll interval). */
  deliverer?: Partial<DelivererOptions>;
}): NotificationServices {
  const outbox = new OutboxStore(options.db);
  const observers = new Set<
    (outcome: 'delivered' | 'retry' | 'failed', target: string, seconds: number) => void
  >();
  const policy = targetPolicy(options.config.notify.allowedHosts ?? undefined);
  const deliverer = new Deliverer({
    outbox,
    runs: options.runs,
    policy,
    publicUrl: () => options.config.publicUrl,
    concurrency: options.config.notify.concurrency,
    retryWindowMs: options.config.notify.retrySeconds * 1000,
    baseDelayMs: options.config.notify.backoffMs,
    timeoutMs: options.config.notify.timeoutSeconds * 1000,
    // A delivery is ours well past its request's timeout; a process that dies lets it lapse.
    leaseMs: options.config.notify.timeoutSeconds * 2000 + 5000,
    ...(options.log ? { log: options.log } : {}),
    onAttempt: (outcome, target, seconds) => {
      options.onAttempt?.(outcome, target, seconds);
      for (const observer of observers) observer(outcome, target, seconds);
    },
    ...options.deliverer,
  });
  const enqueue = async (event: NotificationEvent) => {
    if ((await outbox.enqueue(event)) > 0) deliverer.wake();
  };
  const unsubscribe = options.bus.subscribeAll((message) => {
    if (message.type === 'run' && TERMINAL_STATUSES.includes(message.run.status)) deliverer.wake();
  });
  deliverer.start();
  return {
    outbox,
    policy,
    deliverer,
    enqueue,
    wake: () => deliverer.wake(),
    onAttempt: (listener) => {
      observers.add(listener);
      return () => observers.delete(listener);
    },
    close: async () => {
      unsubscribe();
      await deliverer.stop();
    },
  };
}

/**
 * Notifications assembled for the service: the outbox over the run store's database, the
 * deliverer, and what wakes it. A run's terminal transition enqueues its own deliveries (in the
 * run store's statement); this adds `sweep_finished` when the last run of a sweep ends, and is the
 * `Notifier` other parts call for their events (the schedules' `freshness_missed`).
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
  const sweepsSeen = new Set<string>();
  const unsubscribe = options.bus.subscribeAll((message) => {
    if (message.type !== 'run' || !TERMINAL_STATUSES.includes(message.run.status)) return;
    deliverer.wake();
    const sweepId = message.run.sweepId;
    if (sweepId === null || sweepsSeen.has(sweepId)) return;
    void sweepFinished(options.db, sweepId).then(
      async (counts) => {
        if (counts === null) return;
        sweepsSeen.add(sweepId);
        if (sweepsSeen.size > 10_000) sweepsSeen.clear();
        await enqueue({
          id: `sweep-${sweepId}-finished`,
          type: 'sweep_finished',
          key: sweepId,
          subject: { notebook: message.run.notebook, labels: message.run.labels, sweepId },
          data: {
            sweep: { id: sweepId, notebook: message.run.notebook, runs: counts },
            summary: `Sweep ${sweepId} of ${message.run.notebook} finished: ${Object.entries(counts)
              .map(([status, n]) => `${n} ${status}`)
              .join(', ')}`,
          },
        });
      },
      (error) => options.log?.('error', `notifications: sweep ${sweepId}: ${String(error)}`),
    );
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

/** The sweep's runs by status once none is left to finish; null while some still run. */
async function sweepFinished(
  db: Database,
  sweepId: string,
): Promise<Record<string, number> | null> {
  const rows = await db.query(
    'SELECT status, count(*)::int AS n FROM runs WHERE sweep_id = $1 GROUP BY status',
    [sweepId],
  );
  const counts: Record<string, number> = {};
  for (const row of rows) counts[row.status as string] = Number(row.n);
  const unfinished = Object.keys(counts).some(
    (status) => !TERMINAL_STATUSES.includes(status as never),
  );
  return unfinished || rows.length === 0 ? null : counts;
}

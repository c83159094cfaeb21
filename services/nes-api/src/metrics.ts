/**
 * Prometheus metrics, one registry per app (tests build many apps). Runs by status are read from
 * the store's active runs at scrape time plus counters of terminal outcomes seen on the bus.
 * Run outcomes and durations are labelled by notebook only for the notebooks an operator lists
 * (NES_METRICS_NOTEBOOKS; every other notebook is `other`), so a label's values stay bounded
 * whatever users submit; failure classes and statuses are closed sets.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEventBus } from './events-bus.ts';
import { type RunStatus, TERMINAL_STATUSES } from './runs/run-model.ts';
import type { RunStore } from './runs/run-store.ts';

/** What to measure besides runs: the notebooks named as labels, and the notification outbox. */
export interface MetricsOptions {
  /** Notebooks (as submitted) that get their own label value; a trailing `*` matches a prefix. */
  notebooks?: readonly string[];
  notifications?: {
    pendingCount(): Promise<number>;
    onAttempt(
      listener: (
        outcome: 'delivered' | 'retry' | 'failed',
        target: string,
        seconds: number,
      ) => void,
    ): () => void;
  };
}

/** The notebook label value: the notebook when allow-listed, else `other`. */
export function notebookLabel(notebook: string, allowed: readonly string[]): string {
  for (const entry of allowed) {
    if (entry.endsWith('*') ? notebook.startsWith(entry.slice(0, -1)) : notebook === entry) {
      return notebook;
    }
  }
  return 'other';
}

export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  submitDuration: Histogram<'outcome'>;
  runsSubmitted: Counter<never>;
  /** Stops listening to the bus. */
  close(): void;
}

export function createMetrics(
  store: RunStore,
  bus: RunEventBus,
  options: MetricsOptions = {},
): ApiMetrics {
  const registry = new Registry();
  const allowed = options.notebooks ?? [];
  const outcomes = new Counter({
    name: 'nes_run_outcomes_total',
    help: 'Finished runs by notebook (allow-listed, else "other"), status and failure class',
    labelNames: ['notebook', 'status', 'failure_class'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'nes_run_duration_seconds',
    help: 'Run durations (started to finished) by notebook (allow-listed, else "other") and status',
    labelNames: ['notebook', 'status'] as const,
    buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600],
    registers: [registry],
  });
  new Gauge({
    name: 'nes_queue_depth',
    help: 'Runs waiting to start (queued)',
    registers: [registry],
    async collect() {
      this.set(await store.countRuns('queued'));
    },
  });
  const stopObserving: Array<() => void> = [];
  const notifications = options.notifications;
  if (notifications) {
    const deliveries = new Counter({
      name: 'nes_notification_deliveries_total',
      help: 'Notification delivery attempts by target kind and outcome (delivered, retry, failed)',
      labelNames: ['target', 'outcome'] as const,
      registers: [registry],
    });
    const deliverySeconds = new Histogram({
      name: 'nes_notification_delivery_seconds',
      help: 'Notification delivery attempt durations by target kind',
      labelNames: ['target'] as const,
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
    new Gauge({
      name: 'nes_notification_outbox_pending',
      help: 'Notification deliveries not yet delivered or given up',
      registers: [registry],
      async collect() {
        this.set(await notifications.pendingCount());
      },
    });
    stopObserving.push(
      notifications.onAttempt((outcome, target, seconds) => {
        deliveries.inc({ target, outcome });
        deliverySeconds.observe({ target }, seconds);
      }),
    );
  }
  const httpDuration = new Histogram({
    name: 'nes_http_request_duration_seconds',
    help: 'HTTP request durations by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const submitDuration = new Histogram({
    name: 'nes_run_submit_duration_seconds',
    help: 'POST /v1/runs latency, source resolution and validation included',
    labelNames: ['outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const runsSubmitted = new Counter({
    name: 'nes_runs_submitted_total',
    help: 'Runs created',
    registers: [registry],
  });
  const finished = new Counter({
    name: 'nes_runs_finished_total',
    help: 'Runs that reached a terminal status, seen by this API process',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'nes_runs',
    help: 'Non-terminal runs by status',
    labelNames: ['status'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      const counts: Partial<Record<RunStatus, number>> = { queued: 0, starting: 0, running: 0 };
      for (const run of await store.listActive())
        counts[run.status] = (counts[run.status] ?? 0) + 1;
      for (const [status, n] of Object.entries(counts)) this.set({ status }, n);
    },
  });
  const seen = new Set<string>();
  const unsubscribe = bus.subscribeAll((message) => {
    if (message.type !== 'run' || !TERMINAL_STATUSES.includes(message.run.status)) return;
    if (seen.has(message.run.id)) return;
    if (seen.size > 10_000) seen.clear();
    seen.add(message.run.id);
    const run = message.run;
    finished.inc({ status: run.status });
    const notebook = notebookLabel(run.notebook, allowed);
    outcomes.inc({ notebook, status: run.status, failure_class: run.error?.class ?? 'none' });
    if (run.startedAt && run.finishedAt) {
      const seconds = (Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000;
      if (seconds >= 0) durations.observe({ notebook, status: run.status }, seconds);
    }
  });
  return {
    registry,
    httpDuration,
    submitDuration,
    runsSubmitted,
    close: () => {
      unsubscribe();
      for (const stop of stopObserving) stop();
    },
  };
}

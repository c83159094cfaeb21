/**
 * Prometheus metrics, one registry per app (tests build many apps). Runs by status are read from
 * the store's active runs at scrape time plus counters of terminal outcomes seen on the bus.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RunEventBus } from './events-bus.ts';
import { type RunStatus, TERMINAL_STATUSES } from './runs/run-model.ts';
import type { RunStore } from './runs/run-store.ts';

export interface ApiMetrics {
  registry: Registry;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  submitDuration: Histogram<'outcome'>;
  runsSubmitted: Counter<never>;
  /** Stops listening to the bus. */
  close(): void;
}

export function createMetrics(store: RunStore, bus: RunEventBus): ApiMetrics {
  const registry = new Registry();
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
    finished.inc({ status: message.run.status });
  });
  return { registry, httpDuration, submitDuration, runsSubmitted, close: unsubscribe };
}

/**
 * The schedules part of the service: the schedule store on the run store's database and the
 * ticker, wired to the run store, the run scheduler, the event bus and the output store.
 */
import type { SourceOptions } from '@nes/sources';
import { type ObjectStore, openStore } from '@nes/stores/local';
import type { RunScheduler, ScheduleServices, SourceResolver } from '../app-services.ts';
import type { Database } from '../db/database.ts';
import { ApiError } from '../errors.ts';
import type { RunEventBus } from '../events-bus.ts';
import { checkParameters } from '../routes/submission.ts';
import type { RunStore } from '../runs/run-store.ts';
import { ScheduleStore } from './schedule-store.ts';
import { Ticker, type TickerOptions } from './ticker.ts';

interface TickerWiring {
  db: Database;
  store: RunStore;
  scheduler: RunScheduler;
  bus: RunEventBus;
  artifacts: ObjectStore;
  sourceOptions: SourceOptions;
  resolve: SourceResolver;
  options?: Partial<TickerOptions>;
  log: TickerOptions['log'];
}

export function startTicker(wiring: TickerWiring): { ticker: Ticker; services: ScheduleServices } {
  const schedules = new ScheduleStore(wiring.db);
  const clock = wiring.options?.clock ?? (() => new Date());
  const buckets = new Map<string, ObjectStore>();
  const ticker = new Ticker({
    schedules,
    async submit(items) {
      const results = await wiring.store.createRuns(items);
      for (const { run, created } of results) {
        if (!created) continue;
        wiring.bus.publishRun(run);
        wiring.scheduler.submitted(run);
      }
      return results.map((r) => r.run);
    },
    cancel: (runId) => wiring.scheduler.cancel(runId),
    resolve: (notebook, ref) =>
      wiring.resolve(notebook, { ...wiring.sourceOptions, ref: ref ?? undefined }),
    async check(resolved, kernel, parameters) {
      const kernels = await wiring.scheduler.kernels();
      if (!kernels.includes(kernel))
        throw new Error(`kernel "${kernel}" is not available (available: ${kernels.join(', ')})`);
      try {
        // Declared parameters keep their types; names the notebook no longer declares are
        // injected as papermill would (the schedule was checked when it was saved).
        checkParameters(resolved.notebook, kernel, parameters, true);
      } catch (error) {
        if (error instanceof ApiError) throw new Error(error.message);
        throw error;
      }
    },
    async objectExists(uri) {
      if (uri.startsWith('gs://')) {
        const rest = uri.slice('gs://'.length);
        const slash = rest.indexOf('/');
        if (slash <= 0) return false;
        const bucket = rest.slice(0, slash);
        let store = buckets.get(bucket);
        if (store === undefined) {
          store = await openStore(`gs://${bucket}`);
          buckets.set(bucket, store);
        }
        return (await store.stat(rest.slice(slash + 1))) !== null;
      }
      if (/^[a-z][a-z0-9+.-]*:/i.test(uri)) throw new Error(`unsupported object location ${uri}`);
      return (await wiring.artifacts.stat(uri)) !== null;
    },
    ...wiring.options,
    clock,
    log: wiring.log,
  });
  ticker.start();
  return {
    ticker,
    services: { store: schedules, wake: () => ticker.wake(), clock },
  };
}

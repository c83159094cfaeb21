/**
 * What the routes need besides the run store, as interfaces: the scheduler (owned by the
 * scheduler module), the live event bus, the output store and how sources are read. `buildApp`
 * takes them ready-made, so tests pass fakes and `nes serve` passes the real ones.
 */
import type { ResolvedSource, ResolveOptions, SourceOptions } from '@nes/sources';
import type { ObjectStore } from '@nes/stores';
import type { RunEventBus } from './events-bus.ts';
import type { HistoryQueries } from './history/history.ts';
import type { NotificationServices } from './notifications/notifications.ts';
import type { Run } from './runs/run-model.ts';
import type { ScheduleStore } from './schedules/schedule-store.ts';

/** The part of the scheduler the routes call. */
export interface RunScheduler {
  /** A queued run was stored: wake the claim loop (it must not throw; it may do nothing). */
  submitted(run: Run): void;
  /**
   * Cancels a run: a queued run becomes 'cancelled' at once; a starting/running one gets
   * `store.requestCancel` and the executor is asked to stop (it then reports 'finished').
   * Returns the run as it is after the request, or null when it does not exist. Cancelling a
   * terminal run is a no-op that returns it unchanged.
   */
  cancel(runId: string): Promise<Run | null>;
  /** Kernel names the executor can run, for submit-time validation. */
  kernels(): Promise<string[]>;
  /**
   * Optional: at most `limit` runs of `queue` starting or running at once (a sweep's bounded
   * concurrency; its runs share the queue `sweep-<id>`). Without it, sweeps use global limits.
   */
  limitQueue?(queue: string, limit: number): void;
}

/** Schedules, when the run store is SQL (it always is in the service; tests may go without). */
export interface ScheduleServices {
  store: ScheduleStore;
  /** Asks the ticker for a pass soon (a schedule changed, a date was requested). */
  wake(): void;
  /** The ticker's clock: what "now" is for due dates. */
  clock(): Date;
}

export type SourceResolver = (uri: string, options: ResolveOptions) => Promise<ResolvedSource>;

export interface AppServices {
  scheduler: RunScheduler;
  bus: RunEventBus;
  /** The output store (runs/<id>/input.ipynb, output.ipynb...), also what /v1/browse lists. */
  artifacts: ObjectStore;
  /** How notebooks are read (credentials, roots); built from the config by default. */
  sourceOptions: SourceOptions;
  /** Default: @nes/sources `resolveSource`. */
  resolveSource?: SourceResolver;
  /** Absent: the /v1/schedules routes are not served. */
  schedules?: ScheduleServices;
  /** Subscriptions, the outbox and its deliverer (absent: the notification routes are not served). */
  notifications?: NotificationServices;
  /** A notebook's history (absent: the /v1/history routes are not served). */
  history?: HistoryQueries;
}

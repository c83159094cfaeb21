/**
 * The scheduler: moves runs from the store to the executor and the executor's reports back to
 * the store, in the manner of a controller. Events (a submit, a finished run, a timer) only wake
 * a loop; the loop re-reads the store and acts:
 *
 * - Claim: queued runs are claimed in submit order (store.claimQueued, FOR UPDATE SKIP LOCKED)
 *   within the global limit and the per-queue limits, then launched.
 * - Apply: each executor update becomes a conditional store write (status moves forward only;
 *   a terminal status never changes), an event, and a bus notification. A run's updates are
 *   applied one at a time, in order; progress is written at most every `progressIntervalMs`.
 * - Reconcile (at start and periodically): every non-terminal run is observed. A run the
 *   executor has no trace of (after a crash) fails as `infra` "lost" after `lostGraceMs`; one
 *   still 'starting' is relaunched once; a run past its deadline is cancelled and marked
 *   timed_out (the runner's own deadline normally wins; this is the backstop); a cancel asked on
 *   another replica reaches the executor here.
 *
 * The clock is injectable; every decision reads it.
 */

import type { Executor, ExecutorUpdate } from '../executors/executor.ts';
import {
  type Run,
  type RunEventRecord,
  type RunFailure,
  type RunProgress,
  type RunStatus,
  TERMINAL_STATUSES,
} from '../runs/run-model.ts';
import type { RunStore, TransitionPatch } from '../runs/run-store.ts';
import type { ComponentLog, LogFields } from '../service-log.ts';

/** Where run changes are announced (the API's RunEventBus fits). */
export interface RunPublisher {
  publishRun(run: Run): void;
  publishEvent(event: RunEventRecord): void;
}

export interface Clock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export interface SchedulerOptions {
  store: RunStore;
  executor: Executor;
  bus?: RunPublisher;
  /** Runs starting or running at once, over the whole store. Default 4. */
  concurrency?: number;
  /** Per-queue limits (RunSpec.queue). */
  queueLimits?: Record<string, number>;
  /** The claim loop also runs this often (submits on other replicas). Default 1000. */
  pollIntervalMs?: number;
  /** Reconcile period. Default 10000. */
  reconcileIntervalMs?: number;
  /** How long the executor may have no trace of a run before it is failed as lost. Default 3000. */
  lostGraceMs?: number;
  /** How long a launched run may stay 'starting'. Default 120000. */
  startingTimeoutMs?: number;
  /** The backstop cancels a run this long after its timeoutSeconds. Default 30000. */
  deadlineGraceMs?: number;
  /** Minimum time between two progress writes of one run. Default 250. */
  progressIntervalMs?: number;
  /** Log events stored per run; past it one notice, then none. Default 5000. */
  maxLogEvents?: number;
  clock?: Clock;
  log?: ComponentLog;
}

interface Tracked {
  /** When this scheduler launched it (clock ms). */
  launchedAt: number;
  outputUri: string | null;
  run: Run | null;
  progress: RunProgress | null;
  progressTimer: unknown;
  lastProgressWrite: number;
  logEvents: number;
  deadlineTimer: unknown;
}

const iso = (ms: number) => new Date(ms).toISOString();

function isTerminal(status: RunStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

export class Scheduler {
  readonly #store: RunStore;
  readonly #executor: Executor;
  readonly #bus: RunPublisher | undefined;
  readonly #clock: Clock;
  readonly #o: Required<
    Omit<SchedulerOptions, 'store' | 'executor' | 'bus' | 'clock' | 'queueLimits' | 'log'>
  >;
  /** Per-queue limits: from the options, plus those sweeps set at run time (limitQueue). */
  readonly #queueLimits: Record<string, number>;
  readonly #logFn: SchedulerOptions['log'];
  readonly #tracked = new Map<string, Tracked>();
  readonly #chains = new Map<string, Promise<void>>();
  readonly #unknownSince = new Map<string, number>();
  readonly #relaunched = new Set<string>();
  readonly #cancelAsked = new Set<string>();
  /** Finished reports whose store write failed: reconcile applies them again. */
  readonly #unapplied = new Map<string, Extract<ExecutorUpdate, { type: 'finished' }>>();
  #started = false;
  #stopping = false;
  #pumping: Promise<void> | null = null;
  #pumpAgain = false;
  /**
   * The last claim pass found every slot taken. A submit alone cannot start anything then, so it
   * does not wake the loop (under a burst of submits that would be a query per submit); what
   * frees a slot does (a finished run, a failed launch), and so does the poll timer.
   */
  #full = false;
  #pollTimer: unknown = null;
  #reconcileTimer: unknown = null;
  #reconciling: Promise<void> | null = null;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#executor = options.executor;
    this.#bus = options.bus;
    this.#clock = options.clock ?? systemClock;
    this.#queueLimits = { ...options.queueLimits };
    this.#logFn = options.log;
    this.#o = {
      concurrency: options.concurrency ?? 4,
      pollIntervalMs: options.pollIntervalMs ?? 1000,
      reconcileIntervalMs: options.reconcileIntervalMs ?? 10_000,
      lostGraceMs: options.lostGraceMs ?? 3000,
      startingTimeoutMs: options.startingTimeoutMs ?? 120_000,
      deadlineGraceMs: options.deadlineGraceMs ?? 30_000,
      progressIntervalMs: options.progressIntervalMs ?? 250,
      maxLogEvents: options.maxLogEvents ?? 5000,
    };
    this.#executor.onUpdate((update) => this.#enqueue(update));
  }

  #log(level: 'info' | 'warn' | 'error', message: string, fields?: LogFields): void {
    this.#logFn?.(level, message, fields);
  }

  /** Reconciles what a previous process left, then starts claiming. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    await this.reconcile();
    this.#schedulePoll();
    // The first reconcile may have asked for a quick second pass (runs that look lost are judged
    // after `lostGraceMs`): keep that one rather than pushing it back a whole interval.
    if (!this.#reconcileTimer) this.#scheduleReconcile(this.#o.reconcileIntervalMs);
    this.wake();
  }

  // The routes' side (RunScheduler) -----------------------------------------------------------

  /** A run was submitted: wake the claim loop, unless every slot was taken at its last pass. */
  submitted(_run: Run): void {
    if (this.#full) return;
    this.wake();
  }

  kernels(): Promise<string[]> {
    return this.#executor.kernels();
  }

  /**
   * At most `limit` runs of `queue` starting or running at once (a sweep's bounded concurrency).
   * Kept in memory: after a restart the sweep's remaining runs fall back to the global limits.
   */
  limitQueue(queue: string, limit: number): void {
    this.#queueLimits[queue] = limit;
    this.wake();
  }

  /**
   * Records the cancel request; a queued run becomes 'cancelled' at once, a starting or running
   * one is stopped by the executor (it saves the notebook and reports 'finished').
   */
  async cancel(runId: string): Promise<Run | null> {
    const current = await this.#store.getRun(runId);
    if (current === null || isTerminal(current.status)) return current;
    this.#cancelAsked.add(runId);
    const requested = await this.#store.requestCancel(runId);
    if (requested) this.#bus?.publishRun(requested);
    if ((requested ?? current).status === 'queued') {
      const done = await this.#transition(runId, 'cancelled', {
        finishedAt: iso(this.#clock.now()),
        error: cancelledError('The run was cancelled before it started'),
      });
      if (done) return done;
    }
    await this.#executor.cancel(runId);
    return (await this.#store.getRun(runId)) ?? requested;
  }

  // Claiming ---------------------------------------------------------------------------------

  /** Runs the claim loop soon (coalesced). */
  wake(): void {
    if (!this.#started || this.#stopping) return;
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = this.#pump().finally(() => {
      this.#pumping = null;
    });
  }

  async #pump(): Promise<void> {
    do {
      this.#pumpAgain = false;
      if (this.#stopping) return;
      try {
        const active = (await this.#store.listActive(['starting', 'running'])).length;
        const free = this.#o.concurrency - active;
        this.#full = free <= 0;
        if (this.#full) return;
        const claimed = await this.#store.claimQueued(free, this.#queueLimits);
        // Known as launching from the claim on, not from its turn in the loop: a reconcile that
        // runs meanwhile must not take a run still waiting for its turn as never started.
        for (const run of claimed) this.#track(run.id);
        for (const run of claimed) await this.#launch(run);
        if (claimed.length === free) this.#pumpAgain = true;
      } catch (error) {
        this.#log('error', `claim loop: ${String(error)}`);
        return;
      }
    } while (this.#pumpAgain);
  }

  async #launch(run: Run): Promise<void> {
    if (run.cancelRequested || this.#cancelAsked.has(run.id)) {
      await this.#transition(run.id, 'cancelled', {
        finishedAt: iso(this.#clock.now()),
        error: cancelledError('The run was cancelled before it started'),
      });
      return;
    }
    const tracked = this.#track(run.id);
    tracked.run = run;
    if (run.timeoutSeconds !== null && run.timeoutSeconds > 0) {
      const ms = run.timeoutSeconds * 1000 + this.#o.deadlineGraceMs;
      tracked.deadlineTimer = this.#clock.setTimeout(() => void this.#expire(run.id), ms);
    }
    try {
      await this.#executor.launch(run);
    } catch (error) {
      this.#log('error', `run ${run.id}: launch failed: ${String(error)}`, {
        runId: run.id,
      });
      this.#untrack(run.id);
      await this.#transition(run.id, 'failed', {
        finishedAt: iso(this.#clock.now()),
        error: {
          class: 'infra',
          ename: 'LaunchFailed',
          evalue: String((error as Error)?.message ?? error),
          cellIndex: null,
        },
      });
      this.wake();
      return;
    }
    // A cancel that came between the claim and the executor knowing the run.
    if (this.#cancelAsked.has(run.id)) await this.#executor.cancel(run.id);
  }

  #track(runId: string): Tracked {
    let tracked = this.#tracked.get(runId);
    if (!tracked) {
      tracked = {
        launchedAt: this.#clock.now(),
        outputUri: null,
        run: null,
        progress: null,
        progressTimer: null,
        lastProgressWrite: Number.NEGATIVE_INFINITY,
        logEvents: 0,
        deadlineTimer: null,
      };
      this.#tracked.set(runId, tracked);
    }
    return tracked;
  }

  #untrack(runId: string): void {
    const tracked = this.#tracked.get(runId);
    if (!tracked) return;
    if (tracked.progressTimer) this.#clock.clearTimeout(tracked.progressTimer);
    if (tracked.deadlineTimer) this.#clock.clearTimeout(tracked.deadlineTimer);
    this.#tracked.delete(runId);
    this.#cancelAsked.delete(runId);
  }

  /** The backstop: the run outlived its timeoutSeconds by deadlineGraceMs. */
  async #expire(runId: string): Promise<void> {
    const run = await this.#store.getRun(runId).catch(() => null);
    if (!run || isTerminal(run.status)) return;
    this.#log('warn', `run ${runId}: past its deadline; cancelling it`, { runId });
    await this.#executor.cancel(runId).catch(() => undefined);
    await this.#transition(runId, 'timed_out', {
      finishedAt: iso(this.#clock.now()),
      error: {
        class: 'timeout',
        ename: 'DeadlineExceeded',
        evalue: `The run exceeded its deadline of ${run.timeoutSeconds} s`,
        cellIndex: null,
      },
      outputUri: this.#tracked.get(runId)?.outputUri ?? run.outputUri,
    });
    this.wake();
  }

  // Applying executor updates ----------------------------------------------------------------

  /** Runs `step` after every earlier step of the same run. */
  #chain(runId: string, step: () => Promise<void>, onError: (error: unknown) => void): void {
    const previous = this.#chains.get(runId) ?? Promise.resolve();
    const next = previous.then(step).catch(onError);
    this.#chains.set(runId, next);
    void next.then(() => {
      if (this.#chains.get(runId) === next) this.#chains.delete(runId);
    });
  }

  #enqueue(update: ExecutorUpdate): void {
    const runId = update.runId;
    this.#chain(
      runId,
      () => this.#apply(update),
      (error) => {
        this.#log('error', `run ${runId}: applying ${update.type}: ${String(error)}`, {
          runId,
        });
        if (update.type === 'finished') this.#unapplied.set(runId, update);
      },
    );
  }

  async #apply(update: ExecutorUpdate): Promise<void> {
    const runId = update.runId;
    const tracked = this.#track(runId);
    switch (update.type) {
      case 'running': {
        const run = await this.#transition(runId, 'running', {
          startedAt: update.time,
          ...(tracked.outputUri !== null ? { outputUri: tracked.outputUri } : {}),
        });
        if (run) tracked.run = run;
        return;
      }
      case 'saved':
        if (tracked.outputUri === update.outputUri) return;
        tracked.outputUri = update.outputUri;
        // Readers (the viewer, `GET /v1/runs/:id`) can follow the notebook while it runs.
        await this.#store.recordOutputUri(runId, update.outputUri);
        return;
      case 'progress':
        tracked.progress = update.progress;
        this.#scheduleProgress(runId, tracked);
        return;
      case 'log': {
        if (tracked.logEvents > this.#o.maxLogEvents) return;
        tracked.logEvents += 1;
        const data =
          tracked.logEvents > this.#o.maxLogEvents
            ? { time: update.time, stream: 'runner', text: 'later log lines are not stored' }
            : { time: update.time, stream: update.stream, text: update.text };
        const event = await this.#store.appendEvent(runId, 'log', data);
        this.#bus?.publishEvent(event);
        return;
      }
      case 'finished': {
        if (tracked.progressTimer) this.#clock.clearTimeout(tracked.progressTimer);
        tracked.progressTimer = null;
        const progress = tracked.progress;
        const outputUri = update.outputUri ?? tracked.outputUri;
        await this.#transition(runId, update.status, {
          finishedAt: update.time,
          error: update.error,
          ...(outputUri !== null ? { outputUri } : {}),
          ...(progress !== null ? { progress } : {}),
          ...(update.results ? { results: update.results } : {}),
        });
        this.#unapplied.delete(runId);
        this.#untrack(runId);
        this.wake();
        return;
      }
    }
  }

  #scheduleProgress(runId: string, tracked: Tracked): void {
    if (tracked.progressTimer) return;
    const wait = tracked.lastProgressWrite + this.#o.progressIntervalMs - this.#clock.now();
    const write = () => {
      tracked.progressTimer = null;
      this.#enqueueProgressWrite(runId, tracked);
    };
    if (wait <= 0) write();
    else tracked.progressTimer = this.#clock.setTimeout(write, wait);
  }

  #enqueueProgressWrite(runId: string, tracked: Tracked): void {
    this.#chain(
      runId,
      async () => {
        const progress = tracked.progress;
        if (progress === null || !this.#tracked.has(runId)) return;
        tracked.lastProgressWrite = this.#clock.now();
        await this.#store.updateProgress(runId, progress);
        const event = await this.#store.appendEvent(runId, 'progress', { ...progress });
        if (tracked.run) this.#bus?.publishRun({ ...tracked.run, progress });
        this.#bus?.publishEvent(event);
      },
      (error) => this.#log('warn', `run ${runId}: progress: ${String(error)}`, { runId }),
    );
  }

  async #transition(id: string, to: RunStatus, patch: TransitionPatch): Promise<Run | null> {
    const run = await this.#store.transition(id, to, patch);
    if (run) this.#bus?.publishRun(run);
    return run;
  }

  // Reconciling ------------------------------------------------------------------------------

  /** One pass over every non-terminal run. */
  reconcile(): Promise<void> {
    this.#reconciling ??= this.#reconcileAll().finally(() => {
      this.#reconciling = null;
    });
    return this.#reconciling;
  }

  async #reconcileAll(): Promise<void> {
    let runs: Run[];
    try {
      runs = await this.#store.listActive();
    } catch (error) {
      this.#log('error', `reconcile: ${String(error)}`);
      return;
    }
    const seen = new Set<string>();
    let inGrace = false;
    for (const run of runs) {
      seen.add(run.id);
      try {
        if ((await this.#reconcileRun(run)) === 'in_grace') inGrace = true;
      } catch (error) {
        this.#log('error', `reconcile run ${run.id}: ${String(error)}`, { runId: run.id });
      }
    }
    for (const id of this.#unknownSince.keys()) if (!seen.has(id)) this.#unknownSince.delete(id);
    // A lost run is failed as soon as its grace is over, not a whole period later.
    if (inGrace && !this.#stopping && this.#started) this.#scheduleReconcile(this.#o.lostGraceMs);
  }

  async #reconcileRun(run: Run): Promise<'ok' | 'in_grace'> {
    if (isTerminal(run.status)) return 'ok';
    if (run.status === 'queued') {
      if (run.cancelRequested) {
        await this.#transition(run.id, 'cancelled', {
          finishedAt: iso(this.#clock.now()),
          error: cancelledError('The run was cancelled before it started'),
        });
      }
      return 'ok';
    }
    const unapplied = this.#unapplied.get(run.id);
    if (unapplied) {
      this.#enqueue(unapplied);
      return 'ok';
    }
    const now = this.#clock.now();
    const observation = await this.#executor.observe(run.id);
    if (observation.state === 'unknown') {
      // Launching right now on this replica: the executor may not know it yet.
      if (this.#tracked.has(run.id) && run.status === 'starting') return 'ok';
      const since = this.#unknownSince.get(run.id) ?? now;
      this.#unknownSince.set(run.id, since);
      if (now - since < this.#o.lostGraceMs) return 'in_grace';
      this.#unknownSince.delete(run.id);
      if (run.status === 'starting' && !this.#relaunched.has(run.id) && !run.cancelRequested) {
        this.#relaunched.add(run.id);
        this.#log('warn', `run ${run.id}: never started; launching it again`, {
          runId: run.id,
        });
        await this.#launch(run);
        return 'ok';
      }
      await this.#markLost(run);
      return 'ok';
    }
    this.#unknownSince.delete(run.id);
    if (observation.state === 'finished') return 'ok'; // its report is being applied
    if (run.cancelRequested) await this.#executor.cancel(run.id);
    const tracked = this.#tracked.get(run.id);
    const since = run.startedAt ? Date.parse(run.startedAt) : (tracked?.launchedAt ?? now);
    if (
      run.timeoutSeconds !== null &&
      run.timeoutSeconds > 0 &&
      now - since > run.timeoutSeconds * 1000 + this.#o.deadlineGraceMs
    ) {
      await this.#expire(run.id);
      return 'ok';
    }
    if (
      run.status === 'starting' &&
      observation.state === 'pending' &&
      now - (tracked?.launchedAt ?? Date.parse(run.createdAt)) > this.#o.startingTimeoutMs
    ) {
      this.#log('warn', `run ${run.id}: still starting after ${this.#o.startingTimeoutMs} ms`, {
        runId: run.id,
      });
      await this.#executor.cancel(run.id);
      await this.#transition(run.id, 'failed', {
        finishedAt: iso(now),
        error: {
          class: 'infra',
          ename: 'StartTimeout',
          evalue: `The run did not start within ${this.#o.startingTimeoutMs / 1000} s`,
          cellIndex: null,
        },
      });
    }
    return 'ok';
  }

  /** The executor has no trace of the run and it never reported an end: it is lost. */
  async #markLost(run: Run): Promise<void> {
    this.#log('warn', `run ${run.id}: lost (the executor has no trace of it)`, {
      runId: run.id,
    });
    const tracked = this.#tracked.get(run.id);
    const outputUri = tracked?.outputUri ?? run.outputUri;
    const done = await this.#transition(run.id, 'failed', {
      finishedAt: iso(this.#clock.now()),
      error: {
        class: 'infra',
        ename: 'RunLost',
        evalue:
          'The run was lost: its runner is gone without reporting a result (the service restarted or the runner was killed)',
        cellIndex: null,
      },
      ...(outputUri !== null ? { outputUri } : {}),
    });
    if (done) this.#untrack(run.id);
    this.wake();
  }

  // Timers and shutdown ----------------------------------------------------------------------

  #schedulePoll(): void {
    if (this.#stopping) return;
    this.#pollTimer = this.#clock.setTimeout(() => {
      this.wake();
      this.#schedulePoll();
    }, this.#o.pollIntervalMs);
  }

  #scheduleReconcile(ms: number): void {
    if (this.#stopping) return;
    if (this.#reconcileTimer) this.#clock.clearTimeout(this.#reconcileTimer);
    this.#reconcileTimer = this.#clock.setTimeout(() => {
      this.#reconcileTimer = null;
      void this.reconcile().then(() => {
        if (!this.#reconcileTimer) this.#scheduleReconcile(this.#o.reconcileIntervalMs);
      });
    }, ms);
  }

  /**
   * Graceful shutdown: stop claiming, let running runs finish for up to `graceMs`, then cancel
   * them (each saves its notebook as cancelled) and wait until every report is in the store.
   * The store itself is the caller's to close.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#pollTimer) this.#clock.clearTimeout(this.#pollTimer);
    if (this.#reconcileTimer) this.#clock.clearTimeout(this.#reconcileTimer);
    await this.#pumping;
    await this.#reconciling;
    await this.#executor.shutdown(graceMs);
    await this.idle();
    for (const id of [...this.#tracked.keys()]) this.#untrack(id);
  }

  /** Resolves when every update received so far is applied (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all([...this.#chains.values()]);
  }
}

function cancelledError(evalue: string): RunFailure {
  return { class: 'cancelled', ename: 'Cancelled', evalue, cellIndex: null };
}

/**
 * Saving the notebook while it runs, without letting saves dominate the run.
 *
 * papermill rewrites the whole notebook after every cell (500 trivial cells: 40 s instead of 6).
 * Here a save happens only when something changed, at most every `minIntervalMs` (default 5 s,
 * never below 1 s: GCS allows about one write per second to an object), and never more often
 * than every 5x the last save's duration, so slow storage cannot take more than ~1/6 of the run.
 * Saves run in the background on a snapshot; one at a time. A failed autosave is reported and
 * retried later with a doubled interval; it never fails the run. The final save is retried.
 */
import type { Notebook } from '@nes/notebook';
import type { AutosavePolicy, NotebookSink, RunEvent } from './execution-types.ts';

/**
 * nes-run's saves, as papermill's: after cells complete (at most every 5 s here) and every 30 s
 * during a long-running cell (papermill's --autosave-cell-every default).
 */
export const DEFAULT_AUTOSAVE_POLICY: AutosavePolicy = {
  minIntervalMs: 5000,
  onCellComplete: true,
  longCellEverySeconds: 30,
};

/**
 * Runs the service executes, on either executor: someone may be watching in the viewer, which
 * re-reads the autosaved notebook once a second, so a save at most every second (the floor GCS
 * allows per object; slow storage still throttles itself, see above) and every 5 s during a
 * long-running cell.
 */
export const WATCHED_RUN_AUTOSAVE_POLICY: AutosavePolicy = {
  minIntervalMs: 1000,
  onCellComplete: true,
  longCellEverySeconds: 5,
};

const MIN_INTERVAL_FLOOR_MS = 1000;
const SLOW_SAVE_FACTOR = 5;
const MAX_FAILURE_BACKOFF_MS = 60_000;
const FINAL_SAVE_ATTEMPTS = 3;

export function resolveAutosavePolicy(policy: Partial<AutosavePolicy> | undefined): AutosavePolicy {
  const resolved = { ...DEFAULT_AUTOSAVE_POLICY, ...policy };
  // Asking for a save every N s during a long cell (papermill's --autosave-cell-every) under the
  // default interval lowers the interval to N s: `1` saves about every second, as papermill does.
  const every = resolved.longCellEverySeconds;
  if (policy?.minIntervalMs === undefined && every > 0) {
    resolved.minIntervalMs = Math.min(resolved.minIntervalMs, every * 1000);
  }
  resolved.minIntervalMs = Math.max(MIN_INTERVAL_FLOOR_MS, resolved.minIntervalMs);
  resolved.longCellEverySeconds = Math.max(0, resolved.longCellEverySeconds);
  return resolved;
}

interface AutosaverOptions {
  sink: NotebookSink;
  policy: AutosavePolicy;
  /** A copy of the notebook as it is now, safe to serialize while the run goes on. */
  snapshot: () => Notebook;
  emit: (event: RunEvent) => void;
  /** Injectable for tests. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export class Autosaver {
  readonly #options: AutosaverOptions;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  #version = 0;
  #savedVersion = -1;
  #inFlight: Promise<void> | null = null;
  #nextAllowedAt = Number.NEGATIVE_INFINITY;
  #failures = 0;
  #trailing: NodeJS.Timeout | null = null;
  #longCell: NodeJS.Timeout | null = null;
  #closed = false;
  #saves = 0;

  constructor(options: AutosaverOptions) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Successful writes so far, final included. */
  get saves(): number {
    return this.#saves;
  }

  /** Records that the notebook changed since the last snapshot. */
  touch(): void {
    this.#version += 1;
  }

  /** The run started: save the prepared notebook so the output exists from the start. */
  saveStart(): void {
    this.#request();
  }

  /**
   * A cell finished (papermill's request_save_on_cell_execute). The save waits a turn of the
   * event loop: when that cell was the last, the final save comes first and this one is dropped.
   */
  cellCompleted(): void {
    this.stopLongCellTimer();
    if (this.#options.policy.onCellComplete) setImmediate(() => this.#request());
  }

  /** A cell started: save every `longCellEverySeconds` while it runs (0 = never). */
  cellStarted(): void {
    this.stopLongCellTimer();
    const seconds = this.#options.policy.longCellEverySeconds;
    if (seconds <= 0) return;
    this.#longCell = setInterval(() => this.#request(), seconds * 1000);
    this.#longCell.unref();
  }

  stopLongCellTimer(): void {
    if (this.#longCell) clearInterval(this.#longCell);
    this.#longCell = null;
  }

  #request(): void {
    if (this.#closed || this.#version === this.#savedVersion) return;
    if (this.#inFlight) return; // the save in flight reschedules itself when it ends
    const wait = this.#nextAllowedAt - this.#now();
    if (wait > 0) {
      this.#scheduleTrailing(wait);
      return;
    }
    this.#inFlight = this.#autosave().finally(() => {
      this.#inFlight = null;
      if (this.#version !== this.#savedVersion) {
        this.#scheduleTrailing(Math.max(0, this.#nextAllowedAt - this.#now()));
      }
    });
  }

  #scheduleTrailing(ms: number): void {
    if (this.#trailing || this.#closed) return;
    this.#trailing = setTimeout(() => {
      this.#trailing = null;
      this.#request();
    }, ms);
    this.#trailing.unref();
  }

  async #autosave(): Promise<void> {
    const { sink, policy, emit } = this.#options;
    const version = this.#version;
    const started = this.#now();
    try {
      await sink.write(this.#options.snapshot(), 'autosave');
      const durationMs = this.#now() - started;
      this.#savedVersion = version;
      this.#saves += 1;
      this.#failures = 0;
      this.#nextAllowedAt = started + Math.max(policy.minIntervalMs, SLOW_SAVE_FACTOR * durationMs);
      emit({ type: 'saved', time: isoNow(), reason: 'autosave', uri: sink.uri, durationMs });
    } catch (error) {
      this.#failures += 1;
      const backoff = Math.min(MAX_FAILURE_BACKOFF_MS, policy.minIntervalMs * 2 ** this.#failures);
      this.#nextAllowedAt = this.#now() + backoff;
      emit({
        type: 'save_failed',
        time: isoNow(),
        reason: 'autosave',
        uri: sink.uri,
        message: errorMessage(error),
      });
    }
  }

  /**
   * Stops autosaving, waits for a save in flight, then writes `notebook` (retried with back-off).
   * Returns the last error when every attempt failed.
   */
  async saveFinal(notebook: Notebook): Promise<Error | null> {
    this.#closed = true;
    this.stopLongCellTimer();
    if (this.#trailing) clearTimeout(this.#trailing);
    this.#trailing = null;
    await this.#inFlight;
    const { sink, emit } = this.#options;
    let lastError: Error | null = null;
    for (let attempt = 1; attempt <= FINAL_SAVE_ATTEMPTS; attempt += 1) {
      const started = this.#now();
      try {
        await sink.write(notebook, 'final');
        const durationMs = this.#now() - started;
        this.#saves += 1;
        emit({ type: 'saved', time: isoNow(), reason: 'final', uri: sink.uri, durationMs });
        return null;
      } catch (error) {
        lastError = error instanceof Error ? error : new Error(String(error));
        emit({
          type: 'save_failed',
          time: isoNow(),
          reason: 'final',
          uri: sink.uri,
          message: `attempt ${attempt} of ${FINAL_SAVE_ATTEMPTS}: ${lastError.message}`,
        });
        if (attempt < FINAL_SAVE_ATTEMPTS) await this.#sleep(500 * 2 ** (attempt - 1));
      }
    }
    return lastError;
  }
}

export function isoNow(): string {
  return new Date().toISOString();
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Following a run's runner log while it runs (lease holder only): the current pod's log stream
 * read into progress and log updates, resumed with sinceTime after a drop (LogCursor: nothing
 * repeated, nothing lost), and after a takeover resumed past the lines another replica already
 * stored (ReplayBoundary). The followed lines are kept (up to a cap) as the fallback copy for
 * archiving when the pod is gone by then.
 */

import type { KubeConfig } from '@kubernetes/client-node';
import type { LogFields } from '../../service-log.ts';
import type { ExecutorUpdate } from '../executor.ts';
import { RUNNER_CONTAINER } from './job-builder.ts';
import { describeError } from './kube-client.ts';
import {
  LogCursor,
  type LogLine,
  LogRequestError,
  ReplayBoundary,
  streamPodLog,
  timeKey,
} from './pod-logs.ts';
import { livePodsOldestFirst, type TrackedRun } from './run-index.ts';
import { disrupted, runnerStatus } from './run-state.ts';
import { RunnerLogReader } from './runner-log.ts';

const MAX_KEPT_LOG_BYTES = 8 * 1024 * 1024;

export interface Follower {
  pod: string;
  abort: AbortController;
  done: Promise<void>;
  /** The server ended the stream (the container stopped): every line is in. */
  drained: boolean;
}

export interface LogFollowerOptions {
  kc: KubeConfig;
  namespace: string;
  emit(update: ExecutorUpdate): void;
  /** The run's log lines already stored: following resumes after them. */
  storedLog?: ((runId: string) => Promise<LogLine[]>) | undefined;
  /** Reconnect back-off. Default 250 ms. */
  retryMs?: number | undefined;
  stopped(): boolean;
  log(level: 'warn', message: string, fields?: LogFields): void;
}

export class LogFollower {
  readonly #o: LogFollowerOptions;
  /** Log streams opened again after a drop or an error. */
  reconnects = 0;

  constructor(options: LogFollowerOptions) {
    this.#o = options;
  }

  /** Follows the run's current pod once its runner has started (a newer pod replaces the old). */
  follow(tracked: TrackedRun): void {
    if (tracked.reported === 'finished') return;
    const pod = livePodsOldestFirst(tracked)
      .filter((p) => !disrupted(p))
      .at(-1);
    const state = pod ? runnerStatus(pod)?.state : undefined;
    if (!pod || !(state?.running || state?.terminated)) return;
    const name = pod.metadata?.name as string;
    if (tracked.follower?.pod === name) return;
    tracked.follower?.abort.abort();
    const abort = new AbortController();
    const follower: Follower = { pod: name, abort, done: Promise.resolve(), drained: false };
    follower.done = this.#follow(tracked, follower, abort.signal).finally(() => {
      if (tracked.follower === follower && tracked.reported === 'finished') tracked.follower = null;
    });
    tracked.follower = follower;
  }

  #onLine(tracked: TrackedRun, line: LogLine): void {
    const updates = tracked.reader.read(line.time, line.text);
    // The store keeps a line as its log update's text (cell output without its JSON envelope).
    const logged = updates.find((update) => update.type === 'log');
    const stored = { time: line.time, text: logged?.type === 'log' ? logged.text : line.text };
    if (tracked.replay?.isOld(stored)) {
      // Already reported: only the reader's state (progress, output) is rebuilt.
      for (const update of updates) {
        if (update.type === 'progress') tracked.replayProgress = update;
        if (update.type === 'running' && tracked.reported === 'none') tracked.reported = 'running';
      }
      return;
    }
    if (tracked.replayProgress) {
      this.#o.emit(tracked.replayProgress);
      tracked.replayProgress = null;
    }
    if (tracked.logBytes < MAX_KEPT_LOG_BYTES) {
      const kept = `${line.time} ${line.text}`;
      tracked.logLines.push(kept);
      tracked.logBytes += kept.length + 1;
    }
    for (const update of updates) {
      const reported = tracked.reported;
      // After the end only log lines still count; `running` is reported once.
      if (reported === 'finished' && update.type !== 'log') continue;
      if (update.type === 'running') {
        if (reported !== 'none') continue;
        tracked.reported = 'running';
      }
      this.#o.emit(update);
    }
  }

  /** Where following starts: after the newest line already stored, if any. */
  async #replayBoundary(runId: string): Promise<ReplayBoundary | null> {
    if (!this.#o.storedLog) return null;
    try {
      const stored = await this.#o.storedLog(runId);
      const newest = stored.reduce<string | null>(
        (max, line) => (max === null || timeKey(line.time) > timeKey(max) ? line.time : max),
        null,
      );
      if (newest === null) return null;
      const texts = stored.filter((line) => line.time === newest).map((line) => line.text);
      return new ReplayBoundary(newest, texts);
    } catch (error) {
      this.#o.log('warn', `run ${runId}: reading the stored log: ${describeError(error)}`, {
        runId,
      });
      return null;
    }
  }

  async #follow(tracked: TrackedRun, follower: Follower, signal: AbortSignal): Promise<void> {
    const pod = follower.pod;
    const cursor = new LogCursor();
    tracked.reader = new RunnerLogReader(tracked.runId);
    tracked.replay = await this.#replayBoundary(tracked.runId);
    const stream = (follow: boolean) =>
      streamPodLog(
        {
          kc: this.#o.kc,
          namespace: this.#o.namespace,
          pod,
          container: RUNNER_CONTAINER,
          cursor,
          signal,
          onLine: (line) => this.#onLine(tracked, line),
        },
        follow,
      );
    const retryMs = this.#o.retryMs ?? 250;
    let failures = 0;
    for (let attempt = 0; !signal.aborted && !this.#o.stopped(); attempt += 1) {
      if (attempt > 0) this.reconnects += 1;
      try {
        follower.drained = false;
        const end = await stream(true);
        follower.drained = end === 'ended';
        failures = 0;
      } catch (error) {
        if (error instanceof LogRequestError && error.status === 404) return;
        failures += 1;
        if (!(error instanceof LogRequestError && error.status === 400)) {
          this.#o.log('warn', `run ${tracked.runId}: log of ${pod}: ${describeError(error)}`, {
            runId: tracked.runId,
          });
        }
      }
      if (signal.aborted) return;
      const terminated = () =>
        tracked.gonePods.has(pod) ||
        runnerStatus(tracked.pods.get(pod) ?? {})?.state?.terminated !== undefined;
      if (follower.drained) {
        // The server ended the stream: the container stopped, its status follows shortly.
        // (A stream the server ends for another reason is opened again after 5 s.)
        for (let waited = 0; waited < 5000 && !terminated() && !signal.aborted; waited += 100) {
          await delay(100);
        }
        if (terminated()) return;
      } else if (terminated() && failures === 0) {
        // The container stopped while the stream was down: one last read from the cursor.
        try {
          await stream(false);
        } catch {
          // The pod is gone: what was read is what there is.
        }
        return;
      }
      if (terminated() && failures > 3) return;
      await delay(Math.min(retryMs * 2 ** Math.min(failures, 5), 5000));
    }
  }
}

/** Waits for a follower to read the last lines (the stream ends with the container), briefly. */
export async function drained(tracked: TrackedRun, limitMs = 3000): Promise<void> {
  if (tracked.follower && !tracked.follower.drained) {
    await Promise.race([tracked.follower.done, delay(limitMs)]);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

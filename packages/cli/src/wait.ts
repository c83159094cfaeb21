/**
 * `--wait`: follow a run's events until it ends, with nes-run's progress bar on a TTY (cells
 * done / total, current cell, elapsed) or one line per status change otherwise. With
 * cancel-on-interrupt, SIGINT/SIGTERM cancels the run and waits (briefly) for it to end.
 */
import { isAbortError, isTerminal, type NesClient, type Run, type RunProgress } from '@nes/client';
import cliProgress from 'cli-progress';
import { CliError, EXIT_CANCELLED } from './exit.ts';

interface WaitOptions {
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  /** Draw the bar (TTY stderr and not --json / --no-progress). */
  progressBar: boolean;
  cancelOnInterrupt: boolean;
  /** How long to wait for a cancelled run to end after an interrupt. */
  cancelGraceMs?: number;
  /** Injectable for tests; default process. */
  signals?: NodeJS.EventEmitter;
}

export async function waitForRun(client: NesClient, run: Run, options: WaitOptions): Promise<Run> {
  const view = new ProgressView(options.stderr, options.progressBar, run);
  const controller = new AbortController();
  const signals = options.signals ?? process;
  let interrupted = 0;
  let interruptError: CliError | undefined;
  const onSignal = (signal: string) => {
    interrupted++;
    if (interrupted > 1 || !options.cancelOnInterrupt) {
      interruptError = new CliError(
        EXIT_CANCELLED,
        `${signal}: stopped waiting; run ${run.id} continues (nes get ${run.id}, nes cancel ${run.id})`,
      );
      controller.abort();
      return;
    }
    view.note(`${signal}: cancelling run ${run.id} (again to stop waiting)`);
    client.cancelRun(run.id).catch((err: Error) => view.note(`cancel failed: ${err.message}`));
    const grace = setTimeout(() => {
      interruptError = new CliError(
        EXIT_CANCELLED,
        `run ${run.id} was asked to cancel but did not end within ${Math.round((options.cancelGraceMs ?? 60_000) / 1000)}s`,
      );
      controller.abort();
    }, options.cancelGraceMs ?? 60_000);
    grace.unref();
  };
  signals.on('SIGINT', onSignal);
  signals.on('SIGTERM', onSignal);
  try {
    let current = run;
    if (!isTerminal(run.status)) {
      for await (const event of client.runEvents(run.id, { signal: controller.signal })) {
        if (event.type === 'run') {
          current = event.data;
          view.update(current.status, current.progress);
        } else if (event.type === 'progress') {
          view.update(current.status, event.data);
        } else if (event.type === 'status') {
          current = { ...current, status: event.data.status };
          view.update(current.status, undefined);
        }
      }
    }
    // The stream's last word may precede the stored final state by a moment: read until final.
    for (let i = 0; ; i++) {
      current = await client.getRun(run.id, { signal: controller.signal });
      if (isTerminal(current.status) || i >= 50) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    view.finish(current);
    return current;
  } catch (err) {
    view.stop();
    if (interruptError && (isAbortError(err) || controller.signal.aborted)) throw interruptError;
    throw err;
  } finally {
    signals.off('SIGINT', onSignal);
    signals.off('SIGTERM', onSignal);
  }
}

/** queued < starting < running < any terminal status. */
function statusRank(status: string): number {
  const rank = ['queued', 'starting', 'running'].indexOf(status);
  return rank === -1 ? 3 : rank;
}

class ProgressView {
  readonly #stderr: NodeJS.WritableStream & { isTTY?: boolean };
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #id: string;
  #status: string;
  #started = false;

  constructor(stderr: NodeJS.WritableStream & { isTTY?: boolean }, wantBar: boolean, run: Run) {
    this.#stderr = stderr;
    this.#id = run.id;
    this.#status = run.status;
    if (wantBar) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: stderr,
          format: `${run.id} |{bar}| {value}/{total} cells | {cell} | {duration_formatted}`,
          barsize: 30,
          hideCursor: true,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
    } else {
      stderr.write(`${run.id}: ${run.status}\n`);
    }
  }

  update(status: string, progress: RunProgress | undefined): void {
    const bar = this.#bar;
    // The stream opens with a snapshot of the run, then replays its stored events: statuses the
    // snapshot is already past are old news. Status only moves forward.
    if (statusRank(status) > statusRank(this.#status)) {
      this.#status = status;
      if (!bar) this.#stderr.write(`${this.#id}: ${status}\n`);
    }
    if (!bar) return;
    const total = progress?.cellsTotal ?? 0;
    const payload = {
      cell:
        progress?.currentCell !== null && progress?.currentCell !== undefined
          ? `cell ${progress.currentCell}`
          : status,
    };
    if (!this.#started) {
      this.#started = true;
      bar.start(total, progress?.cellsDone ?? 0, payload);
      return;
    }
    if (progress) {
      if (total !== bar.getTotal()) bar.setTotal(total);
      bar.update(progress.cellsDone, payload);
    } else {
      bar.update(payload);
    }
  }

  note(text: string): void {
    if (this.#bar && this.#started) this.#stderr.write('\r\x1b[2K');
    this.#stderr.write(`${text}\n`);
  }

  stop(): void {
    if (this.#bar && this.#started) this.#bar.stop();
    this.#started = false;
  }

  finish(run: Run): void {
    if (this.#bar && this.#started) {
      this.#bar.update(run.progress?.cellsDone ?? 0, { cell: run.status });
    }
    this.stop();
    if (!this.#bar && run.status !== this.#status) this.#stderr.write(`${run.id}: ${run.status}\n`);
  }
}

/**
 * Everything nes-run shows while a run goes: the progress bar and log lines on stderr (human),
 * and run events as JSON lines on stdout or a file (machine). The two never share a stream.
 * Every line that can carry a parameter value goes through `redact` first.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import type { RunEvent, RunSummary } from '../execution-types.ts';
import type { LogLevel } from './flags.ts';

const LEVEL_RANK: Record<LogLevel, number> = {
  NOTSET: 0,
  DEBUG: 10,
  INFO: 20,
  WARNING: 30,
  ERROR: 40,
  CRITICAL: 50,
};

interface ReporterOptions {
  stderr: Writable & { isTTY?: boolean };
  logLevel: LogLevel;
  progressBar: boolean;
  /** Where JSON events go: stdout, a file path, or nowhere. */
  events: Writable | string | undefined;
  redact: (text: string) => string;
  /**
   * Cell output (--log-output) as `output` events on the events channel instead of raw text on
   * stderr (--json): the stream is kept, and a cell can never print a line that reads as an event.
   */
  outputAsEvents?: boolean;
  /**
   * Also receives every log line at INFO and above (or at --log-level, when lower), whatever
   * stderr shows: the run's log kept with its artifacts (logs/runner.log). Already redacted.
   */
  record?: (level: LogLevel, message: string) => void;
}

export class Reporter {
  readonly #stderr: Writable & { isTTY?: boolean };
  readonly #minRank: number;
  readonly #redact: (text: string) => string;
  readonly #wantBar: boolean;
  readonly #record: ((level: LogLevel, message: string) => void) | undefined;
  readonly #recordRank: number;
  #bar: cliProgress.SingleBar | undefined;
  #events: Writable | undefined;
  #ownsEvents = false;
  #cellsTotal = 0;
  #cellsDone = 0;
  readonly #outputAsEvents: boolean;

  constructor(options: ReporterOptions) {
    this.#stderr = options.stderr;
    this.#minRank = LEVEL_RANK[options.logLevel];
    this.#redact = options.redact;
    this.#wantBar = options.progressBar;
    this.#record = options.record;
    this.#outputAsEvents = Boolean(options.outputAsEvents && options.events !== undefined);
    this.#recordRank = Math.min(this.#minRank, LEVEL_RANK.INFO);
    if (typeof options.events === 'string') {
      this.#events = createWriteStream(options.events, { flags: 'a' });
      this.#ownsEvents = true;
    } else {
      this.#events = options.events;
    }
  }

  /** A human log line on stderr, if the level passes --log-level. */
  log(level: LogLevel, message: string): void {
    if (this.#record && LEVEL_RANK[level] >= this.#recordRank) {
      this.#record(level, this.#redact(message));
    }
    if (LEVEL_RANK[level] < this.#minRank) return;
    const text = `${this.#redact(message)}\n`;
    if (this.#bar) {
      // Print above the bar: clear its line, write, let the bar redraw on its next update.
      if (this.#stderr.isTTY) this.#stderr.write('\r\x1b[2K');
      this.#stderr.write(text);
      this.#bar.render?.();
    } else {
      this.#stderr.write(text);
    }
  }

  /** Cell output text (--log-output), as it arrives. */
  outputText(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const clean = this.#redact(text);
    if (clean === '') return;
    if (this.#outputAsEvents) {
      const event = { type: 'output', time: new Date().toISOString(), stream, text: clean };
      this.#events?.write(`${JSON.stringify(event)}\n`);
      return;
    }
    // papermill logs each output chunk as one log record: the text, then a line break.
    this.#stderr.write(`${clean}\n`);
  }

  /** A run event: to the events channel as JSON, and to the human view. */
  event(event: RunEvent): void {
    if (this.#events) this.#events.write(`${this.#redact(JSON.stringify(event))}\n`);
    switch (event.type) {
      case 'started':
        this.#cellsTotal = event.cellsTotal;
        this.log('INFO', `Executing notebook with kernel: ${event.kernel}`);
        this.#startBar();
        break;
      case 'cell_started':
        this.#bar?.update(this.#cellsDone, { cell: `cell ${event.cellIndex}` });
        this.log('DEBUG', `Executing cell ${event.cellIndex}`);
        break;
      case 'cell_finished':
        this.#cellsDone += 1;
        this.#bar?.update(this.#cellsDone, { cell: `cell ${event.cellIndex}` });
        this.log('DEBUG', `Cell ${event.cellIndex} ${event.status} in ${event.durationMs} ms`);
        break;
      case 'saved':
        this.log('DEBUG', `Saved (${event.reason}) ${event.uri} in ${event.durationMs} ms`);
        break;
      case 'save_failed':
        this.log('WARNING', `Saving (${event.reason}) ${event.uri} failed: ${event.message}`);
        break;
      case 'log':
        this.log(
          event.level === 'warn' ? 'WARNING' : event.level === 'error' ? 'ERROR' : 'INFO',
          event.message,
        );
        break;
      case 'finished':
        this.#stopBar();
        break;
    }
  }

  #startBar(): void {
    if (!this.#wantBar || this.#bar) return;
    const tty = Boolean(this.#stderr.isTTY);
    this.#bar = new cliProgress.SingleBar(
      {
        stream: this.#stderr as unknown as NodeJS.WritableStream,
        format: 'Executing |{bar}| {value}/{total} cells | {cell} | {duration_formatted}',
        barsize: 30,
        hideCursor: tty,
        noTTYOutput: !tty,
        notTTYSchedule: 2000,
        etaBuffer: 20,
        fps: 10,
      },
      cliProgress.Presets.shades_classic,
    );
    this.#bar.start(this.#cellsTotal, 0, { cell: 'starting' });
  }

  #stopBar(): void {
    if (!this.#bar) return;
    this.#bar.stop();
    this.#bar = undefined;
  }

  /** The one-line summary on stderr. */
  summary(summary: RunSummary, outputUri: string): void {
    this.#stopBar();
    const secs = (summary.durationMs / 1000).toFixed(1);
    const cells = `${summary.cellsDone}/${summary.cellsTotal} cells`;
    if (summary.status === 'succeeded') {
      this.log('INFO', `nes-run: succeeded in ${secs}s, ${cells}, output ${outputUri}`);
      return;
    }
    const e = summary.error;
    const cause = e
      ? ` (${e.class}${typeof e.cellNumber === 'number' ? ` at cell ${e.cellNumber}` : ''}): ${e.ename}${e.evalue ? `: ${e.evalue}` : ''}`
      : '';
    this.log(
      'ERROR',
      `nes-run: ${summary.status}${cause}; ${cells} in ${secs}s, output ${outputUri}`,
    );
  }

  async close(): Promise<void> {
    this.#stopBar();
    const events = this.#events;
    if (events && this.#ownsEvents) {
      await new Promise<void>((resolve) => (events as WriteStream).end(resolve));
    }
  }
}

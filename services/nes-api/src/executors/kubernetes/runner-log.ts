/**
 * What the runner's log says while it runs. In the pod, nes-run prints its run events as JSON
 * lines on stdout (`--json`) and its human log on stderr; the kubelet interleaves both in the
 * pod's log. Events become progress, `running` and `saved` updates; cell output arrives as
 * `output` events (`--log-output` with `--json`) and becomes `stdout`/`stderr` log updates, the
 * same shape the local executor reports; human lines become `runner` log updates. The run's end
 * is never read from here: the Job and the pod's exit decide it.
 */
import { MAX_FORWARDED_OUTPUT_BYTES } from '@nes/runner';
import type { RunProgress } from '../../runs/run-model.ts';
import type { ExecutorUpdate } from '../executor.ts';

const EVENT_TYPES = new Set([
  'started',
  'cell_started',
  'cell_finished',
  'saved',
  'save_failed',
  'log',
  'output',
  'finished',
]);

interface RunnerEvent {
  type: string;
  time: string;
  cellsTotal?: number;
  cellIndex?: number;
  uri?: string;
  stream?: unknown;
  text?: unknown;
}

function asEvent(text: string): RunnerEvent | null {
  if (!text.startsWith('{"type":')) return null;
  try {
    const event = JSON.parse(text) as RunnerEvent;
    return EVENT_TYPES.has(event.type) && typeof event.time === 'string' ? event : null;
  } catch {
    return null;
  }
}

export class RunnerLogReader {
  readonly #runId: string;
  #progress: RunProgress = { cellsDone: 0, cellsTotal: 0, currentCell: null };
  #outputUri: string | null = null;
  /** Cell output bytes reported so far; past the cap one notice, then nothing (as locally). */
  #outputBytes = 0;

  constructor(runId: string) {
    this.#runId = runId;
  }

  get outputUri(): string | null {
    return this.#outputUri;
  }

  /** The updates one log line calls for (often none). */
  read(time: string, text: string): ExecutorUpdate[] {
    const runId = this.#runId;
    const event = asEvent(text);
    if (event === null) {
      return text.trim() === '' ? [] : [{ type: 'log', runId, time, stream: 'runner', text }];
    }
    switch (event.type) {
      case 'started':
        this.#progress = { cellsDone: 0, cellsTotal: event.cellsTotal ?? 0, currentCell: null };
        return [
          { type: 'running', runId, time: event.time },
          { type: 'progress', runId, progress: { ...this.#progress } },
        ];
      case 'cell_started':
        this.#progress = { ...this.#progress, currentCell: event.cellIndex ?? null };
        return [{ type: 'progress', runId, progress: { ...this.#progress } }];
      case 'cell_finished':
        this.#progress = { ...this.#progress, cellsDone: this.#progress.cellsDone + 1 };
        return [{ type: 'progress', runId, progress: { ...this.#progress } }];
      case 'output':
        return this.#output(time, event);
      case 'saved':
        if (event.uri === undefined || event.uri === this.#outputUri) return [];
        this.#outputUri = event.uri;
        return [{ type: 'saved', runId, outputUri: event.uri }];
      default:
        // `log` events repeat the human lines on stderr; `finished` is the pod's exit to judge.
        return [];
    }
  }

  #output(time: string, event: RunnerEvent): ExecutorUpdate[] {
    const { stream, text } = event;
    if ((stream !== 'stdout' && stream !== 'stderr') || typeof text !== 'string' || text === '') {
      return [];
    }
    if (this.#outputBytes >= MAX_FORWARDED_OUTPUT_BYTES) return [];
    this.#outputBytes += Buffer.byteLength(text);
    const over = this.#outputBytes >= MAX_FORWARDED_OUTPUT_BYTES;
    return [
      {
        type: 'log',
        runId: this.#runId,
        time,
        stream,
        text: over
          ? `${text}\n[output past ${MAX_FORWARDED_OUTPUT_BYTES} bytes not logged]\n`
          : text,
      },
    ];
  }
}

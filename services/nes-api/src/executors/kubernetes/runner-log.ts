/**
 * What the runner's log says while it runs. In the pod, nes-run prints its run events as JSON
 * lines on stdout (`--json`) and its human log on stderr; the kubelet interleaves both in the
 * pod's log. Events become progress, `running` and `saved` updates; human lines become log
 * updates. The run's end is never read from here: the Job and the pod's exit decide it.
 */
import type { RunProgress } from '../../runs/run-model.ts';
import type { ExecutorUpdate } from '../executor.ts';

const EVENT_TYPES = new Set([
  'started',
  'cell_started',
  'cell_finished',
  'saved',
  'save_failed',
  'log',
  'finished',
]);

interface RunnerEvent {
  type: string;
  time: string;
  cellsTotal?: number;
  cellIndex?: number;
  uri?: string;
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
      case 'saved':
        if (event.uri === undefined || event.uri === this.#outputUri) return [];
        this.#outputUri = event.uri;
        return [{ type: 'saved', runId, outputUri: event.uri }];
      default:
        // `log` events repeat the human lines on stderr; `finished` is the pod's exit to judge.
        return [];
    }
  }
}

/**
 * Where an executor's updates go: every listener gets each update, in the order they were added;
 * a listener that throws is logged and never keeps the update from the others.
 */
import type { LogFields } from '../service-log.ts';
import type { ExecutorUpdate } from './executor.ts';

type Listener = (update: ExecutorUpdate) => void;

export class UpdateListeners {
  readonly #listeners: Listener[] = [];
  readonly #log: (level: 'error', message: string, fields?: LogFields) => void;

  constructor(log: (level: 'error', message: string, fields?: LogFields) => void) {
    this.#log = log;
  }

  add(listener: Listener): void {
    this.#listeners.push(listener);
  }

  emit(update: ExecutorUpdate): void {
    for (const listener of this.#listeners) {
      try {
        listener(update);
      } catch (error) {
        this.#log('error', `run ${update.runId}: an update listener threw: ${String(error)}`, {
          runId: update.runId,
        });
      }
    }
  }
}

/**
 * The output notebook in a store as the engine's sink, the one way for nes-run and the worker:
 * the final save records the run's outcome on the object (`nes-status`), a local store is
 * written at every save asked for (cheap; a remote store keeps its one write per second), and the
 * final save is tried once here because the engine's Autosaver retries it already (retries in
 * both would multiply).
 */
import type { ObjectStore } from '@nes/stores/local';
import { StoreNotebookSink } from '@nes/stores/local';
import type { NotebookSink } from './execution-types.ts';

interface OutputSinkOptions {
  runId?: string | undefined;
  /** A local directory store: no throttle between saves. */
  local: boolean;
  /** How the location is shown and reported (default: the store's URI of the object). */
  uri?: string;
}

export function storeOutputSink(
  store: ObjectStore,
  key: string,
  options: OutputSinkOptions,
): NotebookSink {
  const sink = new StoreNotebookSink(store, key, {
    ...(options.runId === undefined ? {} : { runId: options.runId }),
    finalAttempts: 1,
    ...(options.local ? { minIntervalMs: 0 } : {}),
  });
  return {
    uri: options.uri ?? sink.uri,
    write: (notebook, reason) => {
      if (reason === 'final') {
        sink.setStatus(notebook.metadata.papermill?.exception === true ? 'failed' : 'succeeded');
      }
      return sink.write(notebook, reason);
    },
  };
}

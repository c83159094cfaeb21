/**
 * Where nes-run writes: OUTPUT, --manifest and --store locations turned into a store and a key
 * (@nes/stores), and the notebook sinks over them. A local OUTPUT is written exactly where
 * papermill would write it (the path given, relative to the working directory), atomically,
 * with no sidecar files; gs:// goes through the GCS store (STORAGE_EMULATOR_HOST honoured).
 */
import { statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Notebook, parameterizePath, serializeNotebookChunks } from '@nes/notebook';
import {
  checkKey,
  isStoreError,
  LocalStore,
  type ObjectStore,
  openStore,
  type RunArtifacts,
} from '@nes/stores/local';
import type { NotebookSink } from '../execution-types.ts';
import { storeOutputSink } from '../output-sink.ts';
import { usageError } from './cli-error.ts';

export interface Place {
  store: ObjectStore;
  key: string;
  /** gs://bucket/key or file:///abs/path: what manifests record. */
  uri: string;
  /** What people read: the absolute path for local files, the URI otherwise. */
  shown: string;
  local: boolean;
}

/**
 * A single object location: a local path, file:///abs/path or gs://bucket/object. The GCS
 * client library is loaded only for gs:// locations.
 */
export async function placeOf(what: string, location: string): Promise<Place> {
  if (/^gs:\/\//i.test(location)) {
    const match = /^gs:\/\/([^/]+)\/(.+)$/i.exec(location);
    if (!match?.[1] || !match[2]) {
      throw usageError(`${what} ${location}: expected gs://bucket/path/to/object`);
    }
    let key: string;
    try {
      key = checkKey(match[2]);
    } catch (error) {
      throw usageError(`${what} ${location}: ${(error as Error).message}`);
    }
    const store = await openStore(`gs://${match[1]}`);
    const uri = store.uriOf(key);
    return { store, key, uri, shown: uri, local: false };
  }
  const path = resolve(/^file:\/\//i.test(location) ? fileURLToPath(location) : location);
  if (isDirectory(path)) {
    throw usageError(`${what} ${location} is a directory: name the file to write`);
  }
  let key: string;
  try {
    key = checkKey(basename(path));
  } catch (error) {
    throw usageError(`${what} ${location}: ${(error as Error).message}`);
  }
  const store = new LocalStore(dirname(path), { sidecars: false });
  return { store, key, uri: store.uriOf(key), shown: path, local: true };
}

/** A --store location: gs://bucket/prefix, file:///dir or a directory. */
export async function openRunStore(location: string): Promise<ObjectStore> {
  try {
    return await openStore(location);
  } catch (error) {
    if (isStoreError(error)) throw usageError(`--store ${location}: ${error.message}`);
    throw error;
  }
}

/** The notebook sink for one place (output-sink.ts), named for people: the summary, saves. */
export function sinkFor(place: Place, options: { runId?: string | undefined } = {}): NotebookSink {
  return storeOutputSink(place.store, place.key, {
    runId: options.runId,
    local: place.local,
    uri: place.shown,
  });
}

/** Several destinations written together (the --store layout and a copy at OUTPUT). */
export class TeeSink implements NotebookSink {
  readonly uri: string;
  readonly #sinks: NotebookSink[];
  constructor(sinks: NotebookSink[]) {
    this.#sinks = sinks;
    this.uri = sinks.map((sink) => sink.uri).join(' and ');
  }
  async write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void> {
    const results = await Promise.allSettled(this.#sinks.map((s) => s.write(notebook, reason)));
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`${this.#sinks[i]?.uri}: ${messageOf(r.reason)}`] : [],
    );
    if (failures.length > 0) throw new Error(failures.join('; '));
  }
}

/** OUTPUT "-": the notebook goes to stdout once, at the end (papermill saves it just once). */
export class StdoutSink implements NotebookSink {
  readonly uri = '(stdout)';
  readonly #write: (text: string) => Promise<void>;
  constructor(write: (text: string) => Promise<void>) {
    this.#write = write;
  }
  async write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void> {
    if (reason !== 'final') return;
    for (const chunk of serializeNotebookChunks(notebook)) await this.#write(chunk);
  }
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** papermill's parameterize_path: OUTPUT (and INPUT, --manifest) templated with the parameters. */
export function templatePath(
  what: string,
  path: string,
  pathParams: Record<string, unknown>,
): string {
  try {
    return parameterizePath(path, pathParams);
  } catch (err) {
    throw usageError(`${what} ${path}: ${(err as Error).message}`);
  }
}

/** The run layout's output notebook as a place (--store). */
export function artifactPlace(artifacts: RunArtifacts): Place {
  const uri = artifacts.store.uriOf(artifacts.keys.output);
  const local = artifacts.store instanceof LocalStore;
  return {
    store: artifacts.store,
    key: artifacts.keys.output,
    uri,
    shown: local ? fileURLToPath(uri) : uri,
    local,
  };
}

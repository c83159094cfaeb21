/**
 * Where one run's artifacts go in a store, and its manifest.
 *
 *   runs/<run-id>/input.ipynb      the notebook as fetched (create-only: a run is immutable)
 *   runs/<run-id>/output.ipynb     the executed notebook (autosaved, then final)
 *   runs/<run-id>/manifest.json    spec and result (see RunManifest)
 *   runs/<run-id>/logs/runner.log  the runner's log
 *
 * The output can go elsewhere instead: an explicit key, or a papermill-style template filled
 * from the parameters (`reports/{region}/{pm[run_uuid]}.ipynb`, @nes/notebook parameterizePath).
 * The manifest records where each artifact went, as URIs.
 */
import type { Readable } from 'node:stream';
import { parameterizePath } from '@nes/notebook';
import { isStoreError, StoreError } from './errors.ts';
import { checkKey } from './keys.ts';
import {
  NOTEBOOK_CONTENT_TYPE,
  StoreNotebookSink,
  type StoreNotebookSinkOptions,
} from './notebook-sink.ts';
import type { ObjectInfo, ObjectStore } from './types.ts';

export const RUNS_PREFIX = 'runs/';
export const MANIFEST_VERSION = 1;

export interface RunManifest {
  version: typeof MANIFEST_VERSION;
  runId: string;
  status: string;
  source: { uri: string; ref: string | null; commitSha: string | null };
  parameters: Record<string, unknown>;
  kernel: string | null;
  timings: {
    createdAt: string | null;
    startedAt: string | null;
    finishedAt: string | null;
    durationMs: number | null;
  };
  error: { class: string; ename: string; evalue: string; cellIndex: number | null } | null;
  /**
   * URIs (gs://... or file://...) of each artifact written. A manifest written beside a plain
   * output (nes-run --manifest) has no stored input copy or log: those are null there.
   */
  artifacts: { input: string | null; output: string | null; manifest: string; log: string | null };
  /**
   * What the notebook recorded (the runner's results document: values by name, each result
   * in detail, the nes.exit value); absent when the notebook never ran.
   */
  results?: object;
  /** Anything else the writer records (image, labels, runner version...). */
  extra?: Record<string, unknown>;
}

export type RunManifestInput = Omit<RunManifest, 'version' | 'runId' | 'artifacts' | 'timings'> & {
  timings?: Partial<RunManifest['timings']>;
};

export interface RunKeys {
  input: string;
  output: string;
  manifest: string;
  log: string;
}

/** Run ids become a key segment: letters, digits, `-`, `_`, `.`; 1 to 128 characters. */
export function checkRunId(runId: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) {
    throw new StoreError('invalid_key', `invalid run id ${JSON.stringify(runId)}`);
  }
  return runId;
}

export function runKeys(runId: string, output?: string): RunKeys {
  const base = `${RUNS_PREFIX}${checkRunId(runId)}/`;
  return {
    input: `${base}input.ipynb`,
    output: checkKey(output ?? `${base}output.ipynb`),
    manifest: `${base}manifest.json`,
    log: `${base}logs/runner.log`,
  };
}

/** papermill's output path templating, with the result checked as a store key. */
export function outputKeyFromTemplate(
  template: string,
  parameters: Record<string, unknown>,
): string {
  return checkKey(parameterizePath(template, parameters));
}

export class RunArtifacts {
  readonly store: ObjectStore;
  readonly runId: string;
  readonly keys: RunKeys;

  /** `output`: a key for the output notebook instead of `runs/<id>/output.ipynb`. */
  constructor(store: ObjectStore, runId: string, options: { output?: string } = {}) {
    this.store = store;
    this.runId = checkRunId(runId);
    this.keys = runKeys(runId, options.output);
  }

  get uris(): { input: string; output: string; manifest: string; log: string } {
    return {
      input: this.store.uriOf(this.keys.input),
      output: this.store.uriOf(this.keys.output),
      manifest: this.store.uriOf(this.keys.manifest),
      log: this.store.uriOf(this.keys.log),
    };
  }

  /**
   * Keeps the notebook exactly as fetched, once per run id: a run's input never changes. The same
   * run again (nes-run retried with its --run-id, a replacement pod, a relaunched worker) finds
   * its own copy with the same bytes and goes on; other bytes under the run id are refused with
   * the store's `already_exists`, the kept copy untouched.
   */
  async keepInput(bytes: Uint8Array | string): Promise<void> {
    try {
      await this.store.put(this.keys.input, bytes, {
        contentType: NOTEBOOK_CONTENT_TYPE,
        metadata: { 'nes-run-id': this.runId },
        ifNotExists: true,
      });
    } catch (error) {
      if (!isStoreError(error, 'already_exists')) throw error;
      const kept = await this.store.get(this.keys.input).catch(() => null);
      if (kept === null || !Buffer.from(kept).equals(Buffer.from(bytes))) throw error;
    }
  }

  outputSink(options: Omit<StoreNotebookSinkOptions, 'runId'> = {}): StoreNotebookSink {
    return new StoreNotebookSink(this.store, this.keys.output, { ...options, runId: this.runId });
  }

  writeLog(body: string | Uint8Array | Readable): Promise<ObjectInfo> {
    return this.store.put(this.keys.log, body, {
      contentType: 'text/plain; charset=utf-8',
      metadata: { 'nes-run-id': this.runId },
    });
  }

  /** Writes (or rewrites: at start, then at the end) the manifest, artifacts filled in. */
  async writeManifest(input: RunManifestInput): Promise<RunManifest> {
    const manifest: RunManifest = {
      version: MANIFEST_VERSION,
      runId: this.runId,
      status: input.status,
      source: input.source,
      parameters: input.parameters,
      kernel: input.kernel,
      timings: {
        createdAt: input.timings?.createdAt ?? null,
        startedAt: input.timings?.startedAt ?? null,
        finishedAt: input.timings?.finishedAt ?? null,
        durationMs: input.timings?.durationMs ?? null,
      },
      error: input.error,
      artifacts: this.uris,
      ...(input.results === undefined ? {} : { results: input.results }),
      ...(input.extra === undefined ? {} : { extra: input.extra }),
    };
    await this.store.put(this.keys.manifest, `${JSON.stringify(manifest, null, 2)}\n`, {
      contentType: 'application/json',
      metadata: { 'nes-run-id': this.runId, 'nes-status': manifest.status },
    });
    return manifest;
  }

  /** The manifest, or null when none was written yet. */
  async readManifest(): Promise<RunManifest | null> {
    try {
      return JSON.parse((await this.store.get(this.keys.manifest)).toString('utf8')) as RunManifest;
    } catch (error) {
      if (error instanceof StoreError && error.code === 'not_found') return null;
      throw error;
    }
  }
}

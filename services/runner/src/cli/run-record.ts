/**
 * What nes-run leaves beside the notebook for executors: the run manifest (spec and result as
 * JSON, packages/stores' RunManifest) and the run's human log. Parameters whose names look
 * secret are masked here, as in log lines.
 */
import { randomBytes } from 'node:crypto';
import { EXIT_INFRA, EXIT_SOURCE } from '@nes/run-contract';
import { isSourceError } from '@nes/sources';
import {
  MANIFEST_VERSION,
  type ObjectStore,
  type RunArtifacts,
  type RunManifest,
} from '@nes/stores/local';
import type { RunFailure, RunSummary } from '../execution-types.ts';
import { type RunResults, resultsDocument } from '../results.ts';
import type { CliOptions } from './args.ts';
import { asCliError, type InputRecord } from './input.ts';
import { messageOf, type Place } from './places.ts';
import type { Reporter } from './reporter.ts';
import { maskParameters } from './secrets.ts';

/** A run id for --store / --manifest when none is given: sortable by time, unique enough. */
export function generateRunId(now = new Date()): string {
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

interface ManifestFacts {
  runId: string;
  status: string;
  input: InputRecord | null;
  /** The INPUT as given, when nothing was fetched (a source error). */
  inputUri: string;
  ref: string | null;
  parameters: Record<string, unknown>;
  kernel: string | null;
  startedAt: Date;
  finishedAt: Date;
  error: RunFailure | null;
  artifacts: RunManifest['artifacts'];
  extra: Record<string, unknown>;
  results?: RunResults | null;
}

function buildManifest(facts: ManifestFacts): RunManifest {
  const input = facts.input;
  const source = {
    uri: input?.uri ?? facts.inputUri,
    ref: input?.ref ?? facts.ref,
    commitSha: input?.commitSha ?? null,
    pinnedUri: input?.pinnedUri ?? null,
    kind: input?.kind ?? null,
  };
  return {
    version: MANIFEST_VERSION,
    runId: facts.runId,
    status: facts.status,
    source,
    parameters: maskParameters(facts.parameters),
    kernel: facts.kernel,
    timings: {
      createdAt: null,
      startedAt: facts.startedAt.toISOString(),
      finishedAt: facts.finishedAt.toISOString(),
      durationMs: facts.finishedAt.getTime() - facts.startedAt.getTime(),
    },
    error: facts.error,
    ...(facts.results ? { results: resultsDocument(facts.results) } : {}),
    artifacts: facts.artifacts,
    extra: { ...facts.extra, ...(input?.source ? { sourceRecord: input.source } : {}) },
  };
}

async function putManifest(store: ObjectStore, key: string, manifest: RunManifest): Promise<void> {
  // Parameters may hold bigints (-p integers beyond 2^53): written as their decimal text.
  const text = JSON.stringify(
    manifest,
    (_key, value) =>
      typeof value === 'bigint'
        ? value.toString()
        : value instanceof Map
          ? Object.fromEntries(value)
          : value,
    2,
  );
  await store.put(key, `${text}\n`, {
    contentType: 'application/json',
    metadata: { 'nes-run-id': manifest.runId, 'nes-status': manifest.status },
  });
}

/** The run's human log lines, timestamped, for logs/runner.log. */
export class LogRecorder {
  readonly #lines: string[] = [];
  add(level: string, message: string): void {
    this.#lines.push(`${new Date().toISOString()} ${level} ${message}`);
  }
  text(): string {
    return this.#lines.map((line) => `${line}\n`).join('');
  }
}

interface RunRecorderOptions {
  options: CliOptions;
  params: Record<string, unknown>;
  runId: string | undefined;
  artifacts: RunArtifacts | null;
  manifestPlace: Place | null;
  outputPlace: Place | null;
  inputUri: string;
  startedAt: Date;
  runLog: LogRecorder;
  reporter: Reporter;
}

interface RunResult {
  status: string;
  error: RunFailure | null;
  summary?: RunSummary | null;
  /** Where the notebook went when its final save failed. */
  rescued?: string | null;
  results?: RunResults | null;
}

/**
 * Writes the run's record at the end, whatever the outcome: logs/runner.log, then the manifest
 * (--store layout and/or --manifest). A record that cannot be written turns success into infra.
 */
export class RunRecorder {
  readonly #o: RunRecorderOptions;
  input: InputRecord | null = null;
  kernel: string | null = null;
  inputWritten = false;
  outputStarted = false;

  constructor(options: RunRecorderOptions) {
    this.#o = options;
  }

  get active(): boolean {
    return this.#o.artifacts !== null || this.#o.manifestPlace !== null;
  }

  /** A failure to fetch the source: recorded (manifest, log), returned as the error to throw. */
  async sourceFailure(error: unknown): Promise<unknown> {
    const cliError = asCliError(error);
    if (!isSourceError(error) || !this.active) return cliError;
    this.#o.runLog.add('ERROR', `nes-run: error: ${messageOf(cliError)}`);
    await this.finish(EXIT_SOURCE, {
      status: 'failed',
      error: { class: 'source', ename: error.code, evalue: error.message, cellIndex: null },
    });
    return cliError;
  }

  async finish(code: number, result: RunResult): Promise<number> {
    const { artifacts, manifestPlace, reporter } = this.#o;
    if (!this.active || this.#o.runId === undefined) return code;
    let failed = false;
    if (artifacts) {
      try {
        await artifacts.writeLog(this.#o.runLog.text());
      } catch (error) {
        failed = true;
        reporter.log('ERROR', `nes-run: infra: cannot write the run log: ${messageOf(error)}`);
      }
    }
    const uris = artifacts?.uris;
    const manifestUri = uris?.manifest ?? manifestPlace?.uri ?? '';
    const summary = result.summary ?? null;
    const manifest = buildManifest({
      runId: this.#o.runId,
      status: result.status,
      input: this.input,
      inputUri: this.#o.inputUri,
      ref: this.#o.options.ref ?? null,
      parameters: this.#o.params,
      kernel: this.kernel,
      startedAt: this.#o.startedAt,
      finishedAt: new Date(),
      error: result.error,
      results: result.results ?? null,
      artifacts: {
        input: uris && this.inputWritten ? uris.input : null,
        output: this.outputStarted ? (uris?.output ?? this.#o.outputPlace?.uri ?? null) : null,
        manifest: manifestUri,
        log: uris?.log ?? null,
      },
      extra: {
        exitCode: code,
        output: this.#o.outputPlace?.uri ?? (this.#o.options.output === '-' ? '-' : null),
        ...(summary
          ? { cellsTotal: summary.cellsTotal, cellsDone: summary.cellsDone, saves: summary.saves }
          : {}),
        ...(result.rescued ? { rescuedOutput: result.rescued } : {}),
      },
    });
    const targets: Array<[ObjectStore, string, string]> = [];
    if (artifacts) targets.push([artifacts.store, artifacts.keys.manifest, manifestUri]);
    if (manifestPlace) targets.push([manifestPlace.store, manifestPlace.key, manifestPlace.uri]);
    for (const [store, key, uri] of targets) {
      try {
        await putManifest(store, key, manifest);
      } catch (error) {
        failed = true;
        reporter.log(
          'ERROR',
          `nes-run: infra: cannot write the manifest ${uri}: ${messageOf(error)}`,
        );
      }
    }
    return failed && code === 0 ? EXIT_INFRA : code;
  }
}

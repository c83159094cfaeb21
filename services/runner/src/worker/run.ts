/**
 * One run in a worker: fetch the notebook at the pinned commit, keep a copy of the input, prepare
 * it (prepare-run.ts, as nes-run does), take a kernel from the parent, execute, write the
 * manifest and the log. What differs from nes-run is where things come from (a run spec, not
 * flags) and where they go (the run layout of the output store, events to the parent).
 */

import {
  InvalidParameterNameError,
  type Notebook,
  parseParametersJson,
  UnsupportedLanguageError,
  UnsupportedParameterValueError,
} from '@nes/notebook';
import { exitCodeForOutcome } from '@nes/run-contract';
import {
  isSourceError,
  pinnedSourceUri,
  type ResolvedSource,
  resolveSource,
  sourceOptionsFromEnv,
} from '@nes/sources';
import { isStoreError, LocalStore, openStore, RunArtifacts } from '@nes/stores/local';
import { DEFAULT_START_TIMEOUT_MS, executeNotebook } from '../execute.ts';
import type { NotebookSink, RunEvent, RunFailure } from '../execution-types.ts';
import type { KernelClient } from '../kernel-client.ts';
import { type KernelProcess, LocalKernel } from '../local-kernel.ts';
import { storeOutputSink } from '../output-sink.ts';
import { prepareRun } from '../prepare-run.ts';
import { collectResults, resultsDocument } from '../results.ts';
import {
  type DirectKernel,
  type JupyterEndpoint,
  MAX_FORWARDED_OUTPUT_BYTES,
  type WorkerMessage,
  type WorkerResult,
  type WorkerRunSpec,
} from './protocol.ts';

/** The parent's answer to `need_kernel`. */
export interface KernelReply {
  /** A pre-started kernel; null: start one on the server. */
  kernelId: string | null;
  /** The server that kernel is on (else the spec's). */
  jupyter?: JupyterEndpoint;
  /** A kernel in the run's sandbox, reached without a server (then no kernelId or jupyter). */
  direct?: DirectKernel;
}

/** The parent's answer, and the direct kernel being attached (a promise, so never unwrapped). */
interface AskedKernel {
  reply: KernelReply | null;
  kernel?: Promise<KernelClient>;
}

/** How the executor saw a direct kernel end. */
export interface KernelExit {
  how: string;
  stderrTail: string;
}

interface WorkerIo {
  send(message: WorkerMessage): void;
  /** Asks the parent for a pre-started kernel of this name. */
  requestKernel(kernelName: string): Promise<KernelReply>;
  /** Aborted when the run must stop (cancel, or the parent went away). */
  signal: AbortSignal;
  /** Settles when the executor reports that the run's direct kernel is gone (parents that hand
   * over direct kernels must give it: it is how their death is seen). */
  kernelExit?: Promise<KernelExit>;
}

interface WorkerOutcome {
  result: WorkerResult;
  exitCode: number;
}

function failure(cls: RunFailure['class'], ename: string, evalue: string): RunFailure {
  return { class: cls, ename, evalue, cellIndex: null };
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function runWorkerSpec(spec: WorkerRunSpec, io: WorkerIo): Promise<WorkerOutcome> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const logLines: string[] = [];
  const log = (level: 'info' | 'warn' | 'error', message: string) => {
    logLines.push(`${new Date().toISOString()} ${level.toUpperCase()} ${message}`);
    io.send({
      type: 'event',
      event: { type: 'log', time: new Date().toISOString(), level, message },
    });
  };
  // The kernel is asked for at once when the run names it (every run the service submits does):
  // the sandbox is handed over and its kernel attached while the notebook is fetched and
  // prepared. Otherwise it is asked for once the notebook says which.
  const askKernel = (name: string): Promise<AskedKernel> =>
    io.requestKernel(name).then(
      (reply) => ({
        reply,
        ...(reply.direct ? { kernel: attachDirect(reply.direct, io) } : {}),
      }),
      (error: unknown) => {
        log('warn', `no pre-started kernel (${messageOf(error)}): starting one`);
        return { reply: null };
      },
    );
  let asked = spec.kernel !== null && !io.signal.aborted ? askKernel(spec.kernel) : null;
  const artifacts = new RunArtifacts(await openStore(spec.store), spec.runId);
  let executing = false;
  const end = async (
    result: Omit<WorkerResult, 'durationMs'>,
    extra: { kernel: string | null; source: ResolvedSource | null },
  ): Promise<WorkerOutcome> => {
    const full: WorkerResult = { ...result, durationMs: Math.round(performance.now() - started) };
    // A kernel asked for early and never used (the notebook could not be read or prepared).
    if (!executing && asked !== null) {
      const unused = (await asked).kernel;
      await unused?.then((kernel) => kernel.shutdown()).catch(() => undefined);
    }
    await writeRecords(artifacts, spec, full, { ...extra, startedAt, logLines });
    return {
      result: full,
      exitCode: exitCodeForOutcome(full),
    };
  };

  // 1. The notebook, at the pinned commit.
  let source: ResolvedSource;
  try {
    const pinned = pinnedSourceUri(spec.notebook, spec.ref, spec.commitSha);
    source = await resolveSource(pinned.uri, {
      ...sourceOptionsFromEnv(),
      ...(spec.githubToken ? { githubToken: spec.githubToken } : {}),
      ...(spec.localRoots ? { localRoots: spec.localRoots } : {}),
      ref: pinned.ref ?? undefined,
    });
    if (spec.commitSha !== null && source.record.commitSha !== null) {
      if (source.record.commitSha !== spec.commitSha) {
        log('warn', `read at ${source.record.commitSha}, not the pinned ${spec.commitSha}`);
      }
    }
  } catch (error) {
    const cls = isSourceError(error) && !error.transient ? 'source' : 'infra';
    const ename = isSourceError(error) ? `SourceError(${error.code})` : 'SourceError';
    log('error', `cannot read ${spec.notebook}: ${messageOf(error)}`);
    return await end(
      {
        status: 'failed',
        error: failure(cls, ename, messageOf(error)),
        cellsDone: 0,
        cellsTotal: 0,
        outputUri: null,
      },
      { kernel: spec.kernel, source: null },
    );
  }

  // 2. The input as fetched, kept once per run as nes-run keeps it: a relaunched run finds its own
  // copy; a run whose input cannot be kept, or whose notebook is no longer the one it kept, fails
  // before anything executes (what runs is always what the run's input.ipynb shows).
  try {
    await artifacts.keepInput(source.bytes);
  } catch (error) {
    const evalue = isStoreError(error, 'already_exists')
      ? `${artifacts.uris.input} already holds another notebook: the notebook changed since this run first read it`
      : `cannot keep the input notebook at ${artifacts.uris.input}: ${messageOf(error)}`;
    log('error', evalue);
    return await end(
      {
        status: 'failed',
        error: failure('infra', 'StoreError', evalue),
        cellsDone: 0,
        cellsTotal: 0,
        outputUri: null,
      },
      { kernel: spec.kernel, source },
    );
  }

  // 3. Prepared as nes-run prepares it: parameterize -> papermill metadata -> NES's record.
  const kernelName = spec.kernel ?? source.notebook.metadata.kernelspec?.name ?? null;
  let prepared: Notebook;
  try {
    if (kernelName === null) {
      throw new Error('the notebook names no kernel (metadata.kernelspec.name) and none was given');
    }
    prepared = prepareRun(source.notebook, source.record, {
      parameters: specParameters(spec),
      kernelName,
      outputPath: artifacts.uris.output,
      runId: spec.runId,
      warn: (message) => log('warn', message),
    });
  } catch (error) {
    const known =
      error instanceof UnsupportedLanguageError ||
      error instanceof UnsupportedParameterValueError ||
      error instanceof InvalidParameterNameError;
    return await end(
      {
        status: 'failed',
        error: failure(
          'source',
          known ? (error as Error).name : 'InvalidNotebook',
          messageOf(error),
        ),
        cellsDone: 0,
        cellsTotal: 0,
        outputUri: null,
      },
      { kernel: kernelName, source },
    );
  }

  // 4. A kernel: the parent's pre-started one when it has one.
  let kernelId: string | null = null;
  let jupyter: JupyterEndpoint | undefined = spec.jupyter;
  if (asked === null && !io.signal.aborted) asked = askKernel(kernelName);
  const { reply, kernel: direct } = asked === null ? { reply: null } : await asked;
  if (reply !== null) {
    kernelId = reply.kernelId;
    if (reply.jupyter) jupyter = reply.jupyter;
  }
  if (jupyter === undefined && direct === undefined) {
    const reason = io.signal.aborted ? messageOf(io.signal.reason) : 'no Jupyter Server';
    return await end(
      {
        status: io.signal.aborted ? 'cancelled' : 'failed',
        error: failure(
          io.signal.aborted ? 'cancelled' : 'infra',
          io.signal.aborted ? 'Cancelled' : 'NoKernel',
          io.signal.aborted
            ? reason
            : `no ${kernelName} kernel could be started for the run (see the service log)`,
        ),
        cellsDone: 0,
        cellsTotal: 0,
        outputUri: null,
      },
      { kernel: kernelName, source },
    );
  }

  // 5. Execute and save (the engine), then the manifest and the log.
  const elapsedMs = performance.now() - started;
  const sink = outputSink(artifacts);
  let forwarded = 0;
  executing = true;
  const executed = await executeNotebook({
    notebook: prepared,
    sink,
    kernelName,
    ...(direct !== undefined
      ? { kernel: direct }
      : {
          jupyter: {
            url: (jupyter as JupyterEndpoint).url,
            token: (jupyter as JupyterEndpoint).token,
            ...(jupyter?.rootDir !== undefined ? { rootDir: jupyter.rootDir } : {}),
            ...(kernelId !== null ? { kernelId } : {}),
          },
        }),
    ...(spec.timeoutSeconds !== null
      ? {
          deadlineMs: Math.max(0, spec.timeoutSeconds * 1000 - elapsedMs),
          timeLimitSeconds: spec.timeoutSeconds,
        }
      : {}),
    ...(spec.autosave ? { autosave: spec.autosave } : {}),
    signal: io.signal,
    onEvent: (event: RunEvent) => {
      if (event.type === 'log') {
        logLines.push(`${event.time} ${event.level.toUpperCase()} ${event.message}`);
      }
      io.send({ type: 'event', event });
    },
    onOutputText: (text, stream) => {
      if (forwarded >= MAX_FORWARDED_OUTPUT_BYTES) return;
      forwarded += Buffer.byteLength(text);
      const over = forwarded >= MAX_FORWARDED_OUTPUT_BYTES;
      io.send({
        type: 'output',
        stream,
        text: over
          ? `${text}\n[output past ${MAX_FORWARDED_OUTPUT_BYTES} bytes not logged]\n`
          : text,
      });
    },
  });
  return await end(
    {
      status: executed.status,
      error: executed.error,
      cellsDone: executed.cellsDone,
      cellsTotal: executed.cellsTotal,
      outputUri: executed.saves > 0 ? sink.uri : null,
      results: collectResults(executed.notebook),
    },
    { kernel: kernelName, source },
  );
}

/**
 * The run's kernel in its sandbox, over ZeroMQ: the executor launched it and watches it, so its
 * end is the executor's report, and ending it is asking the executor.
 */
function attachDirect(direct: DirectKernel, io: WorkerIo): Promise<KernelClient> {
  let tail = '';
  const kernelProcess: KernelProcess = {
    exited: (io.kernelExit ?? new Promise<KernelExit>(() => undefined)).then((exit) => {
      tail = exit.stderrTail;
      return exit.how;
    }),
    kill: () => io.send({ type: 'stop_kernel' }),
    stderrTail: () => tail,
    // The executor gives the kernel time to exit after the worker is done, then ends the sandbox.
    ownerEndsIt: true,
  };
  const signal = AbortSignal.any([io.signal, AbortSignal.timeout(DEFAULT_START_TIMEOUT_MS)]);
  const kernel = LocalKernel.attach(direct.spec, direct.endpoints, kernelProcess, signal);
  kernel.catch(() => undefined); // the engine awaits it and reports its failure
  return kernel;
}

/** The parameters exactly as submitted (see WorkerRunSpec.parametersJson). */
function specParameters(spec: WorkerRunSpec): Record<string, unknown> {
  return parseParametersJson(spec.parametersJson) as Record<string, unknown>;
}

/** The run layout's output notebook (reported as the store's URI of it). */
function outputSink(artifacts: RunArtifacts): NotebookSink {
  return storeOutputSink(artifacts.store, artifacts.keys.output, {
    runId: artifacts.runId,
    local: artifacts.store instanceof LocalStore,
  });
}

/** The manifest and the runner log, best effort: the notebook is what matters. */
async function writeRecords(
  artifacts: RunArtifacts,
  spec: WorkerRunSpec,
  result: WorkerResult,
  extra: {
    kernel: string | null;
    source: ResolvedSource | null;
    startedAt: string;
    logLines: string[];
  },
): Promise<void> {
  await Promise.allSettled([
    artifacts.writeManifest({
      status: result.status,
      source: {
        uri: spec.notebook,
        ref: extra.source?.record.ref ?? spec.ref,
        commitSha: extra.source?.record.commitSha ?? spec.commitSha,
      },
      parameters: specParameters(spec),
      kernel: extra.kernel,
      timings: {
        createdAt: spec.createdAt ?? null,
        startedAt: extra.startedAt,
        finishedAt: new Date().toISOString(),
        durationMs: result.durationMs,
      },
      error: result.error,
      ...(result.results ? { results: resultsDocument(result.results) } : {}),
      extra: { labels: spec.labels ?? {}, executor: 'local' },
    }),
    artifacts.writeLog(extra.logLines.length > 0 ? `${extra.logLines.join('\n')}\n` : ''),
  ]);
}

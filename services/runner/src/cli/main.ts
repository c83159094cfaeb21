/**
 * `nes-run INPUT OUTPUT [options]`: papermill's command line over `executeNotebook`.
 * The steps, in order: parse the command line; read and validate the input notebook; gather the
 * parameters; template the output path; parameterize; check the kernel; then either write the
 * prepared notebook or execute it, and exit with the code of the run's failure class.
 * Every check that can fail runs before anything is written: a usage or source error leaves no
 * output behind.
 */

import { statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  addBuiltinParameters,
  InvalidParameterNameError,
  inspectParameters,
  type Notebook,
  parameterizePath,
  prepareAsPapermill,
  serializeNotebook,
  UnsupportedLanguageError,
  UnsupportedParameterValueError,
} from '@nes/notebook';
import {
  buildResult,
  type ResultFacts as ContractResultFacts,
  EXIT_CANCELLED,
  EXIT_INFRA,
  EXIT_SUCCEEDED,
  exitCodeForOutcome,
  RESULT_FILE_ENV,
} from '@nes/run-contract';
import { fetchRepositoryContext, type RepositoryContext, type SourceOptions } from '@nes/sources';
import { isStoreError, LocalStore, RunArtifacts } from '@nes/stores/local';
import type {
  ExecuteOptions,
  ExecuteResult,
  NotebookSink,
  RunFailure,
  RunSummary,
} from '../execution-types.ts';
import { kernelSpecName } from '../kernel-names.ts';
import { collectResults, type RunResults } from '../results.ts';
import { type CliOptions, parseCommandLine } from './args.ts';
import { CliError, usageError } from './cli-error.ts';
import type { EarlyStart, EarlyTarget } from './early-start.ts';
import { cliSourceOptions, type FetchedInput, fetchInput } from './input.ts';
import { effectiveDeadlineMs } from './job-deadline.ts';
import { availableKernels } from './kernels.ts';
import { collectParameters, type ParameterValues } from './params.ts';
import {
  messageOf,
  openRunStore,
  type Place,
  placeOf,
  StdoutSink,
  sinkFor,
  TeeSink,
} from './places.ts';
import { Reporter } from './reporter.ts';
import { writeResultFile } from './result-file.ts';
import { writeResultsFile } from './results-file.ts';
import { generateRunId, LogRecorder, RunRecorder } from './run-record.ts';
import { formatValue, maskParameters, redactText, secretValues } from './secrets.ts';

/** What nes-run learned before exiting: the run contract's facts, and the results for --results-file. */
type ResultFacts = ContractResultFacts & {
  results?: RunResults | null;
  resultsFile?: string;
  runId?: string;
};

export function version(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

/**
 * Runs nes-run and resolves to its exit code. Never calls process.exit itself. With
 * NES_RESULT_FILE set, the run's result is written there on every way out (result-file.ts).
 */
export async function main(argv: string[], started: { early?: EarlyStart } = {}): Promise<number> {
  const secrets: string[] = [];
  const facts: ResultFacts = {};
  let code = EXIT_INFRA;
  try {
    code = await command(argv, secrets, facts, started.early ?? null);
    return code;
  } finally {
    const resultFile = process.env[RESULT_FILE_ENV];
    const result = buildResult(code, facts, (text) => redactText(text, secrets));
    if (resultFile) writeResultFile(resultFile, result);
    if (facts.resultsFile !== undefined) {
      writeResultsFile(facts.resultsFile, {
        runId: facts.runId,
        status: result.status,
        results: facts.results ?? null,
      });
    }
  }
}

async function command(
  argv: string[],
  secrets: string[],
  facts: ResultFacts,
  earlyFromBin: EarlyStart | null,
): Promise<number> {
  let handed = false;
  try {
    const command = await parseCommandLine(argv);
    if (command.kind === 'help') {
      await writeOut(`${command.text}\n`);
      return EXIT_SUCCEEDED;
    }
    if (command.kind === 'version') {
      await writeOut(`nes-run ${version()} (node ${process.versions.node})\n`);
      return EXIT_SUCCEEDED;
    }
    const options = command.options;
    if (options.resultsFile !== undefined) facts.resultsFile = options.resultsFile;
    const params = collectParameters({
      inputPath: options.input,
      outputPath: options.output ?? '',
      injectInputPath: options.injectInputPath,
      injectOutputPath: options.injectOutputPath,
      base64: options.parameterBase64,
      files: options.parameterFiles,
      yaml: options.parameterYaml,
      guessed: options.guessed,
      raw: options.raw,
    });
    secrets.push(...secretValues(params));
    if (options.jupyterToken) secrets.push(options.jupyterToken);
    handed = true;
    return await run(options, params, secrets, facts, earlyFromBin);
  } catch (err) {
    facts.message = err instanceof CliError ? err.message : String((err as Error)?.message ?? err);
    if (err instanceof CliError) {
      process.stderr.write(`nes-run: error: ${redactText(err.message, secrets)}\n`);
      if (err.exitCode === 2) process.stderr.write("Try 'nes-run --help' for help.\n");
      return err.exitCode;
    }
    process.stderr.write(
      `nes-run: internal error: ${redactText(String((err as Error)?.stack ?? err), secrets)}\n`,
    );
    return EXIT_INFRA;
  } finally {
    // A server the bin started on a guess, for a command line that turned out not to run.
    if (!handed) await earlyFromBin?.stop();
  }
}

async function run(
  options: CliOptions,
  params: ParameterValues,
  secrets: string[],
  facts: ResultFacts,
  earlyFromBin: EarlyStart | null,
): Promise<number> {
  const redact = (text: string) => redactText(text, secrets);
  const toStdout = options.output === '-';
  // Jupyter's client library is chatty on console.debug: only --log-level DEBUG shows it.
  if (options.logLevel !== 'DEBUG' && options.logLevel !== 'NOTSET') console.debug = () => {};
  // papermill lowers its default log level when the notebook goes to stdout.
  const logLevel = toStdout && options.logLevel === 'INFO' ? 'ERROR' : options.logLevel;
  const runLog = new LogRecorder();
  const reporter = new Reporter({
    stderr: process.stderr,
    logLevel,
    progressBar:
      options.progressBar ?? (Boolean(process.stderr.isTTY) && !options.logOutput && !toStdout),
    events: options.json ? process.stdout : options.eventsFile,
    outputAsEvents: options.json,
    redact,
    ...(options.store !== undefined
      ? { record: (level, message) => runLog.add(level, message) }
      : {}),
  });
  const startedAt = new Date();
  let contextDir: string | null = null;
  let early: EarlyStart | null = null;
  try {
    // papermill templates both paths with the parameters and its `pm` built-ins.
    const pathParams = addBuiltinParameters(params);
    const inputUri = options.input === '-' ? '-' : templatePath('INPUT', options.input, pathParams);
    const outputPath =
      options.output === null || toStdout
        ? options.output
        : templatePath('OUTPUT', options.output, pathParams);
    const sourceOptions = cliSourceOptions();
    if (sourceOptions.githubToken !== undefined) secrets.push(sourceOptions.githubToken);
    const runId =
      options.runId ??
      (options.store !== undefined || options.manifest !== undefined ? generateRunId() : undefined);
    // Every destination is checked before anything is fetched or run.
    const outputPlace =
      outputPath !== null && outputPath !== '-' ? await placeOf('OUTPUT', outputPath) : null;
    const artifacts =
      options.store !== undefined && runId !== undefined
        ? new RunArtifacts(await openRunStore(options.store), runId)
        : null;
    const manifestPlace =
      options.manifest === undefined
        ? null
        : await placeOf('--manifest', templatePath('--manifest', options.manifest, pathParams));
    facts.outputUri = artifacts?.uris.output ?? outputPlace?.uri ?? null;
    const recorder = new RunRecorder({
      options,
      params,
      runId,
      artifacts,
      manifestPlace,
      outputPlace,
      inputUri,
      startedAt,
      runLog,
      reporter,
    });

    // A run on a private server: start it now, while the notebook is fetched and prepared.
    if (!options.prepareOnly && !options.helpNotebook && !options.jupyterUrl) {
      early =
        earlyFromBin ??
        (await import('./early-start.ts')).EarlyStart.begin(options.startTimeoutSeconds * 1000);
      early.logTo((message) => reporter.log('INFO', message));
    }

    reporter.log('INFO', `Input Notebook:  ${inputUri}`);
    reporter.log('INFO', `Output Notebook: ${outputPath ?? artifacts?.uris.output}`);
    if (runId !== undefined) {
      facts.runId = runId;
      reporter.log('INFO', `Run id: ${runId}`);
    }
    let fetched: FetchedInput;
    try {
      fetched = await fetchInput(inputUri, options.ref, sourceOptions);
    } catch (error) {
      throw await recorder.sourceFailure(error);
    }
    const notebook = fetched.notebook;
    recorder.input = fetched.record;
    if (fetched.record.commitSha !== null) {
      reporter.log(
        'INFO',
        `Source: ${fetched.record.source?.repository} at ${fetched.record.ref} = ${fetched.record.commitSha}`,
      );
    }

    if (options.helpNotebook) {
      const { formatNotebookHelp } = await import('./help-notebook.ts');
      const help = formatNotebookHelp(notebook, inputUri, {
        kernelName: options.kernel,
        language: options.language,
      });
      await writeOut(help);
      return EXIT_SUCCEEDED;
    }

    const kernelName = options.kernel ?? notebook.metadata.kernelspec?.name;
    recorder.kernel = kernelName ?? null;
    const warn = (message: string) => reporter.log('WARNING', message);
    const nes: NesRecord = {
      source: {
        uri: fetched.record.uri,
        ref: fetched.record.ref,
        commitSha: fetched.record.commitSha,
        pinnedUri: fetched.record.pinnedUri,
      },
      ...(runId === undefined ? {} : { runId }),
    };
    const recordedOutput = outputPath ?? artifacts?.uris.output ?? '-';
    const prepared = prepare(notebook, params, options, kernelName, {
      inputPath: fetched.record.uri,
      outputPath: recordedOutput,
      nes,
      warn,
    });
    reporter.log('DEBUG', `Parameters: ${formatValue(maskParameters(params))}`);

    const sinks: NotebookSink[] = [];
    if (artifacts) sinks.push(sinkFor(artifactPlace(artifacts), { runId }));
    if (outputPlace) sinks.push(sinkFor(outputPlace, { runId }));
    if (toStdout) sinks.push(new StdoutSink(writeOut));
    const sink = sinks.length === 1 ? (sinks[0] as NotebookSink) : new TeeSink(sinks);

    if (options.prepareOnly) {
      try {
        await sink.write(prepared, 'final');
      } catch (error) {
        reporter.log('ERROR', `nes-run: infra: ${redact(messageOf(error))}`);
        return EXIT_INFRA;
      }
      reporter.log('INFO', `nes-run: prepared (not executed), output ${sink.uri}`);
      return EXIT_SUCCEEDED;
    }
    if (!options.jupyterUrl) {
      try {
        checkKernel(kernelName);
      } catch (error) {
        // papermill saves the notebook before it starts the kernel, so a notebook naming an
        // unknown kernel still leaves the prepared notebook behind: do the same.
        await writeUnstarted(prepared, sink, reporter);
        throw error;
      }
    }
    checkPlaces(options);

    let cwd = options.cwd;
    if (options.context) {
      contextDir = await mkdtemp(join(tmpdir(), 'nes-context-'));
      const contextCwd = await downloadContext(fetched, contextDir, options, {
        sourceOptions,
        recorder,
        reporter,
      });
      cwd ??= contextCwd;
    }
    if (kernelName) early?.startKernel(kernelName, cwd);

    if (artifacts) {
      try {
        await writeInputOnce(artifacts, fetched.bytes);
        recorder.inputWritten = true;
      } catch (error) {
        if (isStoreError(error, 'already_exists')) {
          throw usageError(
            `--run-id ${artifacts.runId}: ${artifacts.uris.input} already exists; a run id is used once`,
          );
        }
        reporter.log(
          'ERROR',
          `nes-run: infra: cannot write the input notebook to ${artifacts.uris.input}: ${messageOf(error)}`,
        );
        const storeError: RunFailure = {
          class: 'infra',
          ename: 'StoreError',
          evalue: messageOf(error),
          cellIndex: null,
        };
        Object.assign(facts, { status: 'failed', error: storeError });
        return await recorder.finish(EXIT_INFRA, { status: 'failed', error: storeError });
      }
    }

    // The engine loads Jupyter's client libraries: only a run pays for them.
    const { executeNotebook } = await import('../index.ts');
    recorder.outputStarted = true;
    // --timeout counts from nes-run's start: the server and kernel started early count too.
    const elapsedSeconds = (Date.now() - startedAt.getTime()) / 1000;
    const timeoutSeconds =
      options.timeoutSeconds === undefined
        ? undefined
        : Math.max(0, options.timeoutSeconds - elapsedSeconds);
    const outcome = await execute(
      { ...options, cwd, timeoutSeconds, timeLimitSeconds: options.timeoutSeconds },
      prepared,
      sink,
      kernelName,
      reporter,
      redact,
      executeNotebook,
      (await early?.target()) ?? null,
    );
    let code = outcome.code;
    let rescued: string | null = null;
    if (outcome.finalSaveFailed) {
      code = EXIT_INFRA;
      if (outcome.notebook) rescued = rescue(outcome.notebook, runId, reporter, sink.uri);
    }
    const results = outcome.notebook ? collectResults(outcome.notebook) : null;
    Object.assign(facts, {
      results,
      status: outcome.summary?.status ?? 'failed',
      error: outcome.summary ? outcome.summary.error : outcome.error,
      ...(outcome.summary
        ? { cellsDone: outcome.summary.cellsDone, cellsTotal: outcome.summary.cellsTotal }
        : {}),
    });
    return await recorder.finish(code, {
      status: outcome.summary?.status ?? 'failed',
      error: outcome.summary ? outcome.summary.error : outcome.error,
      summary: outcome.summary,
      rescued,
      results,
    });
  } finally {
    await early?.stop();
    if (earlyFromBin !== null && earlyFromBin !== early) await earlyFromBin.stop();
    await reporter.close();
    if (contextDir !== null) await rm(contextDir, { recursive: true, force: true });
  }
}

/**
 * The input notebook, create-only. A second attempt of the same run (a replacement pod after an
 * eviction) finds it already there: the same bytes mean the same run, anything else is refused.
 */
async function writeInputOnce(artifacts: RunArtifacts, bytes: Uint8Array): Promise<void> {
  try {
    await artifacts.writeInput(bytes);
  } catch (error) {
    if (!isStoreError(error, 'already_exists')) throw error;
    const kept = await artifacts.store.get(artifacts.keys.input).catch(() => null);
    if (kept === null || !Buffer.from(kept).equals(Buffer.from(bytes))) throw error;
  }
}

/** metadata.nes: where the notebook came from, namespaced beside papermill's record. */
interface NesRecord {
  source: { uri: string; ref: string | null; commitSha: string | null; pinnedUri: string | null };
  runId?: string;
}

function artifactPlace(artifacts: RunArtifacts): Place {
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

/**
 * --context: the repository at the pinned commit, extracted into `dir`. Returns the directory the
 * kernel should start in (the notebook's own, or the nearest that exists).
 */
async function downloadContext(
  fetched: FetchedInput,
  dir: string,
  options: CliOptions,
  deps: { sourceOptions: SourceOptions; recorder: RunRecorder; reporter: Reporter },
): Promise<string> {
  const source = fetched.record.source;
  if (fetched.record.kind !== 'github' || source === null) {
    throw usageError(
      `--context needs a GitHub INPUT (github:// or a GitHub blob URL); this one is ${fetched.record.kind}`,
    );
  }
  let context: RepositoryContext;
  try {
    context = await fetchRepositoryContext(source, dir, {
      ...deps.sourceOptions,
      ...(options.contextSubdir === undefined ? {} : { subdirectory: options.contextSubdir }),
    });
  } catch (error) {
    throw await deps.recorder.sourceFailure(error);
  }
  deps.reporter.log(
    'INFO',
    `Repository context: ${source.repository} at ${source.commitSha?.slice(0, 12)}, ${context.files} files in ${dir}`,
  );
  return contextWorkingDirectory(context, dir, options.contextSubdir);
}

/** The notebook's own directory in the downloaded repository, or the nearest that exists. */
function contextWorkingDirectory(
  context: RepositoryContext,
  dir: string,
  subdir: string | undefined,
): string {
  if (isDirectory(context.workingDirectory)) return context.workingDirectory;
  if (subdir !== undefined && isDirectory(join(dir, subdir))) return join(dir, subdir);
  return dir;
}

/** The final save failed: the notebook is not lost, it goes to a local temporary file. */
function rescue(
  notebook: Notebook,
  runId: string | undefined,
  reporter: Reporter,
  where: string,
): string | null {
  const path = join(tmpdir(), `nes-run-${runId ?? `${process.pid}-${Date.now()}`}.ipynb`);
  try {
    writeFileSync(path, serializeNotebook(notebook), { mode: 0o600 });
  } catch (error) {
    reporter.log(
      'ERROR',
      `nes-run: the notebook could not be kept locally either: ${messageOf(error)}`,
    );
    return null;
  }
  reporter.log(
    'ERROR',
    `nes-run: the notebook could not be saved to ${where}; a copy is at ${path}`,
  );
  return path;
}

function templatePath(what: string, path: string, pathParams: Record<string, unknown>): string {
  try {
    return parameterizePath(path, pathParams);
  } catch (err) {
    throw usageError(`${what} ${path}: ${(err as Error).message}`);
  }
}

function prepare(
  notebook: Notebook,
  params: ParameterValues,
  options: CliOptions,
  kernelName: string | undefined,
  record: {
    inputPath: string;
    outputPath: string;
    nes: NesRecord;
    warn: (message: string) => void;
  },
): Notebook {
  const { inputPath, outputPath, nes, warn } = record;
  if (Object.keys(params).length > 0) {
    warnUnknownParameters(notebook, params, kernelName, options.language, warn);
  }
  let prepared: Notebook;
  try {
    const result = prepareAsPapermill(notebook, params, {
      ...(kernelName !== undefined ? { kernelName } : {}),
      ...(options.language !== undefined ? { language: options.language } : {}),
      reportMode: options.reportMode,
      inputPath,
      outputPath,
    });
    for (const warning of result.warnings) warn(warning);
    prepared = result.notebook;
  } catch (err) {
    if (
      err instanceof UnsupportedLanguageError ||
      err instanceof UnsupportedParameterValueError ||
      err instanceof InvalidParameterNameError
    ) {
      throw usageError((err as Error).message);
    }
    throw err;
  }
  // NES's own record sits beside papermill's under its own key: papermill readers ignore it.
  return { ...prepared, metadata: { ...prepared.metadata, nes } };
}

/** papermill's "Passed unknown parameter" warnings, where the language can be inspected. */
function warnUnknownParameters(
  nb: Notebook,
  params: ParameterValues,
  kernelName: string | undefined,
  language: string | undefined,
  warn: (message: string) => void,
): void {
  const inspected = inspectParameters(nb, {
    ...(kernelName !== undefined ? { kernelName } : {}),
    ...(language !== undefined ? { language } : {}),
  });
  if (inspected.parameters.length === 0 && inspected.warnings.length > 0) return;
  const known = new Set(inspected.parameters.map((p) => p.name));
  for (const name of Object.keys(params)) {
    if (!known.has(name)) warn(`Passed unknown parameter: ${name}`);
  }
}

function checkKernel(kernelName: string | undefined): void {
  if (!kernelName) {
    throw usageError('the notebook names no kernel (metadata.kernelspec.name): pass -k/--kernel');
  }
  const kernels = availableKernels();
  const specName = kernelSpecName(kernelName);
  if (kernels.length > 0 && !kernels.includes(specName.toLowerCase())) {
    throw usageError(`no such kernel: ${kernelName}; available kernels: ${kernels.join(', ')}`);
  }
}

/**
 * The notebook as papermill leaves it when the kernel never starts: its notebook_start (cells
 * pending, outputs cleared) followed at once by its notebook_complete. Best effort: the refusal
 * that follows is what the user must see.
 */
async function writeUnstarted(prepared: Notebook, sink: NotebookSink, reporter: Reporter) {
  const { markNotebookComplete, nowMicros, prepareNotebook } = await import('../papermill.ts');
  const start = nowMicros();
  const nb = prepareNotebook(prepared, { startMicros: start });
  markNotebookComplete(nb, start, nowMicros());
  try {
    await sink.write(nb, 'final');
  } catch (error) {
    reporter.log('WARNING', `nes-run: could not write the prepared notebook: ${messageOf(error)}`);
  }
}

/** Mistakes the engine would only find after starting a server, found before anything starts. */
function checkPlaces(options: CliOptions): void {
  if (options.cwd !== undefined && !options.jupyterUrl && !isDirectory(options.cwd)) {
    throw usageError(`--cwd ${options.cwd}: no such directory`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function execute(
  // timeoutSeconds is what is left of the limit; timeLimitSeconds the limit as given (messages).
  options: CliOptions & { timeLimitSeconds?: number | undefined },
  notebook: Notebook,
  sink: NotebookSink,
  kernelName: string | undefined,
  reporter: Reporter,
  redact: (text: string) => string,
  executeNotebook: (options: ExecuteOptions) => Promise<ExecuteResult>,
  started: EarlyTarget | null,
): Promise<Outcome> {
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      process.stderr.write(`\nnes-run: ${signal} again: exiting now\n`);
      process.exit(EXIT_CANCELLED);
    }
    reporter.log(
      'WARNING',
      `nes-run: ${signal}: cancelling, saving the notebook (send again to exit now)`,
    );
    controller.abort(new Error(`cancelled by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const files = outputFiles(options);
  // Only stdout: the notebook is written once, at the end (as papermill does).
  const onlyStdout = options.output === '-' && options.store === undefined;
  let finalSaveFailed = false;
  const executeOptions: ExecuteOptions = {
    notebook,
    sink,
    kernelName,
    cwd: options.cwd,
    startTimeoutMs: options.startTimeoutSeconds * 1000,
    cellTimeoutMs: seconds(options.executionTimeoutSeconds),
    deadlineMs: effectiveDeadlineMs(seconds(options.timeoutSeconds), process.env, Date.now()),
    ...(options.timeLimitSeconds !== undefined
      ? { timeLimitSeconds: options.timeLimitSeconds }
      : {}),
    autosave: {
      onCellComplete: options.requestSaveOnCellExecute && !onlyStdout,
      longCellEverySeconds: onlyStdout ? 0 : options.autosaveCellEverySeconds,
      ...(options.autosaveMinIntervalSeconds !== undefined
        ? { minIntervalMs: options.autosaveMinIntervalSeconds * 1000 }
        : {}),
    },
    limits: {
      ...(options.maxOutputBytes !== undefined ? { perOutputBytes: options.maxOutputBytes } : {}),
      ...(options.maxNotebookOutputBytes !== undefined
        ? { perNotebookBytes: options.maxNotebookOutputBytes }
        : {}),
    },
    reportMode: options.reportMode,
    record: notebook.metadata.papermill ?? {},
    signal: controller.signal,
    onEvent: (event) => {
      if (event.type === 'save_failed' && event.reason === 'final') finalSaveFailed = true;
      reporter.event(event);
    },
    ...(options.jupyterUrl
      ? { jupyter: { url: options.jupyterUrl, token: options.jupyterToken } }
      : started
        ? { jupyter: started }
        : {}),
    ...(options.logOutput || files.stdout || files.stderr
      ? {
          onOutputText: (text: string, stream: 'stdout' | 'stderr') => {
            if (options.logOutput) reporter.outputText(text, stream);
            files[stream]?.push(text);
          },
        }
      : {}),
    ...(options.logOutput
      ? {
          onOutputPlainText: (text: string) => reporter.outputText(text, 'stdout'),
          // papermill's engines.py: 'Executing Cell {:-<40}' and 'Ending Cell {:-<43}'.
          onCellBoundary: (phase: 'start' | 'end', cellIndex: number) => {
            const number = String(cellIndex + 1);
            reporter.log(
              'INFO',
              phase === 'start'
                ? `Executing Cell ${number.padEnd(40, '-')}`
                : `Ending Cell ${number.padEnd(43, '-')}`,
            );
          },
        }
      : {}),
  };
  let result: ExecuteResult;
  try {
    result = await executeNotebook(executeOptions);
  } catch (err) {
    const e = err as Error & { class?: string };
    reporter.log('ERROR', `nes-run: ${e.class ?? 'infra'}: ${redact(e.message)}`);
    const error: RunFailure = {
      class: 'infra',
      ename: e.name ?? 'Error',
      evalue: redact(e.message ?? String(err)),
      cellIndex: null,
    };
    return { code: EXIT_INFRA, summary: null, error, notebook: null, finalSaveFailed };
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    files.flush();
  }
  const { notebook: finished, ...summary } = result;
  reporter.summary(summary, sink.uri);
  return {
    code: exitCodeForOutcome(summary),
    summary,
    error: summary.error,
    notebook: finished,
    finalSaveFailed,
  };
}

interface Outcome {
  code: number;
  summary: RunSummary | null;
  error: RunFailure | null;
  /** The notebook as finished (null when the run could not start). */
  notebook: Notebook | null;
  finalSaveFailed: boolean;
}

function seconds(value: number | undefined): number | undefined {
  return value === undefined ? undefined : Math.round(value * 1000);
}

/** --stdout-file / --stderr-file: the notebook's stream output, written as it comes. */
function outputFiles(options: CliOptions) {
  const chunks: { stdout?: string[]; stderr?: string[] } = {};
  const paths = { stdout: options.stdoutFile, stderr: options.stderrFile };
  for (const stream of ['stdout', 'stderr'] as const) {
    const path = paths[stream];
    if (path) {
      writeFileSync(path, '');
      chunks[stream] = [];
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    for (const stream of ['stdout', 'stderr'] as const) {
      const pending = chunks[stream];
      const path = paths[stream];
      if (pending && path && pending.length > 0) {
        writeFileSync(path, pending.join(''), { flag: 'a' });
        pending.length = 0;
      }
    }
  };
  if (chunks.stdout || chunks.stderr) {
    timer = setInterval(flush, 500);
    timer.unref();
  }
  return {
    stdout: chunks.stdout,
    stderr: chunks.stderr,
    flush: () => {
      if (timer) clearInterval(timer);
      flush();
    },
  };
}

function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    process.stdout.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

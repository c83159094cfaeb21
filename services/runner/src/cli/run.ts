/**
 * One nes-run run, as named steps in papermill's order (its execute_notebook):
 * every destination checked first (a usage error leaves nothing behind), the kernel launched
 * as soon as it is known (early-start.ts), then
 *   1. fetch        the notebook (input.ts), pinned to a commit for GitHub
 *   2. prepare      parameterize -> papermill metadata -> NES's record (prepare-run.ts, shared
 *                   with the service's runner worker)
 *   3. sinks        the run layout (--store), OUTPUT, stdout; --prepare-only writes here and stops
 *   4. check        the kernel, --cwd, --context, the input kept once per run id
 *   5. execute      and save as it goes (execute-run.ts), then the manifest, the log and the exit
 *                   code of the run's failure class (run-record.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  addBuiltinParameters,
  InvalidParameterNameError,
  type Notebook,
  UnsupportedLanguageError,
  UnsupportedParameterValueError,
} from '@nes/notebook';
import { EXIT_INFRA, EXIT_SUCCEEDED, type ResultFacts } from '@nes/run-contract';
import { isStoreError, RunArtifacts } from '@nes/stores/local';
import type { NotebookSink, RunFailure } from '../execution-types.ts';
import { type PrepareRunOptions, prepareRun } from '../prepare-run.ts';
import { collectResults, type RunResults } from '../results.ts';
import type { CliOptions } from './args.ts';
import { usageError } from './cli-error.ts';
import { downloadContext } from './context.ts';
import type { EarlyStart } from './early-start.ts';
import { execute } from './execute-run.ts';
import { cliSourceOptions, type FetchedInput, fetchInput } from './input.ts';
import { checkKernel } from './kernels.ts';
import type { ParameterValues } from './params.ts';
import {
  artifactPlace,
  isDirectory,
  messageOf,
  openRunStore,
  placeOf,
  StdoutSink,
  sinkFor,
  TeeSink,
  templatePath,
} from './places.ts';
import { Reporter } from './reporter.ts';
import { generateRunId, LogRecorder, RunRecorder } from './run-record.ts';
import { rescue, writeUnstarted } from './safe-writes.ts';
import { formatValue, maskParameters, redactText } from './secrets.ts';
import { writeOut } from './stdout.ts';
import { formatTimings, mark } from './timings.ts';

/** What nes-run learned before exiting: the run contract's facts, and the results for --results-file. */
export type NesRunFacts = ResultFacts & {
  results?: RunResults | null;
  resultsFile?: string;
  runId?: string;
};

export async function runNotebook(
  options: CliOptions,
  params: ParameterValues,
  secrets: string[],
  facts: NesRunFacts,
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

    // A run on a kernel of its own: it is launched as soon as its name is known (early-start.ts).
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
    // 1. Fetch (a ref resolved to a commit once; every read uses it).
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

    // 2. Parameterize, papermill's metadata, NES's record: as the service's runs (prepare-run.ts).
    const kernelName = options.kernel ?? notebook.metadata.kernelspec?.name;
    recorder.kernel = kernelName ?? null;
    const prepared = prepare(notebook, fetched, params, options, {
      kernelName,
      outputPath: outputPath ?? artifacts?.uris.output ?? '-',
      runId,
      warn: (message) => reporter.log('WARNING', message),
    });
    reporter.log('DEBUG', `Parameters: ${formatValue(maskParameters(params))}`);

    // 3. Where the notebook is saved: the run layout, OUTPUT, stdout; all of them as one.
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
    // 4. Before the kernel: it exists, the working directory too, the input is kept once.
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
    if (options.cwd !== undefined && !options.jupyterUrl && !isDirectory(options.cwd)) {
      throw usageError(`--cwd ${options.cwd}: no such directory`);
    }

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
        await artifacts.keepInput(fetched.bytes);
        recorder.inputWritten = true;
      } catch (error) {
        if (isStoreError(error, 'already_exists')) {
          throw usageError(
            `--run-id ${artifacts.runId}: ${artifacts.uris.input} already exists with another notebook; a run id names one run`,
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

    // 5. Execute and save (the engine), then the exit code, the manifest and the log.
    // The engine loads Jupyter's client libraries: only a run pays for them.
    const { executeNotebook } = await import('../index.ts');
    mark('engine loaded');
    recorder.outputStarted = true;
    // --timeout counts from nes-run's start: the kernel started early counts too.
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
      early?.kernel() ?? null,
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
    reporter.log('DEBUG', formatTimings());
    await reporter.close();
    if (contextDir !== null) await rm(contextDir, { recursive: true, force: true });
  }
}

/** prepareRun with papermill's refusals (unsupported language or value, bad name) as usage errors. */
function prepare(
  notebook: Notebook,
  fetched: FetchedInput,
  parameters: ParameterValues,
  options: CliOptions,
  run: Pick<PrepareRunOptions, 'kernelName' | 'outputPath' | 'runId' | 'warn'>,
): Notebook {
  try {
    return prepareRun(notebook, fetched.record, {
      ...run,
      parameters,
      language: options.language,
      reportMode: options.reportMode,
    });
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
}

/**
 * `nes-run INPUT OUTPUT [options]`: papermill's command line over `executeNotebook`.
 * The steps, in order: parse the command line; read and validate the input notebook; gather the
 * parameters; template the output path; parameterize; check the kernel; then either write the
 * prepared notebook or execute it, and exit with the code of the run's failure class.
 * Every check that can fail runs before anything is written: a usage or source error leaves no
 * output behind.
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import {
  addBuiltinParameters,
  inspectParameters,
  type Notebook,
  NotebookFormatError,
  parameterize,
  parameterizePath,
  parseNotebook,
  removeErrorMarkers,
  serializeNotebook,
  UnsupportedLanguageError,
  UnsupportedParameterValueError,
} from '@nes/notebook';
import type { ExecuteOptions, NotebookSink, RunSummary } from '../execution-types.ts';
import { type CliOptions, parseCommandLine } from './args.ts';
import {
  CliError,
  EXIT_CANCELLED,
  EXIT_INFRA,
  EXIT_SUCCEEDED,
  exitCodeForSummary,
  sourceError,
  usageError,
} from './exit-codes.ts';
import { availableKernels } from './kernels.ts';
import { collectParameters, type ParameterValues } from './params.ts';
import { Reporter } from './reporter.ts';
import { formatValue, maskParameters, redactText, secretValues } from './secrets.ts';

export function version(): string {
  const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };
  return pkg.version;
}

/** Runs nes-run and resolves to its exit code. Never calls process.exit itself. */
export async function main(argv: string[]): Promise<number> {
  let secrets: string[] = [];
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
    const params = collectParameters({
      inputPath: options.input,
      outputPath: options.output,
      injectInputPath: options.injectInputPath,
      injectOutputPath: options.injectOutputPath,
      base64: options.parameterBase64,
      files: options.parameterFiles,
      yaml: options.parameterYaml,
      guessed: options.guessed,
      raw: options.raw,
    });
    secrets = secretValues(params);
    if (options.jupyterToken) secrets.push(options.jupyterToken);
    return await run(options, params, secrets);
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`nes-run: error: ${redactText(err.message, secrets)}\n`);
      if (err.exitCode === 2) process.stderr.write("Try 'nes-run --help' for help.\n");
      return err.exitCode;
    }
    process.stderr.write(
      `nes-run: internal error: ${redactText(String((err as Error)?.stack ?? err), secrets)}\n`,
    );
    return EXIT_INFRA;
  }
}

async function run(
  options: CliOptions,
  params: ParameterValues,
  secrets: string[],
): Promise<number> {
  const redact = (text: string) => redactText(text, secrets);
  const toStdout = options.output === '-';
  // Jupyter's client library is chatty on console.debug: only --log-level DEBUG shows it.
  if (options.logLevel !== 'DEBUG' && options.logLevel !== 'NOTSET') console.debug = () => {};
  // papermill lowers its default log level when the notebook goes to stdout.
  const logLevel = toStdout && options.logLevel === 'INFO' ? 'ERROR' : options.logLevel;
  const reporter = new Reporter({
    stderr: process.stderr,
    logLevel,
    progressBar:
      options.progressBar ?? (Boolean(process.stderr.isTTY) && !options.logOutput && !toStdout),
    events: options.json ? process.stdout : options.eventsFile,
    redact,
  });
  try {
    // papermill templates both paths with the parameters and its `pm` built-ins.
    const pathParams = addBuiltinParameters(params);
    const inputPath =
      options.input === '-' ? '-' : templatePath('INPUT', options.input, pathParams);
    const outputPath = toStdout ? '-' : templatePath('OUTPUT', options.output, pathParams);
    reporter.log('INFO', `Input Notebook:  ${inputPath}`);
    reporter.log('INFO', `Output Notebook: ${outputPath}`);
    const notebook = parseInput(readInput(inputPath), inputPath);

    if (options.helpNotebook) {
      const { formatNotebookHelp } = await import('./help-notebook.ts');
      const help = formatNotebookHelp(notebook, inputPath, {
        kernelName: options.kernel,
        language: options.language,
      });
      await writeOut(help);
      return EXIT_SUCCEEDED;
    }

    const kernelName = options.kernel ?? notebook.metadata.kernelspec?.name;
    const warn = (message: string) => reporter.log('WARNING', message);
    const prepared = prepare(notebook, params, options, kernelName, inputPath, outputPath, warn);
    reporter.log('DEBUG', `Parameters: ${formatValue(maskParameters(params))}`);

    if (options.prepareOnly) {
      if (toStdout) await writeOut(serializeNotebook(prepared));
      else writeFileAtomic(outputPath, serializeNotebook(prepared));
      reporter.log('INFO', `nes-run: prepared (not executed), output ${outputPath}`);
      return EXIT_SUCCEEDED;
    }
    if (!options.jupyterUrl) checkKernel(kernelName);
    checkPlaces(options, outputPath);
    // The engine loads Jupyter's client libraries: only a run pays for them.
    const { executeNotebook, LocalFileSink } = await import('../index.ts');
    const sink: NotebookSink = toStdout
      ? new StdoutSink()
      : new LocalFileSink(ensureDir(outputPath));

    return await execute(options, prepared, sink, kernelName, reporter, redact, executeNotebook);
  } finally {
    await reporter.close();
  }
}

function readInput(path: string): string {
  try {
    return readFileSync(path === '-' ? 0 : path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why =
      e.code === 'ENOENT' ? 'no such file' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw sourceError(`cannot read input notebook ${path === '-' ? '(stdin)' : path}: ${why}`);
  }
}

function parseInput(text: string, path: string): Notebook {
  try {
    return parseNotebook(text);
  } catch (err) {
    if (err instanceof NotebookFormatError) {
      const where = err.line !== undefined ? ` (line ${err.line}, column ${err.column})` : '';
      throw sourceError(
        `${path === '-' ? '(stdin)' : path} is not a valid notebook${where}: ${err.message}`,
      );
    }
    throw err;
  }
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
  inputPath: string,
  outputPath: string,
  warn: (message: string) => void,
): Notebook {
  // Error markers of a previous papermill run go first, as in papermill.
  let nb = removeErrorMarkers(notebook);
  // papermill parameterizes only when there are parameters; with none the notebook is unchanged.
  if (Object.keys(params).length > 0) {
    warnUnknownParameters(nb, params, kernelName, options.language, warn);
    try {
      const result = parameterize(nb, params, {
        kernelName,
        language: options.language,
        reportMode: options.reportMode,
      });
      for (const warning of result.warnings) warn(warning);
      nb = result.notebook;
    } catch (err) {
      if (
        err instanceof UnsupportedLanguageError ||
        err instanceof UnsupportedParameterValueError
      ) {
        throw usageError((err as Error).message);
      }
      throw err;
    }
  }
  // papermill's prepare_notebook_metadata: report mode hides code inputs; the paths are recorded.
  const cells = options.reportMode
    ? nb.cells.map((cell) =>
        cell.cell_type === 'code'
          ? {
              ...cell,
              metadata: {
                ...cell.metadata,
                jupyter: { ...(cell.metadata.jupyter as object | undefined), source_hidden: true },
              },
            }
          : cell,
      )
    : nb.cells;
  const papermill = {
    default_parameters: {},
    parameters: {},
    environment_variables: {},
    ...nb.metadata.papermill,
    input_path: inputPath,
    output_path: outputPath,
  };
  return { ...nb, cells, metadata: { ...nb.metadata, papermill } };
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
  if (kernels.length > 0 && !kernels.includes(kernelName.toLowerCase())) {
    throw usageError(`no such kernel: ${kernelName}; available kernels: ${kernels.join(', ')}`);
  }
}

/** Mistakes the engine would only find after starting a server, found before anything starts. */
function checkPlaces(options: CliOptions, outputPath: string): void {
  if (options.cwd !== undefined && !options.jupyterUrl && !isDirectory(options.cwd)) {
    throw usageError(`--cwd ${options.cwd}: no such directory`);
  }
  if (outputPath !== '-' && isDirectory(outputPath)) {
    throw usageError(`OUTPUT ${outputPath} is a directory: name the notebook file to write`);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** OUTPUT's directory is created when missing (the start script writes into out/). */
function ensureDir(path: string): string {
  try {
    mkdirSync(dirname(resolve(path)), { recursive: true });
  } catch (err) {
    throw usageError(`cannot create the directory of OUTPUT ${path}: ${(err as Error).message}`);
  }
  return path;
}

function writeFileAtomic(path: string, text: string): void {
  ensureDir(path);
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** OUTPUT "-": the notebook goes to stdout once, at the end (papermill saves it just once). */
class StdoutSink implements NotebookSink {
  readonly uri = '(stdout)';
  async write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void> {
    if (reason === 'final') await writeOut(serializeNotebook(notebook));
  }
}

async function execute(
  options: CliOptions,
  notebook: Notebook,
  sink: NotebookSink,
  kernelName: string | undefined,
  reporter: Reporter,
  redact: (text: string) => string,
  executeNotebook: (options: ExecuteOptions) => Promise<RunSummary>,
): Promise<number> {
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
  const toStdout = options.output === '-';
  const executeOptions: ExecuteOptions = {
    notebook,
    sink,
    kernelName,
    cwd: options.cwd,
    startTimeoutMs: options.startTimeoutSeconds * 1000,
    cellTimeoutMs: seconds(options.executionTimeoutSeconds),
    deadlineMs: seconds(options.timeoutSeconds),
    autosave: {
      onCellComplete: options.requestSaveOnCellExecute && !toStdout,
      longCellEverySeconds: toStdout ? 0 : options.autosaveCellEverySeconds,
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
    onEvent: (event) => reporter.event(event),
    ...(options.jupyterUrl
      ? { jupyter: { url: options.jupyterUrl, token: options.jupyterToken } }
      : {}),
    ...(options.logOutput || files.stdout || files.stderr
      ? {
          onOutputText: (text: string, stream: 'stdout' | 'stderr') => {
            if (options.logOutput) reporter.outputText(text);
            files[stream]?.push(text);
          },
        }
      : {}),
  };
  let summary: RunSummary;
  try {
    summary = await executeNotebook(executeOptions);
  } catch (err) {
    const e = err as Error & { class?: string };
    reporter.log('ERROR', `nes-run: ${e.class ?? 'infra'}: ${redact(e.message)}`);
    return EXIT_INFRA;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    files.flush();
  }
  reporter.summary(summary, sink.uri);
  return exitCodeForSummary(summary);
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

/**
 * nes-run's command line read into its options: the flags (flags.ts) parsed, then papermill's
 * rules for INPUT and OUTPUT (piped stdin and stdout), the locations nes-run can read and write,
 * and the combinations that cannot work, each refused with a usage error (exit 2) before
 * anything runs.
 */
import { fstatSync } from 'node:fs';
import { DEFAULT_AUTOSAVE_POLICY } from '../autosave.ts';
import { usageError } from './cli-error.ts';
import { byteSize, nonEmpty, seconds } from './flag-values.ts';
import { flagParser, type LogLevel } from './flags.ts';
import { parameterFlagSources } from './params.ts';

export interface CliOptions {
  /** A local path, "-" (stdin), or a source URI (github://, GitHub blob URL, gs://, https://). */
  input: string;
  /** A local path, "-" (stdout), or gs://bucket/object; null only with --store. */
  output: string | null;
  /** GitHub ref (branch, tag or SHA) for a github:// INPUT. */
  ref: string | undefined;
  /** Download the repository at the pinned commit as the kernel's working directory. */
  context: boolean;
  /** Only this repository subdirectory (implies context). */
  contextSubdir: string | undefined;
  /** Run layout destination: gs://bucket/prefix or a directory. */
  store: string | undefined;
  runId: string | undefined;
  /** Where to write a run manifest (a local path or gs:// URI). */
  manifest: string | undefined;
  helpNotebook: boolean;
  guessed: Array<[string, string]>;
  raw: Array<[string, string]>;
  parameterFiles: string[];
  parameterYaml: string[];
  parameterBase64: string[];
  injectInputPath: boolean;
  injectOutputPath: boolean;
  kernel: string | undefined;
  language: string | undefined;
  cwd: string | undefined;
  prepareOnly: boolean;
  reportMode: boolean;
  logOutput: boolean;
  logLevel: LogLevel;
  /** undefined: papermill's default (on when writing a file and not logging output). */
  progressBar: boolean | undefined;
  stdoutFile: string | undefined;
  stderrFile: string | undefined;
  startTimeoutSeconds: number;
  executionTimeoutSeconds: number | undefined;
  requestSaveOnCellExecute: boolean;
  autosaveCellEverySeconds: number;
  /** Least time between two saves as cells complete (undefined: the policy's default). */
  autosaveMinIntervalSeconds: number | undefined;
  timeoutSeconds: number | undefined;
  jupyterUrl: string | undefined;
  jupyterToken: string | undefined;
  json: boolean;
  eventsFile: string | undefined;
  /** Where to write the run's results as JSON at the end (a local path). */
  resultsFile: string | undefined;
  maxOutputBytes: number | undefined;
  maxNotebookOutputBytes: number | undefined;
}

type ParsedCommand =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; options: CliOptions };

/** Schemes papermill reads that nes-run does not. */
const UNSUPPORTED_SCHEMES = /^(s3|abs|adl|hdfs):\/\//i;
/** OUTPUT: a local path, file://, gs:// or "-". */
const OUTPUT_SCHEMES = /^(gs|file):\/\//i;
const ANY_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

interface Tty {
  stdinPiped: boolean;
  stdoutPiped: boolean;
}

function detectTty(): Tty {
  let stdinPiped = false;
  try {
    stdinPiped = fstatSync(0).isFIFO();
  } catch {
    stdinPiped = false;
  }
  return { stdinPiped, stdoutPiped: !process.stdout.isTTY };
}

/** yargs reads a lone "-" as an empty string: carry it through the parser under another name. */
const DASH = '\u0000-';

function restoreDashes(value: unknown): unknown {
  if (value === DASH) return '-';
  if (Array.isArray(value)) return value.map(restoreDashes);
  return value;
}

export async function parseCommandLine(
  argv: string[],
  tty: Tty = detectTty(),
): Promise<ParsedCommand> {
  const y = flagParser(argv.map((word) => (word === '-' ? DASH : word)));
  const parsed = (await y.parseAsync()) as Record<string, unknown>;
  const a: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) a[key] = restoreDashes(value);
  if (a.help) return { kind: 'help', text: await y.getHelp() };
  if (a.version) return { kind: 'version' };

  if (a.engine !== undefined) {
    throw usageError(
      '--engine is not supported: nes-run has one engine, which executes through Jupyter Server',
    );
  }
  const extra = (a._ as unknown[]).map(String);
  if (extra.length > 0) throw usageError(`unexpected argument: ${extra.join(' ')}`);

  const helpNotebook = Boolean(a['help-notebook']);
  const store = nonEmpty(a.store, '--store');
  let input = a.input as string | undefined;
  let output = a.output as string | undefined | null;
  // papermill: piped stdin and one path given means the path is the output. With --store the
  // one path is the input (executors may start nes-run with a pipe on stdin).
  if (
    tty.stdinPiped &&
    input !== undefined &&
    output === undefined &&
    !helpNotebook &&
    store === undefined
  ) {
    output = input;
    input = '-';
  }
  input ??= tty.stdinPiped ? '-' : undefined;
  if (input === undefined) throw usageError("missing argument 'INPUT'");
  if (output === undefined) {
    if (store !== undefined) output = null;
    else if (!helpNotebook && !tty.stdoutPiped) throw usageError("missing argument 'OUTPUT'");
    else output = '-';
  }
  if (UNSUPPORTED_SCHEMES.test(input)) {
    throw usageError(
      `INPUT ${input}: nes-run reads local paths, -, github://, GitHub blob URLs, gs:// and https:// only`,
    );
  }
  if (output !== null && ANY_SCHEME.test(output) && !OUTPUT_SCHEMES.test(output)) {
    throw usageError(`OUTPUT ${output}: nes-run writes local paths, gs:// URIs and - only`);
  }
  const manifest = nonEmpty(a.manifest, '--manifest');
  if (manifest !== undefined && ANY_SCHEME.test(manifest) && !OUTPUT_SCHEMES.test(manifest)) {
    throw usageError(`--manifest ${manifest}: expected a local path or a gs:// URI`);
  }
  if (store !== undefined && ANY_SCHEME.test(store) && !OUTPUT_SCHEMES.test(store)) {
    throw usageError(`--store ${store}: expected gs://bucket/prefix or a directory`);
  }
  const runId = nonEmpty(a['run-id'], '--run-id');
  if (runId !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(runId)) {
    throw usageError(
      `--run-id ${runId}: expected letters, digits, ".", "_" or "-" (1 to 128, starting with a letter or digit)`,
    );
  }
  const contextSubdir = nonEmpty(a['context-subdir'], '--context-subdir');

  const json = Boolean(a.json);
  if (json && output === '-') {
    throw usageError(
      '--json prints events on stdout, which carries the notebook when OUTPUT is -: use --events-file PATH',
    );
  }

  const inject = Boolean(a['inject-paths']);
  const parameters = parameterFlagSources(a);
  const options: CliOptions = {
    input,
    output,
    ref: nonEmpty(a.ref, '--ref'),
    context: Boolean(a.context) || contextSubdir !== undefined,
    contextSubdir,
    store,
    runId,
    manifest,
    helpNotebook,
    guessed: parameters.guessed,
    raw: parameters.raw,
    parameterFiles: parameters.files,
    parameterYaml: parameters.yaml,
    parameterBase64: parameters.base64,
    injectInputPath: inject || Boolean(a['inject-input-path']),
    injectOutputPath: inject || Boolean(a['inject-output-path']),
    kernel: a.kernel as string | undefined,
    language: a.language as string | undefined,
    cwd: a.cwd as string | undefined,
    prepareOnly: Boolean(a['prepare-only']) && !a['prepare-execute'],
    reportMode: Boolean(a['report-mode']) && !a['not-report-mode'],
    logOutput: Boolean(a['log-output']),
    logLevel: a['log-level'] as LogLevel,
    progressBar: a['progress-bar'] as boolean | undefined,
    stdoutFile: a['stdout-file'] as string | undefined,
    stderrFile: a['stderr-file'] as string | undefined,
    startTimeoutSeconds: seconds(a['start-timeout'], '--start-timeout') ?? 60,
    executionTimeoutSeconds: seconds(a['execution-timeout'], '--execution-timeout'),
    requestSaveOnCellExecute: a['request-save-on-cell-execute'] !== false,
    autosaveCellEverySeconds:
      seconds(a['autosave-cell-every'], '--autosave-cell-every', true) ??
      DEFAULT_AUTOSAVE_POLICY.longCellEverySeconds,
    autosaveMinIntervalSeconds: seconds(a['autosave-min-interval'], '--autosave-min-interval'),
    timeoutSeconds: seconds(a.timeout, '--timeout'),
    jupyterUrl: a['jupyter-url'] as string | undefined,
    jupyterToken: (a['jupyter-token'] as string | undefined) ?? process.env.NES_JUPYTER_TOKEN,
    json,
    eventsFile: a['events-file'] as string | undefined,
    resultsFile: nonEmpty(a['results-file'], '--results-file'),
    maxOutputBytes: byteSize(a['max-output-bytes'], '--max-output-bytes'),
    maxNotebookOutputBytes: byteSize(a['max-notebook-output-bytes'], '--max-notebook-output-bytes'),
  };
  if (options.jupyterToken !== undefined && options.jupyterUrl === undefined) {
    if (a['jupyter-token'] !== undefined) throw usageError('--jupyter-token needs --jupyter-url');
    options.jupyterToken = undefined;
  }
  if (options.jupyterUrl !== undefined && !/^https?:\/\/[^/]/.test(options.jupyterUrl)) {
    throw usageError(`--jupyter-url ${options.jupyterUrl}: expected an http(s):// URL`);
  }
  return { kind: 'run', options };
}

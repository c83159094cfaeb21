/**
 * nes-run's command line: papermill's flags and semantics, plus NES's own (deadline, remote
 * Jupyter server, JSON events, output caps). Parsing is yargs, configured to behave like click
 * for papermill's flags: `-p NAME VALUE` takes exactly the next two words, even one that starts
 * with a dash; values are never converted by the parser (type guessing is papermill's, in
 * params.ts); unknown flags are errors.
 */
import { fstatSync } from 'node:fs';
import yargs from 'yargs';
import { DEFAULT_AUTOSAVE_POLICY } from '../autosave.ts';
import { DEFAULT_OUTPUT_LIMITS } from '../output-limits.ts';
import { usageError } from './cli-error.ts';
import { parameterPairs } from './params.ts';

export const LOG_LEVELS = ['NOTSET', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

export type ParsedCommand =
  | { kind: 'help'; text: string }
  | { kind: 'version' }
  | { kind: 'run'; options: CliOptions };

const USAGE = `Usage: nes-run [OPTIONS] INPUT [OUTPUT]

Execute one notebook on a Jupyter kernel, papermill-compatible: parameters are injected in a
cell after the one tagged "parameters", every code cell runs in order, and the output notebook
(papermill's metadata, error banner on failure) is saved as the run goes.

INPUT is a local path, "-" (stdin), github://owner/repo/path.ipynb (with --ref or ?ref=),
https://github.com/owner/repo/blob/REF/path.ipynb, gs://bucket/path.ipynb or an https:// URL.
A GitHub ref is resolved to a commit SHA once; every read uses that commit.
OUTPUT is a local path, gs://bucket/path.ipynb, or "-" (stdout). Piped stdin with one path given
reads the notebook from stdin; a missing OUTPUT with stdout piped writes the notebook to stdout.
OUTPUT is templated with the parameters like papermill: out/{name}-{pm[run_uuid]}.ipynb.
With --store, OUTPUT is optional: the run's artifacts go to STORE/runs/RUN_ID/.

Environment: NES_GITHUB_API_URL (GitHub Enterprise: https://HOST/api/v3), NES_GITHUB_TOKEN or
NES_GITHUB_TOKEN_FILE, STORAGE_EMULATOR_HOST, GOOGLE_APPLICATION_CREDENTIALS, NES_NOTEBOOK_ROOTS
(colon-separated: when set, local notebooks are read only from under these directories).

Exit codes: 0 succeeded, 1 cell error, 2 usage, 3 source (notebook missing or invalid),
4 timeout, 5 kernel died, 6 out of memory, 7 infrastructure, 130 cancelled (SIGINT/SIGTERM).

Not supported (error if used): --engine (one engine: Jupyter Server); s3://, abs://, adl://,
hdfs:// locations; OUTPUT at an http(s):// or github:// location.`;

/** Schemes papermill reads that nes-run does not. */
const UNSUPPORTED_SCHEMES = /^(s3|abs|adl|hdfs):\/\//i;
/** OUTPUT: a local path, file://, gs:// or "-". */
const OUTPUT_SCHEMES = /^(gs|file):\/\//i;
const ANY_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

function parser(argv: string[]) {
  return yargs(argv)
    .scriptName('nes-run')
    .version(false)
    .help(false)
    .usage(USAGE)
    .parserConfiguration({
      'parse-numbers': false,
      'parse-positional-numbers': false,
      'nargs-eats-options': true,
      'camel-case-expansion': false,
      'dot-notation': false,
      'duplicate-arguments-array': true,
      'flatten-duplicate-arrays': true,
      'strip-aliased': true,
      'halt-at-non-option': false,
      'unknown-options-as-args': false,
    })
    .command('$0 [input] [output]', false, (y) =>
      y
        .positional('input', {
          type: 'string',
          describe: 'Input notebook: path, - for stdin, github://, gs:// or https:// URI',
        })
        .positional('output', {
          type: 'string',
          describe: 'Output notebook: path, gs:// URI, or - for stdout',
        }),
    )
    .group(
      [
        'parameters',
        'parameters_raw',
        'parameters_file',
        'parameters_yaml',
        'parameters_base64',
        'inject-input-path',
        'inject-output-path',
        'inject-paths',
        'help-notebook',
      ],
      'Parameters:',
    )
    .option('help-notebook', {
      type: 'boolean',
      describe: "Display the notebook's parameters (names, types, defaults, help) and exit.",
    })
    .option('parameters', {
      alias: 'p',
      type: 'string',
      nargs: 2,
      describe:
        'NAME VALUE: parameter, type guessed like papermill (True/False/None, int, float, else string). Repeatable.',
    })
    .option('parameters_raw', {
      alias: 'r',
      type: 'string',
      nargs: 2,
      describe: 'NAME VALUE: parameter kept as a string. Repeatable.',
    })
    .option('parameters_file', {
      alias: 'f',
      type: 'string',
      array: false,
      describe: 'Path to a YAML file of parameters. Repeatable.',
    })
    .option('parameters_yaml', {
      alias: 'y',
      type: 'string',
      describe: 'YAML string of parameters. Repeatable.',
    })
    .option('parameters_base64', {
      alias: 'b',
      type: 'string',
      describe: 'Base64-encoded YAML string of parameters. Repeatable.',
    })
    .option('inject-input-path', {
      type: 'boolean',
      describe: 'Add the input path as the PAPERMILL_INPUT_PATH parameter.',
    })
    .option('inject-output-path', {
      type: 'boolean',
      describe: 'Add the output path as the PAPERMILL_OUTPUT_PATH parameter.',
    })
    .option('inject-paths', { type: 'boolean', describe: 'Both of the above.' })
    .group(
      [
        'kernel',
        'language',
        'cwd',
        'prepare-only',
        'report-mode',
        'start-timeout',
        'execution-timeout',
        'request-save-on-cell-execute',
        'autosave-cell-every',
        'autosave-min-interval',
      ],
      'Execution (papermill):',
    )
    .option('kernel', {
      alias: 'k',
      type: 'string',
      describe: "Kernel name; overrides the notebook's kernelspec.",
    })
    .option('language', {
      alias: 'l',
      type: 'string',
      describe: "Language for parameter translation; overrides the notebook's language.",
    })
    .option('cwd', { type: 'string', describe: 'Working directory of the kernel.' })
    .option('prepare-only', {
      type: 'boolean',
      describe:
        'Write the parameterized notebook without executing it (--prepare-execute to undo).',
    })
    .option('prepare-execute', { type: 'boolean', hidden: true })
    .option('report-mode', {
      type: 'boolean',
      describe: 'Hide cell inputs in the output notebook.',
    })
    .option('not-report-mode', { type: 'boolean', hidden: true })
    .option('start-timeout', {
      alias: 'start_timeout',
      type: 'string',
      default: '60',
      describe: 'Seconds to wait for the kernel to start.',
    })
    .option('execution-timeout', {
      type: 'string',
      describe: 'Seconds each cell may run (default: no limit); exceeding it is exit 4.',
    })
    .option('request-save-on-cell-execute', {
      type: 'boolean',
      default: true,
      describe: `Save the output notebook as cells complete (at most every ${DEFAULT_AUTOSAVE_POLICY.minIntervalMs / 1000} s; see --autosave-min-interval).`,
    })
    .option('autosave-cell-every', {
      type: 'string',
      default: String(DEFAULT_AUTOSAVE_POLICY.longCellEverySeconds),
      describe: 'Seconds between saves during a long-running cell (0: off).',
    })
    .option('autosave-min-interval', {
      type: 'string',
      describe: `Least seconds between two saves (default ${DEFAULT_AUTOSAVE_POLICY.minIntervalMs / 1000}, or --autosave-cell-every when lower; never below 1).`,
    })
    .option('engine', { type: 'string', hidden: true })
    .group(
      ['progress-bar', 'log-output', 'log-level', 'stdout-file', 'stderr-file'],
      'Output (papermill):',
    )
    .option('progress-bar', {
      type: 'boolean',
      describe:
        'Progress bar on stderr (default: on when stderr is a terminal and output is not logged).',
    })
    .option('log-output', {
      type: 'boolean',
      describe: 'Stream cell output text to stderr as it arrives.',
    })
    .option('log-level', {
      type: 'string',
      default: 'INFO',
      choices: LOG_LEVELS as unknown as string[],
      describe: "Level of nes-run's own messages on stderr.",
    })
    .option('stdout-file', {
      type: 'string',
      describe: "File to write the notebook's stdout output to.",
    })
    .option('stderr-file', {
      type: 'string',
      describe: "File to write the notebook's stderr output to.",
    })
    .group(
      ['ref', 'context', 'context-subdir', 'store', 'run-id', 'manifest'],
      'Sources and stores (NES):',
    )
    .option('ref', {
      type: 'string',
      describe:
        'Branch, tag or commit SHA of a github:// INPUT (default: the default branch; or ?ref= in the URI).',
    })
    .option('context', {
      type: 'boolean',
      describe:
        "GitHub INPUT: download the repository at the pinned commit and run in the notebook's directory there (unless --cwd).",
    })
    .option('context-subdir', {
      type: 'string',
      describe: 'With --context (implied): download only this repository directory.',
    })
    .option('store', {
      type: 'string',
      describe:
        'Write the run layout (input.ipynb, output.ipynb, manifest.json, logs/runner.log) under STORE/runs/RUN_ID/: gs://bucket/prefix or a directory. OUTPUT becomes optional (given: a copy goes there too).',
    })
    .option('run-id', {
      type: 'string',
      describe:
        'Run id for --store / --manifest ([A-Za-z0-9][A-Za-z0-9._-]*; default: generated). Recorded in metadata.nes.runId.',
    })
    .option('manifest', {
      type: 'string',
      describe:
        'Also write a run manifest (source, commit SHA, parameters, status, artifact URIs) to this path or gs:// URI.',
    })
    .group(
      [
        'timeout',
        'jupyter-url',
        'jupyter-token',
        'json',
        'events-file',
        'results-file',
        'max-output-bytes',
        'max-notebook-output-bytes',
      ],
      'NES:',
    )
    .option('timeout', {
      type: 'string',
      describe: 'Seconds the whole run may take, kernel start included; exceeding it is exit 4.',
    })
    .option('jupyter-url', {
      type: 'string',
      describe: 'Use this running Jupyter Server instead of starting a private one.',
    })
    .option('jupyter-token', {
      type: 'string',
      describe: 'Token for --jupyter-url (default: $NES_JUPYTER_TOKEN).',
    })
    .option('json', {
      type: 'boolean',
      describe:
        'Print run events as JSON lines on stdout (human output stays on stderr). Not with OUTPUT "-": use --events-file.',
    })
    .option('events-file', {
      type: 'string',
      describe: 'Append run events as JSON lines to this file (e.g. /dev/fd/3).',
    })
    .option('results-file', {
      type: 'string',
      describe:
        "Write the run's results (nes.record, nes.exit, scrapbook glue) as JSON to this local file at the end, whatever the outcome.",
    })
    .option('max-output-bytes', {
      type: 'string',
      describe: `Cap on one output (e.g. 10M); beyond it the output is truncated with a note. Default ${mib(DEFAULT_OUTPUT_LIMITS.perOutputBytes)}.`,
    })
    .option('max-notebook-output-bytes', {
      type: 'string',
      describe: `Cap on all outputs of the notebook (e.g. 500M); later outputs are replaced by a note. Default ${mib(DEFAULT_OUTPUT_LIMITS.perNotebookBytes)}.`,
    })
    .option('help', { alias: 'h', type: 'boolean', describe: 'Show this message and exit.' })
    .option('version', { type: 'boolean', describe: 'Show the version and exit.' })
    .strict()
    .wrap(100)
    .exitProcess(false)
    .fail((message, error) => {
      throw usageError(clarify(message ?? error?.message ?? 'invalid command line', argv));
    });
}

/** yargs's messages, in the words of nes-run's flags. */
function clarify(message: string, argv: string[]): string {
  const unknown = /^Unknown arguments?: (.*)$/.exec(message);
  if (unknown?.[1]) {
    // Name each unknown flag as it was typed (yargs reports --no-foo as "foo").
    const names = unknown[1].split(', ').map((name) => {
      const typed = argv.find((w) =>
        [`--${name}`, `-${name}`, `--no-${name}`].includes(w.split('=')[0] ?? ''),
      );
      return typed?.split('=')[0] ?? name;
    });
    return `unknown option${names.length > 1 ? 's' : ''}: ${names.join(', ')}`;
  }
  const m = /^Not enough arguments following: (\S+)/.exec(message);
  if (m?.[1] === 'p' || m?.[1] === 'parameters')
    return '-p/--parameters takes two values: NAME VALUE';
  if (m?.[1] === 'r' || m?.[1] === 'parameters_raw')
    return '-r/--parameters_raw takes two values: NAME VALUE';
  if (m) return `--${m[1]} needs a value`;
  return message;
}

export interface Tty {
  stdinPiped: boolean;
  stdoutPiped: boolean;
}

export function detectTty(): Tty {
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
  const y = parser(argv.map((word) => (word === '-' ? DASH : word)));
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
    guessed: parameterPairs(a.parameters, '-p/--parameters'),
    raw: parameterPairs(a.parameters_raw, '-r/--parameters_raw'),
    parameterFiles: list(a.parameters_file),
    parameterYaml: list(a.parameters_yaml),
    parameterBase64: list(a.parameters_base64),
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

function nonEmpty(value: unknown, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw usageError(`${flag} is given more than once`);
  const text = String(value);
  if (text.trim() === '') throw usageError(`${flag} needs a value`);
  return text;
}

function mib(bytes: number): string {
  return `${bytes / 1024 ** 2}M`;
}

function list(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

function seconds(value: unknown, flag: string, allowZero = false): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const n = Number(text);
  if (text === '' || !Number.isFinite(n) || n < 0 || (n === 0 && !allowZero)) {
    throw usageError(
      `${flag} ${text}: expected a number of seconds${allowZero ? ' (0 or more)' : ' above 0'}`,
    );
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

export function byteSize(value: unknown, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?$/i.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toUpperCase()];
  if (!m || unit === undefined) {
    throw usageError(`${flag} ${text}: expected a size in bytes, e.g. 1048576, 512K, 10M or 1G`);
  }
  return Math.floor(Number(m[1]) * unit);
}

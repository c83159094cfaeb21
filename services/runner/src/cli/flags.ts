/**
 * The flags nes-run accepts and its help text: papermill's flags and semantics, plus NES's own
 * (deadline, remote Jupyter server, JSON events, output caps). Parsing is yargs, configured to
 * behave like click for papermill's flags: `-p NAME VALUE` takes exactly the next two words, even
 * one that starts with a dash; values are never converted by the parser (type guessing is
 * papermill's, in params.ts); unknown flags are errors, named as they were typed. The parameter
 * flags themselves are @nes/notebook's PARAMETER_FLAGS, which `nes` declares too.
 */
import { PARAMETER_FLAGS, PARAMETER_FLAGS_PARSING, parameterFlagMessage } from '@nes/notebook';
import yargs from 'yargs';
import { DEFAULT_AUTOSAVE_POLICY } from '../autosave.ts';
import { DEFAULT_OUTPUT_LIMITS } from '../output-limits.ts';
import { usageError } from './cli-error.ts';
import { mib } from './flag-values.ts';

export const LOG_LEVELS = ['NOTSET', 'DEBUG', 'INFO', 'WARNING', 'ERROR', 'CRITICAL'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

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

export function flagParser(argv: string[]) {
  return yargs(argv)
    .scriptName('nes-run')
    .version(false)
    .help(false)
    .usage(USAGE)
    .parserConfiguration(PARAMETER_FLAGS_PARSING)
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
        ...Object.keys(PARAMETER_FLAGS),
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
    .options(PARAMETER_FLAGS)
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
  const parameterMessage = parameterFlagMessage(message);
  if (parameterMessage !== undefined) return parameterMessage;
  const m = /^Not enough arguments following: (\S+)/.exec(message);
  if (m) return `--${m[1]} needs a value`;
  return message;
}

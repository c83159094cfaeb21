/**
 * `nes`: the NES client command line. Every command talks to the API through @nes/client;
 * `nes serve` starts the service itself. With --json, stdout carries only JSON; human text
 * (progress, notes, errors) always goes to stderr. See docs/cli.md.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  NesClient,
  RUN_STATUSES,
  type Run,
  type RunStatus,
  type SubmitRunRequest,
  TERMINAL_STATUSES,
} from '@nes/client';
import {
  collectParameters,
  guessParameterType,
  PARAMETER_FLAGS,
  PARAMETER_FLAGS_PARSING,
  ParameterInputError,
  parameterFlagMessage,
  parameterFlagSources,
} from '@nes/notebook';
import yargs, { type Argv } from 'yargs';
import {
  describeError,
  EXIT_CANCELLED,
  EXIT_SUCCEEDED,
  EXIT_USAGE,
  exitCodeForRun,
  usageError,
} from './exit.ts';
import { failureText, resultsText, runDetails, runsTable, table } from './format.ts';
import { labels, list, positiveInt, str } from './option-values.ts';
import { SCHEDULE_ACTIONS, schedule, scheduleOptions } from './schedule.ts';
import { serve } from './serve.ts';
import { SUBSCRIPTION_ACTIONS, subscription, subscriptionOptions } from './subscription.ts';
import { TOKEN_ACTIONS, token } from './token.ts';
import { waitForRun } from './wait.ts';

const DEFAULT_URL = 'http://127.0.0.1:8080';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

type Args = Record<string, unknown> & { _: unknown[] };

const ADMIN_SCOPE = new Set(['token', 'subscription', 'subscriptions']);
const SUBMIT_SCOPE = new Set(['submit', 'cancel', 'rerun', 'sweep', 'schedule']);

/** The parameter flags, declared once for nes-run and every `nes` command that takes parameters. */
function parameterOptions(y: Argv): Argv {
  return y.options(PARAMETER_FLAGS).option('allow-unknown-parameters', {
    type: 'boolean',
    describe: "Accept parameters the notebook's parameters cell does not declare",
  });
}

function waitOptions(y: Argv): Argv {
  return y
    .option('wait', {
      type: 'boolean',
      describe: "Follow the run until it ends; exit with its outcome's code",
    })
    .option('cancel-on-interrupt', {
      type: 'boolean',
      default: true,
      describe: 'With --wait: SIGINT/SIGTERM cancels the run (--no-cancel-on-interrupt detaches)',
    })
    .option('progress', {
      type: 'boolean',
      default: true,
      describe: 'With --wait: draw a progress bar when stderr is a terminal',
    })
    .option('output-uri-file', {
      type: 'string',
      describe: "With --wait: write the run's output notebook URI to this file",
    });
}

function parser(argv: string[]): Argv {
  return yargs(argv)
    .scriptName('nes')
    .version(false)
    .help(false)
    .usage('nes COMMAND [options]\n\nSubmit, follow and manage NES notebook runs.')
    .parserConfiguration(PARAMETER_FLAGS_PARSING)
    .option('url', { type: 'string', describe: `API URL (NES_URL; default ${DEFAULT_URL})` })
    .option('token', { type: 'string', describe: 'API token (NES_TOKEN)' })
    .option('json', { type: 'boolean', describe: 'Machine output (JSON) on stdout' })
    .option('help', { alias: 'h', type: 'boolean', describe: 'Show help' })
    .command('submit <notebook>', 'Submit a run', (y) =>
      waitOptions(parameterOptions(y))
        .positional('notebook', {
          type: 'string',
          describe: 'github://o/r/path.ipynb, a GitHub blob URL, gs://..., or a local path',
        })
        .option('ref', { type: 'string', describe: 'Branch, tag or commit' })
        .option('label', { type: 'string', describe: 'k=v label. Repeatable.' })
        .option('kernel', { alias: 'k', type: 'string', describe: 'Kernel name' })
        .option('timeout', { type: 'string', describe: 'Run deadline in seconds' })
        .option('queue', { type: 'string', describe: 'Concurrency queue' })
        .option('idempotency-key', {
          type: 'string',
          describe: 'Same key and body return the same run (safe to retry)',
        }),
    )
    .command('get <id>', 'Show a run', (y) =>
      y.positional('id', { type: 'string' }).option('results', {
        type: 'boolean',
        describe: 'Show what the notebook recorded (nes.record, nes.exit, scrapbook) instead',
      }),
    )
    .command('list', 'List runs, newest first', (y) =>
      y
        .option('status', { type: 'string', describe: 'Status (repeatable or comma-separated)' })
        .option('label', { type: 'string', describe: 'k=v (repeatable; all must match)' })
        .option('notebook', { type: 'string', describe: 'Exact notebook' })
        .option('limit', { type: 'string', describe: 'At most N runs (default 20)' }),
    )
    .command('logs <id>', "Print a run's log", (y) =>
      y
        .positional('id', { type: 'string' })
        .option('follow', { alias: 'f', type: 'boolean', describe: 'Follow until the run ends' }),
    )
    .command('cancel <id>', 'Cancel a run', (y) => y.positional('id', { type: 'string' }))
    .command('rerun <id>', 'Run again: same notebook, commit, parameters, kernel', (y) =>
      waitOptions(parameterOptions(y))
        .positional('id', { type: 'string' })
        .option('label', { type: 'string', describe: 'k=v: replaces the labels. Repeatable.' })
        .option('timeout', { type: 'string', describe: 'Run deadline in seconds' })
        .option('idempotency-key', { type: 'string' }),
    )
    .command('inspect <notebook>', "Show a notebook's parameters", (y) =>
      y
        .positional('notebook', { type: 'string' })
        .option('ref', { type: 'string' })
        .option('kernel', { alias: 'k', type: 'string' }),
    )
    .command('sweep <notebook>', 'One notebook over a grid or a date range', (y) =>
      waitOptions(parameterOptions(y))
        .positional('notebook', { type: 'string' })
        .option('ref', { type: 'string' })
        .option('grid', { type: 'string', describe: 'NAME=v1,v2,... (repeatable: a product)' })
        .option('dates', { type: 'string', describe: 'FROM..TO (YYYY-MM-DD, both included)' })
        .option('param-name', { type: 'string', describe: 'Parameter that receives each date' })
        .option('concurrency', { type: 'string', describe: 'At most N runs at once' })
        .option('label', { type: 'string', describe: 'k=v. Repeatable.' })
        .option('kernel', { alias: 'k', type: 'string' })
        .option('timeout', { type: 'string', describe: 'Deadline of each run in seconds' })
        .option('idempotency-key', { type: 'string' }),
    )
    .command('open <id>', "Print the run's viewer URL", (y) =>
      y
        .positional('id', { type: 'string' })
        .option('with-token', { type: 'boolean', describe: 'Append ?token= for a browser' }),
    )
    .command('token <action> [id]', 'API tokens (admin): create, list, revoke', (y) =>
      y
        .positional('action', { type: 'string', choices: TOKEN_ACTIONS })
        .positional('id', { type: 'string', describe: 'revoke: the token id (nes token list)' })
        .option('name', { type: 'string', describe: 'create: what the token is for' })
        .option('scope', {
          type: 'string',
          describe: 'create: read, submit or admin (repeatable or comma-separated; default read)',
        })
        .option('expires', {
          type: 'string',
          describe: 'create: 90d, 12h, 2w, a date (2027-01-31) or an instant; default never',
        })
        .option('all', { type: 'boolean', describe: 'list: revoked and expired tokens too' }),
    )
    .command(
      'schedule <action> [name] [notebook]',
      `Schedules: ${SCHEDULE_ACTIONS.join(', ')} (docs/schedules.md)`,
      (y) => scheduleOptions(parameterOptions(y)),
    )
    .command(
      ['subscription <action> [id]', 'subscriptions'],
      `Notification subscriptions (admin): ${SUBSCRIPTION_ACTIONS.join(', ')} (docs/notifications.md)`,
      subscriptionOptions,
    )
    .command('serve', 'Start the NES service (API and viewer)', (y) =>
      y
        .option('port', { type: 'string', describe: 'NES_PORT (default 8080)' })
        .option('host', { type: 'string', describe: 'NES_HOST (default 127.0.0.1)' })
        .option('data-dir', { type: 'string', describe: 'NES_DATA_DIR' }),
    )
    .strict()
    .wrap(100)
    .exitProcess(false)
    .fail((message, error) => {
      const text = message ?? error?.message ?? 'invalid command line';
      throw usageError(parameterFlagMessage(text) ?? text);
    });
}

export async function main(argv: string[], io: Io): Promise<number> {
  let a: Args;
  const y = parser(argv);
  try {
    a = (await y.parseAsync()) as Args;
  } catch (err) {
    const e = describeError(err, { scope: 'read', tokenGiven: false });
    io.stderr.write(`nes: ${e.message}\nRun nes --help for usage.\n`);
    return e.exitCode;
  }
  const command = String(a._[0] ?? '');
  if (a.help) {
    io.stdout.write(`${await y.getHelp()}\n`);
    return EXIT_SUCCEEDED;
  }
  if (!command) {
    io.stderr.write(`${await y.getHelp()}\n\nnes: a command is required\n`);
    return EXIT_USAGE;
  }
  const token = str(a.token) ?? (io.env.NES_TOKEN || undefined);
  try {
    if (command === 'serve') return await serve(a, io);
    const client = new NesClient({
      url: str(a.url) ?? (io.env.NES_URL || DEFAULT_URL),
      token,
      userAgent: 'nes-cli',
    });
    return await run(command, a, client, io);
  } catch (err) {
    const e = describeError(err, {
      scope: ADMIN_SCOPE.has(command) ? 'admin' : SUBMIT_SCOPE.has(command) ? 'submit' : 'read',
      tokenGiven: token !== undefined,
    });
    io.stderr.write(`nes ${command}: ${e.message}\n`);
    return e.exitCode;
  }
}

/**
 * The API takes local notebooks by absolute path only (the service does not share our working
 * directory). A relative path naming a file that exists here is made absolute, so
 * `nes submit examples/hello.ipynb` works against a service on this machine; URIs and anything
 * else go as given.
 */
export function notebookLocation(notebook: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(notebook) || isAbsolute(notebook)) return notebook;
  return existsSync(notebook) ? resolve(notebook) : notebook;
}

async function run(command: string, a: Args, client: NesClient, io: Io): Promise<number> {
  const json = Boolean(a.json);
  const out = (value: unknown) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  const note = (text: string) => io.stderr.write(`${text}\n`);
  switch (command) {
    case 'submit': {
      const request: SubmitRunRequest = {
        notebook: notebookLocation(String(a.notebook)),
        ...optional('ref', str(a.ref)),
        parameters: parameters(a),
        ...optional('kernel', str(a.kernel)),
        ...optional('labels', labels(a.label)),
        ...optional('timeoutSeconds', seconds(a.timeout, '--timeout')),
        ...optional('queue', str(a.queue)),
        ...optional('allowUnknownParameters', a['allow-unknown-parameters'] ? true : undefined),
      };
      const key = str(a['idempotency-key']);
      const submitted = await client.submitRun(request, key ? { idempotencyKey: key } : {});
      return finishSubmit(client, submitted, a, io);
    }
    case 'rerun': {
      const params = parameters(a);
      const overrides = {
        ...optional('parameters', Object.keys(params).length > 0 ? params : undefined),
        ...optional('labels', labels(a.label)),
        ...optional('timeoutSeconds', seconds(a.timeout, '--timeout')),
        ...optional('allowUnknownParameters', a['allow-unknown-parameters'] ? true : undefined),
      };
      const key = str(a['idempotency-key']);
      const submitted = await client.rerun(
        String(a.id),
        overrides,
        key ? { idempotencyKey: key } : {},
      );
      return finishSubmit(client, submitted, a, io);
    }
    case 'get': {
      if (a.results) {
        const results = await client.results(String(a.id));
        if (json) out(results);
        else io.stdout.write(resultsText(results));
        return EXIT_SUCCEEDED;
      }
      const r = await client.getRun(String(a.id));
      if (json) out(r);
      else io.stdout.write(runDetails(r));
      return EXIT_SUCCEEDED;
    }
    case 'list': {
      const limit = a.limit === undefined ? 20 : positiveInt(a.limit, '--limit');
      const runs: Run[] = [];
      const filter = {
        ...optional('status', statuses(a.status)),
        ...optional('labels', labels(a.label)),
        ...optional('notebook', str(a.notebook)),
        limit: Math.min(limit, 500),
      };
      for await (const r of client.runs(filter)) {
        runs.push(r);
        if (runs.length >= limit) break;
      }
      if (json) out(runs);
      else if (runs.length === 0) note('no runs');
      else io.stdout.write(runsTable(runs));
      return EXIT_SUCCEEDED;
    }
    case 'logs': {
      for await (const text of client.logs(String(a.id), { follow: Boolean(a.follow) })) {
        io.stdout.write(json ? `${JSON.stringify({ text })}\n` : text);
      }
      return EXIT_SUCCEEDED;
    }
    case 'cancel': {
      const r = await client.cancelRun(String(a.id));
      if (json) out(r);
      else
        note(`${r.id}: ${r.status}${TERMINAL_STATUSES.includes(r.status) ? '' : ' (cancelling)'}`);
      return EXIT_SUCCEEDED;
    }
    case 'inspect': {
      const result = await client.inspect({
        notebook: notebookLocation(String(a.notebook)),
        ...optional('ref', str(a.ref)),
        ...optional('kernel', str(a.kernel)),
      });
      if (json) {
        out(result);
      } else {
        note(
          `${result.notebook}${result.commitSha ? ` at ${result.commitSha.slice(0, 12)}` : ''} (${result.language}${result.kernel ? `, ${result.kernel}` : ''})`,
        );
        for (const w of result.warnings ?? []) note(`warning: ${w}`);
        io.stdout.write(
          result.parameters.length === 0
            ? 'no parameters cell\n'
            : table(
                ['NAME', 'TYPE', 'DEFAULT', 'HELP'],
                result.parameters.map((p) => [p.name, p.type ?? '-', p.default, p.help]),
              ),
        );
      }
      return EXIT_SUCCEEDED;
    }
    case 'sweep':
      return sweep(client, a, io);
    case 'token':
      return token(client, a, io);
    case 'schedule':
      return schedule(client, a, io, parameters(a));
    case 'subscription':
    case 'subscriptions':
      return subscription(client, a, io);
    case 'open': {
      const r = await client.getRun(String(a.id));
      let url = r.links.viewer;
      const token = str(a.token) ?? io.env.NES_TOKEN;
      if (a['with-token'] && token) {
        url += `${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
      }
      if (json) out({ id: r.id, url });
      else io.stdout.write(`${url}\n`);
      return EXIT_SUCCEEDED;
    }
  }
  throw usageError(`unknown command ${command}`);
}

async function finishSubmit(client: NesClient, submitted: Run, a: Args, io: Io): Promise<number> {
  const json = Boolean(a.json);
  io.stderr.write(`${submitted.id}: ${submitted.status} ${submitted.links?.viewer ?? ''}\n`);
  if (!a.wait) {
    io.stdout.write(json ? `${JSON.stringify(submitted, null, 2)}\n` : `${submitted.id}\n`);
    return EXIT_SUCCEEDED;
  }
  const final = await waitForRun(client, submitted, {
    stderr: io.stderr,
    progressBar: Boolean(a.progress) && !json && Boolean(io.stderr.isTTY),
    cancelOnInterrupt: a['cancel-on-interrupt'] !== false,
  });
  const outputFile = str(a['output-uri-file']);
  if (outputFile && final.outputUri) writeFileSync(outputFile, final.outputUri);
  const code = exitCodeForRun(final);
  const failure = failureText(final);
  io.stderr.write(
    `${final.id}: ${final.status}${failure ? ` (${failure})` : ''}${final.outputUri ? `, output ${final.outputUri}` : ''}\n`,
  );
  if (json) {
    // The results a notebook recorded travel with the finished run (a pipeline reads one object).
    const {
      runId: _id,
      status: _status,
      links: _links,
      ...results
    } = await client.results(final.id);
    io.stdout.write(`${JSON.stringify({ ...final, results }, null, 2)}\n`);
  } else {
    io.stdout.write(`${final.id}\n`);
  }
  return code;
}

async function sweep(client: NesClient, a: Args, io: Io): Promise<number> {
  const grid: Record<string, unknown[]> = {};
  for (const item of list(a.grid)) {
    const at = item.indexOf('=');
    const name = item.slice(0, at);
    if (at < 1 || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) || at === item.length - 1) {
      throw usageError(`--grid ${item}: expected NAME=v1,v2,...`);
    }
    grid[name] = item
      .slice(at + 1)
      .split(',')
      .map((v) => guessParameterType(v));
  }
  const dates = str(a.dates);
  const paramName = str(a['param-name']);
  let dateRange: { parameter: string; start: string; end: string } | undefined;
  if (dates !== undefined) {
    const m = /^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$/.exec(dates);
    if (!m) throw usageError(`--dates ${dates}: expected FROM..TO, e.g. 2026-01-01..2026-01-31`);
    if (!paramName) throw usageError('--dates needs --param-name NAME');
    dateRange = { parameter: paramName, start: m[1] as string, end: m[2] as string };
  } else if (paramName) {
    throw usageError('--param-name goes with --dates');
  }
  if (Object.keys(grid).length === 0 && !dateRange) {
    throw usageError('sweep needs --grid NAME=v1,v2 or --dates FROM..TO --param-name NAME');
  }
  if (Object.keys(grid).length > 0 && dateRange) {
    throw usageError('--grid and --dates cannot be combined');
  }
  const key = str(a['idempotency-key']);
  const concurrency =
    a.concurrency === undefined ? undefined : positiveInt(a.concurrency, '--concurrency');
  let s = await client.submitSweep(
    {
      notebook: notebookLocation(String(a.notebook)),
      ...optional('ref', str(a.ref)),
      ...optional('kernel', str(a.kernel)),
      parameters: parameters(a),
      ...optional('grid', Object.keys(grid).length > 0 ? grid : undefined),
      ...optional('dateRange', dateRange),
      ...optional('maxConcurrency', concurrency),
      ...optional('labels', labels(a.label)),
      ...optional('timeoutSeconds', seconds(a.timeout, '--timeout')),
      ...optional('allowUnknownParameters', a['allow-unknown-parameters'] ? true : undefined),
    },
    key ? { idempotencyKey: key } : {},
  );
  io.stderr.write(`${s.id}: ${s.status}, ${s.total} runs\n`);
  if (a.wait) {
    let last = '';
    while (['queued', 'running'].includes(s.status)) {
      await new Promise((r) => setTimeout(r, 500));
      s = await client.getSweep(s.id);
      const counts = Object.entries(s.counts)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      if (counts !== last) io.stderr.write(`${s.id}: ${s.status} (${counts})\n`);
      last = counts;
    }
  }
  io.stdout.write(a.json ? `${JSON.stringify(s, null, 2)}\n` : `${s.id}\n`);
  if (!a.wait) return EXIT_SUCCEEDED;
  if (s.status === 'succeeded') return EXIT_SUCCEEDED;
  if (s.status === 'cancelled') return EXIT_CANCELLED;
  const failed = s.runs.find(
    (r) => TERMINAL_STATUSES.includes(r.status) && r.status !== 'succeeded',
  );
  return failed ? exitCodeForRun(failed) : exitCodeForRun({ status: 'failed', error: null });
}

/** -b base64 < -f files < -y YAML < -p guessed < -r raw, merged as nes-run merges them. */
function parameters(a: Args): Record<string, unknown> {
  try {
    return collectParameters(
      {
        inputPath: '',
        outputPath: '',
        injectInputPath: false,
        injectOutputPath: false,
        ...parameterFlagSources(a),
      },
      (path) => readFileSync(path, 'utf8'),
    );
  } catch (err) {
    if (err instanceof ParameterInputError) throw usageError(err.message);
    throw err;
  }
}

function statuses(value: unknown): RunStatus[] | undefined {
  const items = list(value)
    .flatMap((s) => s.split(','))
    .filter(Boolean);
  for (const s of items) {
    if (!RUN_STATUSES.includes(s as RunStatus)) {
      throw usageError(`--status ${s}: expected one of ${RUN_STATUSES.join(', ')}`);
    }
  }
  return items.length > 0 ? (items as RunStatus[]) : undefined;
}

function seconds(value: unknown, flag: string): number | undefined {
  const text = str(value);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n <= 0) {
    throw usageError(`${flag} ${text}: expected a whole number of seconds above 0`);
  }
  return n;
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

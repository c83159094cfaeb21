/** nes-run's command line without a kernel: papermill's type guessing, parameter sources, flags. */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { guessParameterType, pythonFloat, yamlMapping } from '@nes/notebook';
import { EXIT_CODE_BY_CLASS, exitCodeForOutcome } from '@nes/run-contract';
import { parseCommandLine } from '../src/cli/args.ts';
import { collectParameters } from '../src/cli/params.ts';
import { maskParameters, redactText, secretValues } from '../src/cli/secrets.ts';

const piped = { stdinPiped: false, stdoutPiped: true };
const terminal = { stdinPiped: false, stdoutPiped: false };

describe('papermill type guessing (-p)', () => {
  // (input, expected) as papermill's _resolve_type: True/False/None, int(), float(), else str.
  const table: Array<[string, unknown]> = [
    ['True', true],
    ['False', false],
    ['None', null],
    ['true', 'true'],
    ['none', 'none'],
    ['1', 1],
    ['-5', -5],
    ['+7', 7],
    [' 42 ', 42],
    ['1_000', 1000],
    ['007', 7],
    ['99999999999999999999', 99999999999999999999n],
    ['1.0', pythonFloat(1)],
    ['1.5', 1.5],
    ['.5', 0.5],
    ['1e3', pythonFloat(1000)],
    ['-2.5E-3', -0.0025],
    ['inf', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['1_0', 10],
    ['1__0', '1__0'],
    ['0x10', '0x10'],
    ['1.2.3', '1.2.3'],
    ['', ''],
    ['abc', 'abc'],
    ['2024-01-01', '2024-01-01'],
  ];
  for (const [input, expected] of table) {
    test(JSON.stringify(input), () => assert.deepEqual(guessParameterType(input), expected));
  }
  test('nan is a float', () => assert.ok(Number.isNaN(guessParameterType('nan'))));
});

describe('parameter sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nes-cli-params-'));
  const file = join(dir, 'params.yaml');
  writeFileSync(file, 'a: file\nb: file\nc: file\nwhen: 2024-01-02\nratio: 1.0\n');

  test('precedence follows papermill whatever the order on the command line', () => {
    const params = collectParameters({
      inputPath: 'in.ipynb',
      outputPath: 'out.ipynb',
      injectInputPath: true,
      injectOutputPath: true,
      base64: [
        Buffer.from('a: b64\nb: b64\nc: b64\nd: b64\ne: b64\nPAPERMILL_INPUT_PATH: b64').toString(
          'base64',
        ),
      ],
      files: [file],
      yaml: ['{a: yaml, b: yaml, c: yaml}'],
      guessed: [
        ['a', '1'],
        ['b', '2'],
      ],
      raw: [['a', '1']],
    });
    assert.deepEqual(params, {
      PAPERMILL_INPUT_PATH: 'b64',
      PAPERMILL_OUTPUT_PATH: 'out.ipynb',
      a: '1',
      b: 2,
      c: 'yaml',
      d: 'b64',
      e: 'b64',
      when: '2024-01-02',
      ratio: pythonFloat(1),
    });
  });

  test('YAML is read as papermill reads it (YAML 1.1, no dates)', () => {
    assert.deepEqual(yamlMapping('x: yes\ny: off\nz: 010\nd: 2020-05-06\nn: ~\nl: [1, 2.5]', 'y'), {
      x: true,
      y: false,
      z: 8,
      d: '2020-05-06',
      n: null,
      l: [1, pythonFloat(2.5)],
    });
    assert.deepEqual(yamlMapping('', 'y'), {});
  });

  test('bad YAML and non-mappings are usage errors naming the source', () => {
    assert.throws(
      () => collectParameters({ ...noSources(), yaml: ['a: [1, 2'] }),
      (err: Error & { exitCode: number }) => {
        assert.equal(err.exitCode, 2);
        assert.match(err.message, /^-y\/--parameters_yaml: invalid YAML/);
        return true;
      },
    );
    assert.throws(
      () => yamlMapping('- 1\n- 2', 'parameters file p.yaml'),
      /parameters file p.yaml: expected a mapping/,
    );
    assert.throws(
      () => collectParameters({ ...noSources(), files: [join(dir, 'missing.yaml')] }),
      /cannot read parameters file .*missing.yaml/,
    );
    assert.throws(() => collectParameters({ ...noSources(), base64: ['!!!'] }), /not base64/);
  });
});

function noSources() {
  return {
    inputPath: 'i',
    outputPath: 'o',
    injectInputPath: false,
    injectOutputPath: false,
    base64: [],
    files: [],
    yaml: [],
    guessed: [],
    raw: [],
  };
}

describe('command line', () => {
  async function run(argv: string[], tty = piped) {
    const parsed = await parseCommandLine(argv, tty);
    assert.equal(parsed.kind, 'run');
    return parsed.kind === 'run' ? parsed.options : (undefined as never);
  }
  async function usage(argv: string[], pattern: RegExp, tty = piped) {
    await assert.rejects(parseCommandLine(argv, tty), (err: Error & { exitCode: number }) => {
      assert.equal(err.exitCode, 2);
      assert.match(err.message, pattern);
      return true;
    });
  }

  test('-p and -r take exactly two words, even ones starting with a dash', async () => {
    const o = await run([
      'in.ipynb',
      'out.ipynb',
      '-p',
      'a',
      '-1',
      '-r',
      'b',
      '--x',
      '-p',
      'c',
      '-',
    ]);
    assert.deepEqual(o.guessed, [
      ['a', '-1'],
      ['c', '-'],
    ]);
    assert.deepEqual(o.raw, [['b', '--x']]);
  });

  test("autosave defaults are the runner's policy; --autosave-min-interval is checked", async () => {
    const o = await run(['in.ipynb', 'out.ipynb']);
    assert.equal(o.autosaveCellEverySeconds, 30);
    assert.equal(o.autosaveMinIntervalSeconds, undefined, 'the policy decides (5 s, or lower)');
    await usage(
      ['in.ipynb', 'out.ipynb', '--autosave-min-interval', '0'],
      /--autosave-min-interval 0: expected a number of seconds above 0/,
    );
  });

  test('papermill flag spellings', async () => {
    const o = await run([
      'in.ipynb',
      'out.ipynb',
      '-k',
      'python3',
      '-l',
      'python',
      '--start_timeout',
      '5',
      '--execution-timeout',
      '2.5',
      '--no-request-save-on-cell-execute',
      '--autosave-cell-every',
      '0',
      '--autosave-min-interval',
      '1.5',
      '--prepare-only',
      '--report-mode',
      '--inject-paths',
      '--no-progress-bar',
      '--log-output',
      '--log-level',
      'WARNING',
    ]);
    assert.equal(o.kernel, 'python3');
    assert.equal(o.language, 'python');
    assert.equal(o.startTimeoutSeconds, 5);
    assert.equal(o.executionTimeoutSeconds, 2.5);
    assert.equal(o.requestSaveOnCellExecute, false);
    assert.equal(o.autosaveCellEverySeconds, 0);
    assert.equal(o.autosaveMinIntervalSeconds, 1.5);
    assert.equal(o.prepareOnly, true);
    assert.equal(o.reportMode, true);
    assert.equal(o.injectInputPath && o.injectOutputPath, true);
    assert.equal(o.progressBar, false);
    assert.equal(o.logOutput, true);
    assert.equal(o.logLevel, 'WARNING');
    assert.equal((await run(['i', 'o', '--prepare-only', '--prepare-execute'])).prepareOnly, false);
  });

  test('NES flags', async () => {
    const o = await run([
      'i',
      'o',
      '--timeout',
      '60',
      '--jupyter-url',
      'http://127.0.0.1:8888',
      '--jupyter-token',
      't0ken',
      '--json',
      '--max-output-bytes',
      '512K',
      '--max-notebook-output-bytes',
      '1G',
    ]);
    assert.equal(o.timeoutSeconds, 60);
    assert.equal(o.jupyterUrl, 'http://127.0.0.1:8888');
    assert.equal(o.jupyterToken, 't0ken');
    assert.equal(o.json, true);
    assert.equal(o.maxOutputBytes, 512 * 1024);
    assert.equal(o.maxNotebookOutputBytes, 1024 ** 3);
  });

  test('sources and stores flags', async () => {
    const o = await run(
      ['github://o/r/nb.ipynb', '--ref', 'v1', '--context-subdir', 'lib', '--store', 'gs://b/p'],
      { stdinPiped: true, stdoutPiped: true },
    );
    assert.equal(o.input, 'github://o/r/nb.ipynb', 'with --store a single path is INPUT');
    assert.equal(o.output, null);
    assert.equal(o.ref, 'v1');
    assert.equal(o.context, true);
    assert.equal(o.contextSubdir, 'lib');
    assert.equal(o.store, 'gs://b/p');
    const m = await run([
      'gs://b/in.ipynb',
      'gs://b/out.ipynb',
      '--run-id',
      'r-1',
      '--manifest',
      'm.json',
    ]);
    assert.deepEqual(
      [m.input, m.output, m.runId, m.manifest],
      ['gs://b/in.ipynb', 'gs://b/out.ipynb', 'r-1', 'm.json'],
    );
    await usage(
      ['i', 'https://example.com/o.ipynb'],
      /OUTPUT https:\/\/example\.com\/o\.ipynb: nes-run writes local paths, gs:\/\/ URIs and - only/,
    );
    await usage(['i', 'o', '--run-id', '../x'], /--run-id \.\.\/x: expected letters/);
    await usage(
      ['i', 'o', '--store', 's3://b'],
      /--store s3:\/\/b: expected gs:\/\/bucket\/prefix or a directory/,
    );
  });

  test('stdin and stdout as papermill decides them', async () => {
    assert.deepEqual([(await run(['-', '-'])).input, (await run(['-', '-'])).output], ['-', '-']);
    const fromPipe = await run(['out.ipynb'], { stdinPiped: true, stdoutPiped: false });
    assert.deepEqual([fromPipe.input, fromPipe.output], ['-', 'out.ipynb']);
    assert.equal((await run(['in.ipynb'], piped)).output, '-');
    await usage(['in.ipynb'], /missing argument 'OUTPUT'/, terminal);
  });

  test('usage errors', async () => {
    await usage(['i', 'o', '-p', 'a'], /-p\/--parameters takes two values: NAME VALUE/);
    await usage(['i', 'o', '-p', '1bad', 'x'], /"1bad" is not a valid parameter name/);
    await usage(['i', 'o', '--bogus'], /unknown option: --bogus/);
    await usage(['i', 'o', '--engine', 'nbclient'], /--engine is not supported/);
    await usage(['i', '-', '--json'], /--json .* use --events-file PATH/);
    await usage(['s3://b/i.ipynb', 'o'], /INPUT s3:\/\/b\/i.ipynb: nes-run reads/);
    await usage(
      ['i', 'o', '--execution-timeout', 'soon'],
      /--execution-timeout soon: expected a number of seconds/,
    );
    await usage(
      ['i', 'o', '--max-output-bytes', 'lots'],
      /--max-output-bytes lots: expected a size/,
    );
    await usage(['i', 'o', '--log-level', 'LOUD'], /Invalid values/);
  });
});

describe('secrets and exit codes', () => {
  test('secret-looking names are masked, and their values cut from text', () => {
    const params = {
      api_token: 'abcd1234',
      db: { password: 'hunter22' },
      SECRET_KEY: 'k',
      name: 'x',
    };
    assert.deepEqual(maskParameters(params), {
      api_token: '***',
      db: { password: '***' },
      SECRET_KEY: '***',
      name: 'x',
    });
    assert.equal(
      redactText('token abcd1234 pw hunter22', secretValues(params)),
      'token *** pw ***',
    );
  });

  test('one exit code per failure class', () => {
    assert.deepEqual(EXIT_CODE_BY_CLASS, {
      cell_error: 1,
      source: 3,
      timeout: 4,
      kernel_died: 5,
      oom: 6,
      infra: 7,
      cancelled: 130,
    });
    assert.equal(exitCodeForOutcome({ status: 'succeeded', error: null }), 0);
    assert.equal(exitCodeForOutcome({ status: 'cancelled', error: null }), 130);
  });
});

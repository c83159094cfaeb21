/** nes-run end to end without a kernel: --prepare-only, stdin/stdout, paths, errors, help. */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { PARAMETER_FLAGS } from '@nes/notebook';
import { cellSource, HELLO, type Json, nesRun, tempDir } from './cli-helpers.ts';

const dir = tempDir();
const read = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));

describe('nes-run --prepare-only', { concurrency: 4 }, () => {
  test('injects the parameters cell after the parameters cell, papermill text exactly', async () => {
    const out = join(dir, 'prepared.ipynb');
    const r = await nesRun([
      HELLO,
      out,
      '--prepare-only',
      '-p',
      'name',
      'NES user',
      '-p',
      'count',
      '3',
      '-p',
      'ratio',
      '1.0',
      '-p',
      'flag',
      'True',
      '-p',
      'nothing',
      'None',
      '-r',
      'raw',
      '5',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const nb = read(out);
    assert.deepEqual(nb.cells[2].metadata.tags, ['injected-parameters']);
    assert.equal(
      cellSource(nb.cells[2]),
      '# Parameters\nname = "NES user"\ncount = 3\nratio = 1.0\nflag = True\nnothing = None\nraw = "5"\n',
    );
    assert.deepEqual(nb.cells[1].metadata.tags, ['parameters']);
    assert.equal(nb.cells[2].outputs.length, 0);
    assert.equal(nb.metadata.papermill.input_path, HELLO);
    assert.equal(nb.metadata.papermill.output_path, out);
    assert.deepEqual(nb.metadata.papermill.parameters, {
      name: 'NES user',
      count: 3,
      ratio: 1,
      flag: true,
      nothing: null,
      raw: '5',
    });
  });

  test('parameter sources merge with papermill precedence: -r > -p > -y > -f > -b > inject', async () => {
    const file = join(dir, 'p.yaml');
    writeFileSync(file, 'a: file\nb: file\nc: file\nd: file\n');
    const out = join(dir, 'precedence.ipynb');
    const b64 = Buffer.from('a: b64\nb: b64\nc: b64\nd: b64\ne: b64\n').toString('base64');
    // Deliberately in the reverse order on the command line.
    const r = await nesRun([
      HELLO,
      out,
      '--prepare-only',
      '-r',
      'a',
      'raw',
      '-p',
      'a',
      'guessed',
      '-p',
      'b',
      '2',
      '-y',
      'a: yaml\nb: yaml\nc: yaml',
      '-f',
      file,
      '-b',
      b64,
      '--inject-paths',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(read(out).metadata.papermill.parameters, {
      PAPERMILL_INPUT_PATH: HELLO,
      PAPERMILL_OUTPUT_PATH: out,
      a: 'raw',
      b: 2,
      c: 'yaml',
      d: 'file',
      e: 'b64',
    });
  });

  test('OUTPUT is templated with the parameters and pm built-ins', async () => {
    const r = await nesRun([
      HELLO,
      join(dir, 'templ/{name}-{count}-{pm[run_uuid]}.ipynb'),
      '--prepare-only',
      '-p',
      'name',
      'ada',
      '-p',
      'count',
      '2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const files = readdirSync(join(dir, 'templ'));
    assert.equal(files.length, 1);
    assert.match(
      files[0] ?? '',
      /^ada-2-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}\.ipynb$/,
    );
    const missing = await nesRun([HELLO, join(dir, '{nope}.ipynb'), '--prepare-only']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /OUTPUT .*\{nope\}\.ipynb: Missing parameter 'nope'/);
  });

  test('- reads stdin and writes stdout', async () => {
    const r = await nesRun(['-', '-', '--prepare-only', '-p', 'count', '7'], {
      stdin: readFileSync(HELLO, 'utf8'),
    });
    assert.equal(r.code, 0, r.stderr);
    const nb = JSON.parse(r.stdout);
    assert.equal(cellSource(nb.cells[2]), '# Parameters\ncount = 7\n');
    assert.equal(r.stderr, '', 'the default log level is ERROR when the notebook goes to stdout');
  });

  test('report mode hides code inputs', async () => {
    const out = join(dir, 'report.ipynb');
    const r = await nesRun([HELLO, out, '--prepare-only', '--report-mode', '-p', 'count', '2']);
    assert.equal(r.code, 0, r.stderr);
    for (const cell of read(out).cells) {
      if (cell.cell_type === 'code') assert.equal(cell.metadata.jupyter?.source_hidden, true);
      else assert.equal(cell.metadata.jupyter, undefined);
    }
  });

  test('secret parameters never reach a log line', async () => {
    const r = await nesRun([
      HELLO,
      join(dir, 'secret.ipynb'),
      '--prepare-only',
      '--log-level',
      'DEBUG',
      '-p',
      'api_token',
      'tok-123456',
      '-r',
      'db_password',
      'hunter2hunter2',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /"api_token":"\*\*\*"/);
    assert.doesNotMatch(r.stderr, /tok-123456|hunter2hunter2/);
  });
});

describe('nes-run errors before anything runs', { concurrency: 4 }, () => {
  test('missing input: exit 3, nothing written', async () => {
    const out = join(dir, 'never.ipynb');
    const r = await nesRun([join(dir, 'missing.ipynb'), out]);
    assert.equal(r.code, 3);
    assert.match(
      r.stderr,
      /nes-run: error: path_not_found: local notebook .*missing\.ipynb does not exist/,
    );
    assert.equal(existsSync(out), false);
  });

  test('invalid notebook: exit 3 naming the JSON path', async () => {
    const bad = join(dir, 'bad.ipynb');
    writeFileSync(
      bad,
      JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [{ cell_type: 'code' }],
      }),
    );
    const r = await nesRun([bad, join(dir, 'never2.ipynb')]);
    assert.equal(r.code, 3);
    assert.match(r.stderr, /not_a_notebook: .*bad\.ipynb is not a valid notebook: cells\[0\]/);
    const notJson = join(dir, 'notjson.ipynb');
    writeFileSync(notJson, '{"cells": [');
    const r2 = await nesRun([notJson, join(dir, 'never3.ipynb')]);
    assert.equal(r2.code, 3);
    assert.match(
      r2.stderr,
      /notjson\.ipynb is not a valid notebook: invalid JSON at line 1, column \d+/,
    );
  });

  test('usage errors: exit 2 with the reason', async () => {
    const o = join(dir, 'usage-o.ipynb');
    const cases: Array<[string[], RegExp]> = [
      [[HELLO, o, '-p', 'name'], /-p\/--parameters takes two values: NAME VALUE/],
      [[HELLO, o, '-y', 'a: [1'], /-y\/--parameters_yaml: invalid YAML/],
      [[HELLO, o, '--engine', 'papermill'], /--engine is not supported/],
      [[HELLO, o, '--no-such-flag'], /unknown option: --no-such-flag/],
    ];
    for (const [args, pattern] of cases) {
      const r = await nesRun(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /Try 'nes-run --help'/);
    }
    assert.equal(existsSync(o), false);
    // An unknown kernel is refused too, but after the prepared notebook is written, as papermill
    // saves it before starting the kernel.
    const k = join(dir, 'usage-kernel.ipynb');
    const r = await nesRun([HELLO, k, '-k', 'nosuchkernel']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /no such kernel: nosuchkernel; available kernels: .*python3/);
    assert.equal(existsSync(k), true);
  });

  test('--help lists papermill flags, NES flags and what is unsupported', async () => {
    const r = await nesRun(['--help']);
    assert.equal(r.code, 0);
    for (const flag of [
      '--parameters_raw',
      '--prepare-only',
      '--help-notebook',
      '--jupyter-url',
      '--json',
      '--events-file',
      '--max-output-bytes',
      '--ref',
      '--context',
      '--store',
      '--run-id',
      '--manifest',
      'NES_GITHUB_TOKEN',
      'Not supported',
    ]) {
      assert.ok(r.stdout.includes(flag), flag);
    }
    // The parameter flags are declared once, for nes-run and nes alike.
    const flat = r.stdout.replace(/\s+/g, ' ');
    for (const [name, flag] of Object.entries(PARAMETER_FLAGS)) {
      assert.ok(flat.includes(`-${flag.alias}, --${name}`), name);
      assert.ok(flat.includes(flag.describe), flag.describe);
    }
    const v = await nesRun(['--version']);
    assert.match(v.stdout, /^nes-run \d+\.\d+\.\d+/);
  });

  test('--help-notebook prints the parameters like papermill', async () => {
    const r = await nesRun([HELLO, '--help-notebook']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      [
        'Usage: nes-run [OPTIONS] INPUT [OUTPUT]',
        '',
        `Parameters inferred for notebook '${HELLO}':`,
        '  name: str (default "world")     Who to greet',
        '  count: int (default 1)          How many times to greet',
        '',
      ].join('\n'),
    );
  });
});

/** Generated tslab/jslab cells must typecheck as strict TypeScript (checked with the repo's tsc). */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pythonFloat, translateParameters } from '../src/translators/index.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');

test('tslab cells typecheck, each in its own block as a later cell would see it', (t) => {
  const samples: Array<Record<string, unknown>> = [
    { s: 'foo', i: 1, f: 1.5, b: true, n: null },
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the text must survive as-is
    { quotes: 'a "b" \'c\' \\d `e` ${f}', lines: 'x\ny\u2028z', unicode: 'café 😀 \u0000' },
    { big: 12345678901234567890n, floats: [0.1, 1e-7, 1e21, -0, pythonFloat(1)] },
    { special: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY] },
    { nested: { a: [1, { b: [null, [], {}] }], 'key "q"': { é: false }, ['__proto__']: 'p' } },
    { empty_list: [], empty_dict: {}, empty_string: '' },
  ];
  const source = samples
    .map((parameters) => `{\n${translateParameters({ kernelName: 'tslab', parameters })}}\n`)
    .join('');
  const directory = mkdtempSync(join(tmpdir(), 'nes-ts-params-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'cells.ts');
  writeFileSync(file, `${source}export {};\n`);
  const result = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'),
      '--noEmit',
      '--strict',
      '--target',
      'es2022',
      '--types',
      '',
      file,
    ],
    // Run from the temporary directory so the repository's tsconfig is not picked up.
    { encoding: 'utf8', cwd: directory },
  );
  assert.equal(result.status, 0, `${result.stdout}${result.stderr}\n${source}`);
});

/** nes-run refuses a parameter name that is code (exit 2, usage), before anything is written. */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { HELLO, nesRun, tempDir } from './cli-helpers.ts';

const dir = tempDir();

test('names with code or a newline: exit 2 naming the name, no output notebook', async () => {
  for (const [flag, name, value] of [
    ['-p', "__import__('os').system('id'); y", '1'],
    ['-r', 'a\nprint("injected")', 'v'],
    ['-p', 'class', '1'],
  ] as const) {
    const out = join(dir, 'never.ipynb');
    const r = await nesRun([HELLO, out, '--prepare-only', flag, name, value]);
    assert.equal(r.code, 2, r.stderr);
    assert.ok(r.stderr.includes(name), r.stderr);
    assert.match(r.stderr, /not a valid parameter name|not a Python identifier|reserved word/);
    assert.match(r.stderr, /Try 'nes-run --help'/);
    assert.equal(existsSync(out), false);
  }
  const yaml = await nesRun([HELLO, join(dir, 'y.ipynb'), '--prepare-only', '-y', '"a b": 1']);
  assert.equal(yaml.code, 2, yaml.stderr);
  assert.match(yaml.stderr, /parameter name "a b" is not a Python identifier/);
});

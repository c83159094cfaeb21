/**
 * nes-run on a warm template: with NES_FORK_SERVER naming a running fork server's socket, the
 * kernel nes-run's Jupyter Server starts is forked from that template (its parent is the
 * template, and the template's imports are already there); without it, or when nothing listens
 * there, the kernel starts normally and the run is the same.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import { nesRun, ROOT, tempDir, writeNotebook } from './cli-helpers.ts';

const dir = tempDir();
const socket = join(dir, 'kernels.sock');
const input = writeNotebook(join(dir, 'in.ipynb'), [
  'import os, sys\nprint(os.getppid(), "numpy" in sys.modules)',
]);
let template: ChildProcess;

before(async () => {
  template = spawn(
    join(ROOT, '.tools/py/bin/python'),
    ['-m', 'nes_kernel_fork.template', '--socket', socket, '--preload', 'numpy'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const ready = await new Promise<string>((resolve, reject) => {
    createInterface({ input: template.stdout as NodeJS.ReadableStream }).once('line', resolve);
    template.once('exit', (code) => reject(new Error(`the template exited ${code}`)));
  });
  assert.equal(JSON.parse(ready).ready, true);
});

after(() => {
  template.kill('SIGTERM');
});

function printed(path: string): string {
  const nb = JSON.parse(readFileSync(path, 'utf8'));
  return nb.cells
    .at(-1)
    .outputs.map((o: { text: string[] }) => o.text.join(''))
    .join('');
}

test('with NES_FORK_SERVER the kernel is forked from the template', async () => {
  const output = join(dir, 'forked.ipynb');
  const run = await nesRun([input, output], { env: { NES_FORK_SERVER: socket } });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(printed(output), `${template.pid} True\n`);
});

test('without a template listening the kernel starts normally', async () => {
  const output = join(dir, 'normal.ipynb');
  const run = await nesRun([input, output], {
    env: { NES_FORK_SERVER: join(dir, 'nothing-here.sock') },
  });
  assert.equal(run.code, 0, run.stderr);
  const [ppid, numpy] = printed(output).trim().split(' ');
  assert.notEqual(Number(ppid), template.pid);
  assert.equal(numpy, 'False');
});

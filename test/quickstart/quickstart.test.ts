/**
 * The README promises that `npm start` on a fresh clone runs the example notebook with
 * parameters. This runs that exact script and checks the notebook it writes.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseNotebook } from '@nes/notebook';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const run = promisify(execFile);

test('npm start runs the example notebook with the quickstart parameters', async () => {
  const output = join(repoRoot, 'out', 'hello.ipynb');
  await rm(output, { force: true });

  await run('npm', ['start', '--silent'], { cwd: repoRoot, timeout: 240_000 });

  const notebook = parseNotebook(await readFile(output, 'utf8'));
  const papermill = notebook.metadata.papermill;
  assert.deepEqual(papermill?.parameters, { name: 'NES user', count: 3 });
  // papermill leaves the notebook-level exception null on success; cells say false.
  assert.equal(papermill?.exception, null);

  const injected = notebook.cells.find((cell) =>
    cell.metadata.tags?.includes('injected-parameters'),
  );
  assert.equal(injected?.source, '# Parameters\nname = "NES user"\ncount = 3\n');

  const printed = notebook.cells
    .flatMap((cell) => (cell.cell_type === 'code' ? cell.outputs : []))
    .map((output) => (output.output_type === 'stream' ? output.text : ''))
    .join('');
  assert.match(printed, /NES user/);
  for (const cell of notebook.cells) {
    if (cell.cell_type === 'code') assert.equal(cell.metadata.papermill?.status, 'completed');
  }
});

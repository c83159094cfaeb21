/** The API process killed with -9 mid-run: its runner worker follows it and the notebook stays. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { workspace, writeNotebook } from './scheduler-support.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('killing the executor process with -9 ends its worker; the partial notebook is kept', async () => {
  const ws = workspace();
  const nb = writeNotebook(ws.notebooks, 'nap.ipynb', [
    'seconds = 0.3',
    'import time; print("before", flush=True)',
    'time.sleep(seconds)',
  ]);
  const entry = fileURLToPath(new URL('./scheduler-crash-child.ts', import.meta.url));
  const parent = spawn(process.execPath, [entry, ws.store, ws.work, ws.notebooks, nb], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const pid = await new Promise<number>((resolve, reject) => {
    let text = '';
    parent.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const line = text.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve((JSON.parse(line) as { pid: number }).pid);
    });
    parent.once('exit', (code) => reject(new Error(`executor process exited early (${code})`)));
  });
  // Kill only once an autosave holds 'before' (a fixed wait loses that race on a busy machine).
  const output = join(ws.store, 'runs/crash-1/output.ipynb');
  const saved = () => (existsSync(output) ? readFileSync(output, 'utf8') : '');
  const waitStart = performance.now();
  while (!saved().includes('before\\n') && performance.now() - waitStart < 30_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const t0 = performance.now();
  parent.kill('SIGKILL');
  while (alive(pid) && performance.now() - t0 < 10_000) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  console.log(`worker gone ${Math.round(performance.now() - t0)} ms after the executor's -9`);
  assert.equal(alive(pid), false, 'the worker outlived its executor');
  const notebook = JSON.parse(saved()) as {
    cells: Array<{ source: string | string[]; outputs?: Array<{ text?: string[] }> }>;
    metadata: { papermill: { exception: boolean } };
  };
  // Found by its source: a cancelled run's notebook may gain papermill's banner cell on top.
  const printing = notebook.cells.find((cell) =>
    [cell.source].flat().join('').includes('print("before"'),
  );
  assert.deepEqual(printing?.outputs?.[0]?.text, ['before\n']);
  // The worker saw its parent go and saved the run as cancelled before exiting.
  assert.equal(notebook.metadata.papermill.exception, true);
});

/**
 * A quick timing sanity check, not a test: end-to-end wall time of trivial notebooks, private
 * Jupyter Server start included, saving to a real file; optionally the runner's peak RSS while a
 * cell prints a lot.
 *
 *   node services/runner/test/timing-sanity.ts            # 50 and 500 trivial cells
 *   node services/runner/test/timing-sanity.ts --print-mb 1000   # RSS while printing 1000 MB
 *
 * Expect about 3 s for 50 cells on 2 cores (server ~0.8 s, kernel ~0.7 s, cells ~5 ms each).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalStore, StoreNotebookSink } from '@nes/stores';
import { executeNotebook } from '../src/execute.ts';
import { code, notebook } from './support/notebooks.ts';

const mb = (bytes: number) => Math.round(bytes / 1024 / 1024);
const dir = await mkdtemp(join(tmpdir(), 'nes-timing-'));

async function trivial(cells: number): Promise<void> {
  const nb = notebook(Array.from({ length: cells }, (_, i) => code(`x = ${i}`)));
  const started = performance.now();
  const result = await executeNotebook({
    notebook: nb,
    sink: new StoreNotebookSink(new LocalStore(dir), `trivial-${cells}.ipynb`),
  });
  const ms = Math.round(performance.now() - started);
  console.log(
    `${cells} trivial cells: ${ms} ms end to end, status ${result.status}, ${result.saves} writes`,
  );
}

async function printLots(megabytes: number): Promise<void> {
  let peak = 0;
  let peakHeap = 0;
  let peakBuffers = 0;
  const sampler = setInterval(() => {
    const usage = process.memoryUsage();
    peak = Math.max(peak, usage.rss);
    peakHeap = Math.max(peakHeap, usage.heapUsed);
    peakBuffers = Math.max(peakBuffers, usage.arrayBuffers);
  }, 50);
  const nb = notebook([
    code(`import sys\nfor _ in range(${megabytes}):\n    _ = sys.stdout.write('x' * 1_000_000)`),
  ]);
  const started = performance.now();
  const result = await executeNotebook({
    notebook: nb,
    sink: new StoreNotebookSink(new LocalStore(dir), 'print-lots.ipynb'),
  });
  clearInterval(sampler);
  const ms = Math.round(performance.now() - started);
  console.log(
    `printed ${megabytes} MB: ${ms} ms, status ${result.status}, peak runner RSS ${mb(peak)} MB (heap ${mb(peakHeap)} MB, buffers ${mb(peakBuffers)} MB)`,
    result.error ?? '',
  );
}

const printIndex = process.argv.indexOf('--print-mb');
if (printIndex > 0) {
  await printLots(Number(process.argv[printIndex + 1] ?? 1000));
} else {
  await trivial(50);
  await trivial(500);
}

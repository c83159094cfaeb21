/**
 * Store benchmark: upload and download throughput (MB/s, median of N runs) to the GCS emulator
 * (firebase-tools', in-process, on loopback) and to the local directory store, for 1 x 50 MB and
 * 100 x 1 MB (sequential, so per-object overhead shows); plus the autosave write count of the
 * notebook sink for a simulated 500-cell notebook whose cells finish every 10 ms.
 *
 *   node bench/stores.bench.ts [--runs N] [--no-write]
 *
 * Writes its own section of bench/RESULTS.md (between markers; other sections are kept).
 * The emulator keeps objects in memory and on local disk: its numbers measure our client path
 * (HTTP, multipart/resumable framing, hashing), not GCS.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import type { Notebook } from '@nes/notebook';
import { GcsStore, LocalStore, type ObjectStore, StoreNotebookSink } from '@nes/stores';
import { startGcsEmulator } from '../test/servers/gcs/index.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'no-write': { type: 'boolean', default: false },
  },
});
const RUNS = Math.max(3, Number(values.runs));
const MB = 1024 * 1024;

interface Row {
  store: string;
  case: string;
  up: number;
  down: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

async function measure(store: ObjectStore, name: string): Promise<Row[]> {
  const big = Buffer.alloc(50 * MB, 0x61);
  const small = Buffer.alloc(MB, 0x62);
  const rows: Row[] = [];
  const cases = [
    {
      title: '1 x 50 MB (stream)',
      megabytes: 50,
      up: (run: number) =>
        store.put(`bench/${run}/big.bin`, Readable.from(chunks(big))).then(() => {}),
      down: async (run: number) => {
        for await (const _ of await store.getStream(`bench/${run}/big.bin`));
      },
    },
    {
      title: '100 x 1 MB (buffers)',
      megabytes: 100,
      up: async (run: number) => {
        for (let i = 0; i < 100; i += 1) await store.put(`bench/${run}/small/${i}.bin`, small);
      },
      down: async (run: number) => {
        for (let i = 0; i < 100; i += 1) await store.get(`bench/${run}/small/${i}.bin`);
      },
    },
  ];
  for (const c of cases) {
    const up: number[] = [];
    const down: number[] = [];
    for (let run = 0; run < RUNS; run += 1) {
      up.push(c.megabytes / (await timed(() => c.up(run))));
      down.push(c.megabytes / (await timed(() => c.down(run))));
    }
    rows.push({ store: name, case: c.title, up: median(up), down: median(down) });
    process.stderr.write(
      `${name} ${c.title}: up ${median(up).toFixed(0)} MB/s, down ${median(down).toFixed(0)} MB/s\n`,
    );
  }
  return rows;
}

function* chunks(buffer: Buffer): Generator<Buffer> {
  for (let i = 0; i < buffer.length; i += 256 * 1024) yield buffer.subarray(i, i + 256 * 1024);
}

/** 500 cells finishing every 10 ms, each asking for an autosave (the runner's worst case). */
async function autosaveCount(
  store: ObjectStore,
): Promise<{ cells: number; seconds: number; writes: number }> {
  const sink = new StoreNotebookSink(store, 'bench/autosave/output.ipynb', { runId: 'bench' });
  const nb: Notebook = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {},
    cells: [],
  } as unknown as Notebook;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let cell = 0; cell < 500; cell += 1) {
    nb.cells.push({
      cell_type: 'code',
      id: `c${cell}`,
      source: `x = ${cell}`,
      metadata: {},
      outputs: [],
      execution_count: cell + 1,
    } as Notebook['cells'][number]);
    pending.push(sink.write(structuredClone(nb), 'autosave').catch(() => {}));
    await new Promise((r) => setTimeout(r, 10));
  }
  pending.push(sink.write(structuredClone(nb), 'final'));
  await Promise.all(pending);
  return { cells: 500, seconds: (performance.now() - started) / 1000, writes: sink.writes };
}

const scratch = mkdtempSync(join(tmpdir(), 'nes-stores-bench-'));
const emulator = await startGcsEmulator();
process.env.STORAGE_EMULATOR_HOST = emulator.url;
try {
  const gcs = new GcsStore({ bucket: 'nes-bench', prefix: 'b' });
  const local = new LocalStore(join(scratch, 'store'));
  const rows = [...(await measure(gcs, 'GCS emulator')), ...(await measure(local, 'local dir'))];
  const autosave = await autosaveCount(gcs);
  const table = [
    '| store | case | upload MB/s | download MB/s |',
    '| --- | --- | --- | --- |',
    ...rows.map((r) => `| ${r.store} | ${r.case} | ${r.up.toFixed(0)} | ${r.down.toFixed(0)} |`),
  ].join('\n');
  const bound = Math.floor(autosave.seconds) + 1;
  const autosaveLine = `Autosave (StoreNotebookSink on the emulator): ${autosave.cells} cells finishing every 10 ms, an autosave asked after each: ${autosave.writes} writes in ${autosave.seconds.toFixed(1)} s (bound: elapsed seconds + 1 = ${bound}: ${autosave.writes <= bound ? 'met' : 'MISSED'}).`;
  process.stdout.write(`${table}\n\n${autosaveLine}\n`);
  if (!values['no-write']) writeSection(table, autosaveLine);
} finally {
  await emulator.stop();
  rmSync(scratch, { recursive: true, force: true });
}

function writeSection(table: string, autosaveLine: string): void {
  const machine = `${cpus().length} x ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GB RAM, Node ${process.version}`;
  const section = [
    '## Output stores (`node bench/stores.bench.ts`)',
    '',
    `${new Date().toISOString().slice(0, 10)}, ${machine}; median of ${RUNS} runs each, sequential requests.`,
    'GCS here is the firebase-tools emulator in the same process on loopback: it measures the client',
    'path (HTTP, framing, checksums), not Google Cloud Storage.',
    '',
    table,
    '',
    autosaveLine,
  ].join('\n');
  writeBenchSection(join(ROOT, 'bench/RESULTS.md'), 'stores', section);
  process.stderr.write('wrote the stores section of bench/RESULTS.md\n');
}

/**
 * Forked kernels against normally started ones, through the embedded service (`nes serve` in a
 * child process, PGlite, local executor, the default sandbox and pool, NES_CONCURRENCY=2):
 * - N runs of a two-cell notebook, two in flight at a time: total wall time, submit -> succeeded
 *   p50/p95, with forked kernels (numpy in the template, or an empty template) and with
 *   NES_FORK_KERNELS=off (today's pool), side by side with the anchor: a lean nbconvert
 *   (bench/.work/nbconvert-venv, made by ../shared/anchors/nbconvert-venv.sh) two at a time;
 * - where a run's time goes: submit -> started (API, claim, worker hand-off, kernel attach),
 *   started -> finished (execute, save), finished -> seen by the client (report, polling);
 * - a notebook whose first cell imports numpy: that cell's duration (papermill metadata) with
 *   numpy in the template and without, median of 5;
 * - PSS per idle kernel (/proc/PID/smaps_rollup): the pool's forked kernels, normal ones.
 *
 *   node bench/fork-kernels.bench.ts [--runs 100] [--anchor-runs 100] [--no-write]
 *
 * The table goes to bench/RESULTS.md (section `fork-kernels`; the analysis after it is kept).
 * The machine's load average is printed with the table: compare rows taken together only.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startEmbeddedService, trivialNotebook } from './embedded-service.ts';
import { writeBenchSection } from './results-file.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100' },
    'anchor-runs': { type: 'string', default: '100' },
    'no-write': { type: 'boolean' },
  },
});
const RUNS = Number(values.runs);
const ANCHOR_RUNS = Number(values['anchor-runs']);
const ANCHOR_VENV = resolve(import.meta.dirname, '.work/nbconvert-venv');
const TOKEN = 'bench-admin-token';
const work = mkdtempSync(join(tmpdir(), 'nes-fork-bench-'));
writeFileSync(join(work, 'two.ipynb'), trivialNotebook());
const numpyNotebook = JSON.parse(trivialNotebook());
numpyNotebook.cells[0].source = 'import numpy';
numpyNotebook.cells[0].metadata = {};
numpyNotebook.cells[1].source = 'print(numpy.arange(3).sum())';
writeFileSync(join(work, 'numpy.ipynb'), JSON.stringify(numpyNotebook));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
};

interface Timed {
  total: number;
  /** submit -> started, started -> finished, finished -> seen (ms). */
  phases: [number, number, number];
  id: string;
}

const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function runOnce(url: string, notebook: string): Promise<Timed> {
  const t0 = performance.now();
  const submitted = Date.now();
  const res = await fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ notebook: join(work, notebook) }),
  });
  const run = (await res.json()) as { id: string };
  for (;;) {
    const r = (await (await fetch(`${url}/v1/runs/${run.id}`, { headers })).json()) as {
      status: string;
      startedAt: string;
      finishedAt: string;
    };
    if (r.status === 'succeeded') {
      const seen = Date.now();
      const started = Date.parse(r.startedAt);
      const finished = Date.parse(r.finishedAt);
      return {
        total: performance.now() - t0,
        phases: [started - submitted, finished - started, seen - finished],
        id: run.id,
      };
    }
    if (['failed', 'cancelled', 'timed_out'].includes(r.status)) {
      throw new Error(`run ${run.id} ${r.status}: ${JSON.stringify(r)}`);
    }
    await sleep(10);
  }
}

/** The duration papermill's metadata gives the cell importing numpy (ms). */
async function importCellMs(url: string, id: string): Promise<number> {
  const nb = (await (await fetch(`${url}/v1/runs/${id}/notebook`, { headers })).json()) as {
    cells: Array<{ source: string | string[]; metadata: { papermill?: { duration?: number } } }>;
  };
  const cell = nb.cells.find((c) => [c.source].flat().join('').startsWith('import numpy'));
  return (cell?.metadata.papermill?.duration ?? Number.NaN) * 1000;
}

function descendants(root: number): Map<number, { ppid: number; argv: string[] }> {
  const all = new Map<number, { ppid: number; argv: string[] }>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      all.set(Number(e), { ppid, argv: readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0') });
    } catch {}
  }
  const out = new Map<number, { ppid: number; argv: string[] }>();
  const frontier = [root];
  while (frontier.length) {
    const p = frontier.pop() as number;
    for (const [pid, info] of all) {
      if (info.ppid === p && !out.has(pid)) {
        out.set(pid, info);
        frontier.push(pid);
      }
    }
  }
  return out;
}

function pssKb(pid: number): number {
  const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN);
}

/** PSS of the idle kernels under the service (kB), forked (children of the template) or not. */
function idleKernelPss(pid: number): { forked: number[]; started: number[] } {
  const procs = descendants(pid);
  const out = { forked: [] as number[], started: [] as number[] };
  for (const [kpid, info] of procs) {
    const forked =
      info.argv.includes('nes_kernel_fork.template') &&
      procs.get(info.ppid)?.argv.includes('nes_kernel_fork.template');
    if (forked) out.forked.push(pssKb(kpid));
    // (launch.py, the bare Python that asks for a forked kernel, names the kernel's argv too)
    else if (
      /python[\d.]*$/.test(info.argv[0] ?? '') &&
      info.argv.some((a) => a.includes('ipykernel_launcher')) &&
      !info.argv.some((a) => a.endsWith('launch.py'))
    ) {
      out.started.push(pssKb(kpid));
    }
  }
  return out;
}

interface Row {
  name: string;
  totalS: number;
  p50: number;
  p95: number;
  phases: [number, number, number] | null;
  importMs: number | null;
  pss: { forked: number[]; started: number[] } | null;
}

const median = (xs: number[]) => quantile(xs, 0.5);

async function measure(name: string, env: Record<string, string>): Promise<Row> {
  const service = await startEmbeddedService({
    work,
    token: TOKEN,
    env: { NES_CONCURRENCY: '2', ...env },
  });
  try {
    await sleep(5000); // the pool fills
    const pss = idleKernelPss(service.pid);
    await runOnce(service.url, 'two.ipynb'); // warm-up
    const times: Timed[] = [];
    let next = 0;
    const t0 = performance.now();
    const lane = async () => {
      while (next < RUNS) {
        next += 1;
        times.push(await runOnce(service.url, 'two.ipynb'));
      }
    };
    await Promise.all([lane(), lane()]);
    const totalS = (performance.now() - t0) / 1000;
    const importTimes: number[] = [];
    for (let i = 0; i < 5; i += 1) {
      await sleep(2000); // a warm kernel again
      const run = await runOnce(service.url, 'numpy.ipynb');
      importTimes.push(await importCellMs(service.url, run.id));
    }
    const totals = times.map((t) => t.total);
    return {
      name,
      totalS,
      p50: quantile(totals, 0.5),
      p95: quantile(totals, 0.95),
      phases: [0, 1, 2].map((i) => median(times.map((t) => t.phases[i] as number))) as [
        number,
        number,
        number,
      ],
      importMs: median(importTimes),
      pss,
    };
  } finally {
    await service.stop();
  }
}

const exec = promisify(execFile);

/** The anchor: a lean nbconvert executing the same notebook, two at a time. */
async function nbconvertRow(): Promise<Row | null> {
  const nbconvert = join(ANCHOR_VENV, 'bin/jupyter-nbconvert');
  if (!existsSync(nbconvert)) {
    await exec('sh', [
      resolve(import.meta.dirname, 'anchors/nbconvert-venv.sh'),
      ANCHOR_VENV,
    ]).catch(() => undefined);
  }
  if (!existsSync(nbconvert)) return null;
  const times: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async (k: number) => {
    while (next < ANCHOR_RUNS) {
      next += 1;
      const s = performance.now();
      await exec(nbconvert, [
        '--to',
        'notebook',
        '--execute',
        join(work, 'two.ipynb'),
        '--output',
        join(work, `out-${k}.ipynb`),
      ]);
      times.push(performance.now() - s);
    }
  };
  await Promise.all([lane(0), lane(1)]);
  return {
    name: `lean nbconvert, two at a time (${ANCHOR_RUNS} runs)`,
    totalS: ((performance.now() - t0) / 1000) * (RUNS / ANCHOR_RUNS),
    p50: quantile(times, 0.5),
    p95: quantile(times, 0.95),
    phases: null,
    importMs: null,
    pss: null,
  };
}

const mb = (kb: number[]) => (kb.length ? kb.map((k) => (k / 1024).toFixed(1)).join(', ') : '-');
const load = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const rows = [
  await measure('forked, numpy in the template', {
    NES_FORK_KERNELS: 'on',
    NES_FORK_PRELOAD: 'numpy',
  }),
  await measure('forked, empty template', { NES_FORK_KERNELS: 'on', NES_FORK_PRELOAD: 'none' }),
  await measure('normal start, no server', { NES_FORK_KERNELS: 'off' }),
  await measure('forked, a Jupyter Server per run', {
    NES_FORK_KERNELS: 'on',
    NES_FORK_PRELOAD: 'numpy',
    NES_KERNEL_SERVER: 'per-run',
  }),
  await measure('normal start, a Jupyter Server per run (the earlier pool)', {
    NES_FORK_KERNELS: 'off',
    NES_KERNEL_SERVER: 'per-run',
  }),
];
const anchor = await nbconvertRow();
const pool = rows[4] as Row;
const lines = [
  `machine: ${cpus().length} x ${cpus()[0]?.model}, ${new Date().toISOString()}, load average before: ${load}, after: ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`,
  `${RUNS} runs of a two-cell notebook, two in flight (NES_CONCURRENCY=2); import cell: median of 5`,
  '',
  '| execution | total for 100 runs (s) | vs pool | vs nbconvert | submit->succeeded p50 / p95 (ms) | submit->started / started->finished / finished->seen p50 (ms) | `import numpy` cell (ms) | idle kernel PSS, forked / started (MB) |',
  '|---|---|---|---|---|---|---|---|',
  ...[...rows, ...(anchor ? [anchor] : [])].map(
    (r) =>
      `| ${r.name} | ${((r.totalS * 100) / RUNS).toFixed(1)} | ${(pool.totalS / r.totalS).toFixed(2)}x | ${anchor ? `${(anchor.totalS / r.totalS).toFixed(2)}x` : '-'} | ${r.p50.toFixed(0)} / ${r.p95.toFixed(0)} | ${r.phases ? r.phases.map((x) => x.toFixed(0)).join(' / ') : '-'} | ${r.importMs?.toFixed(1) ?? '-'} | ${r.pss ? `${mb(r.pss.forked)} / ${mb(r.pss.started)}` : '-'} |`,
  ),
];
console.log(lines.join('\n'));
if (!values['no-write']) {
  writeBenchSection(
    resolve(import.meta.dirname, 'RESULTS.md'),
    'fork-kernels',
    `## Forked kernels (\`node bench/fork-kernels.bench.ts\`)\n\n${lines.join('\n')}\n`,
    '### Reading',
  );
}
rmSync(work, { recursive: true, force: true });

/**
 * Runner benchmark: nes-run against `jupyter nbconvert --to notebook --execute` (the anchor) on
 * the same generated notebooks, same machine. Wall time of the whole command (server and kernel
 * start included), median of N runs each; plus the peak RSS of the runner process itself (not
 * its Jupyter server or kernel) on a notebook that prints 1 GB. Then where nes-run's cold time
 * goes: Node's start, the kernel's start (and its parts), loading nes-run's modules, executing
 * and saving, stopping the kernel.
 *
 * The anchor runs from a lean virtual environment of its own (bench/anchors/nbconvert-venv.sh,
 * made once in bench/.work/nbconvert-venv), never from the project's crowded .tools/py, where the
 * same nbconvert starts about 2x slower. papermill is not installable here: its column holds the
 * numbers measured side by side on a quiet machine (2026-12, papermill 2.6.0 in its own lean
 * venv, same kernel), as a reference; they are not re-measured.
 *
 *   node bench/runner.bench.ts [--runs N] [--cases empty,cells50,...] [--no-write]
 *
 * Writes bench/RESULTS.md unless --no-write. Generated notebooks live in bench/.work/.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench/.work');
const NES_RUN = join(ROOT, 'services/runner/bin/nes-run.ts');
const ANCHOR_VENV = join(WORK, 'nbconvert-venv');
const NBCONVERT = join(ANCHOR_VENV, 'bin/jupyter-nbconvert');

/** papermill 2.6.0, measured side by side on a quiet machine (2026-12); not re-measured. */
const PAPERMILL_REFERENCE_SECONDS: Record<string, number> = {
  empty: 1.31,
  cells50: 1.81,
  cells500: 50.3,
};
// RESULTS.md is shared with other benchmarks: this one rewrites only its own block.

interface Case {
  name: string;
  title: string;
  cells: string[];
  /** Extra nes-run flags. */
  nesArgs?: string[];
  /** Measure peak RSS (one run each) instead of timing. */
  rss?: boolean;
  target?: { ratio?: number; rssMb?: number };
}

const CASES: Case[] = [
  { name: 'empty', title: 'empty notebook', cells: [], target: { ratio: 0.7 } },
  {
    name: 'cells50',
    title: '50 trivial cells',
    cells: Array.from({ length: 50 }, (_, i) => `x = ${i}`),
    target: { ratio: 0.7 },
  },
  {
    name: 'cells500',
    title: '500 trivial cells (nes-run autosave on)',
    cells: Array.from({ length: 500 }, (_, i) => `x = ${i}`),
    nesArgs: ['--request-save-on-cell-execute'],
    target: { ratio: 0.8 },
  },
  {
    name: 'print10mb',
    title: 'one cell printing 10 MB',
    cells: ["print('x' * (10 * 1024 * 1024 - 1))"],
    // Same work as nbconvert: keep the whole output (nes-run caps outputs by default).
    nesArgs: ['--max-output-bytes', '64M'],
  },
  {
    name: 'matplotlib',
    title: 'a matplotlib figure',
    cells: [
      '%matplotlib inline\nimport matplotlib.pyplot as plt',
      'fig, ax = plt.subplots()\nax.plot(range(100), [i * i for i in range(100)])\nplt.show()',
    ],
  },
  {
    name: 'rss1gb',
    title: 'peak RSS, notebook printing 1 GB (1 MB prints, flushed)',
    cells: ["chunk = 'x' * (1024 * 1024 - 1)\nfor _ in range(1024):\n    print(chunk, flush=True)"],
    rss: true,
    target: { rssMb: 300 },
  },
  {
    // Unflushed, ipykernel coalesces everything printed within its 0.2 s flush interval into
    // one IOPub message: tens of MB per message.
    name: 'rss1gb-burst',
    title: 'peak RSS, notebook printing 1 GB (1 MB prints, unflushed)',
    cells: ["chunk = 'x' * (1024 * 1024 - 1)\nfor _ in range(1024):\n    print(chunk)"],
    rss: true,
    target: { rssMb: 300 },
  },
];

function notebook(cells: string[]): string {
  return `${JSON.stringify(
    {
      nbformat: 4,
      nbformat_minor: 5,
      metadata: {
        kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
        language_info: { name: 'python' },
      },
      cells: cells.map((source, i) => ({
        cell_type: 'code',
        id: `c${i}`,
        metadata: {},
        execution_count: null,
        outputs: [],
        source,
      })),
    },
    null,
    1,
  )}\n`;
}

interface Measure {
  seconds: number;
  exitCode: number | null;
  peakRssMb: number;
  /** Last stderr line of a failed run. */
  failure?: string;
}

/** Runs a command; samples the process's own VmHWM from /proc until it exits. */
function measure(command: string, args: string[]): Promise<Measure> {
  return new Promise((done, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    let peakKb = 0;
    const sample = () => {
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
        const m = /VmHWM:\s+(\d+)/.exec(status);
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // exited
      }
    };
    const timer = setInterval(sample, 20);
    child.on('error', fail);
    child.on('exit', (code) => {
      clearInterval(timer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      let failure: string | undefined;
      if (code !== 0) {
        process.stderr.write(`  ${command} exited ${code}:\n${stderr}\n`);
        failure = `exit ${code}: ${stderr.trim().split('\n').at(-1) ?? ''}`;
      }
      done({ seconds, exitCode: code, peakRssMb: peakKb / 1024, ...(failure ? { failure } : {}) });
    });
  });
}

function nesRun(input: string, output: string, extra: string[] = []): [string, string[]] {
  return [
    process.execPath,
    [NES_RUN, input, output, '--no-progress-bar', '--log-level', 'ERROR', ...extra],
  ];
}

function nbconvert(input: string, output: string): [string, string[]] {
  return [
    NBCONVERT,
    ['--to', 'notebook', '--execute', input, '--output', output, '--log-level', 'ERROR'],
  ];
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

interface Row {
  c: Case;
  nes: number;
  nbc: number;
  nesRuns: number[];
  nbcRuns: number[];
  failures: number;
  notes: string[];
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      runs: { type: 'string', default: '5' },
      cases: { type: 'string' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs takes a positive integer');
  const wanted = values.cases?.split(',').map((s) => s.trim());
  const unknown = wanted?.filter((w) => !CASES.some((c) => c.name === w)) ?? [];
  if (unknown.length) {
    throw new Error(
      `unknown case(s) ${unknown.join(', ')}; cases: ${CASES.map((c) => c.name).join(', ')}`,
    );
  }
  const cases = CASES.filter((c) => !wanted || wanted.includes(c.name));
  mkdirSync(WORK, { recursive: true });
  makeAnchor();

  const rows: Row[] = [];
  for (const c of cases) {
    const input = join(WORK, `${c.name}.ipynb`);
    writeFileSync(input, notebook(c.cells));
    const nesOut = join(WORK, `${c.name}.nes-out.ipynb`);
    const nbcOut = join(WORK, `${c.name}.nbconvert-out.ipynb`);
    const n = c.rss ? 1 : runs;
    const row: Row = { c, nes: 0, nbc: 0, nesRuns: [], nbcRuns: [], failures: 0, notes: [] };
    process.stderr.write(`${c.name}: ${n} run(s) each `);
    // Warm-up (file caches, Python bytecode), not counted.
    if (!c.rss) {
      await measure(...nesRun(input, nesOut, c.nesArgs));
      await measure(...nbconvert(input, nbcOut));
    }
    for (let i = 0; i < n; i++) {
      // Alternate the tools so drift on the machine hits both alike.
      const a = await measure(...nesRun(input, nesOut, c.nesArgs));
      const b = await measure(...nbconvert(input, nbcOut));
      if (a.exitCode !== 0 || b.exitCode !== 0) row.failures += 1;
      if (a.failure) row.notes.push(`nes-run ${a.failure}`);
      if (b.failure) row.notes.push(`nbconvert ${b.failure}`);
      row.nesRuns.push(c.rss ? a.peakRssMb : a.seconds);
      row.nbcRuns.push(c.rss ? b.peakRssMb : b.seconds);
      process.stderr.write('.');
    }
    process.stderr.write('\n');
    row.nes = median(row.nesRuns);
    row.nbc = median(row.nbcRuns);
    rows.push(row);
    if (c.rss) {
      rmSync(nesOut, { force: true });
      rmSync(nbcOut, { force: true });
    }
  }

  const phases = await measurePhases(runs);
  const table = `${renderTable(rows, runs)}\n\n${renderPhases(phases, runs)}`;
  process.stdout.write(`${table}\n`);
  if (!values['no-write']) {
    writeBenchSection(join(ROOT, 'bench/RESULTS.md'), 'runner', renderResults(table, runs));
    process.stderr.write('wrote bench/RESULTS.md\n');
  }
}

/** The lean nbconvert venv, made once (needs pip's index: the machine's mirror here). */
function makeAnchor(): void {
  const script = join(ROOT, 'bench/anchors/nbconvert-venv.sh');
  const made = spawnSync('sh', [script, ANCHOR_VENV], { stdio: ['ignore', 'ignore', 'inherit'] });
  if (made.status !== 0) {
    throw new Error(
      `could not make the anchor's venv with ${script} ${ANCHOR_VENV} (pip needs an index)`,
    );
  }
}

interface Phases {
  /** `node -e ''`. */
  nodeStart: number;
  /** Process start to the kernel's launch: Node, nes-run's bin, reading the notebook's kernel. */
  toLaunch: number;
  /** Launch to ready (kernel_info answered, IOPub connected). */
  kernel: number;
  /** Of the kernel's start: Python itself, and importing ipykernel (`-X importtime` aside). */
  python: number;
  ipykernelImport: number;
  /** Loading the CLI and the engine, reading and preparing the notebook (overlaps the kernel). */
  modules: number;
  /** Kernel ready to the final save written (the cells and the save). */
  executeSave: number;
  /** Final save to the kernel stopped (its shutdown began with the save). */
  stop: number;
  total: number;
}

/**
 * Where a cold nes-run's time goes, on the empty notebook (medians): from nes-run's own
 * milestones (`--log-level DEBUG` prints them in ms since the process started), Node's start
 * (`node -e ''`), and the kernel's own start split into Python's start and importing ipykernel
 * (in the same Python environment). nes-run launches the kernel before it loads its own modules,
 * so loading them overlaps the kernel's start: that row is shown apart, not added to the total.
 */
async function measurePhases(runs: number): Promise<Phases> {
  const input = join(WORK, 'phases.ipynb');
  writeFileSync(input, notebook([]));
  const python = join(ROOT, '.tools/py/bin/python');
  const samples: Record<keyof Phases, number[]> = {
    nodeStart: [],
    toLaunch: [],
    kernel: [],
    python: [],
    ipykernelImport: [],
    modules: [],
    executeSave: [],
    stop: [],
    total: [],
  };
  process.stderr.write(`phases: ${runs} run(s) `);
  for (let i = 0; i < runs; i++) {
    samples.nodeStart.push((await measure(process.execPath, ['-e', ''])).seconds);
    const pythonStart = (await measure(python, ['-c', 'pass'])).seconds;
    samples.python.push(pythonStart);
    const imported = (await measure(python, ['-c', 'import ipykernel.kernelapp'])).seconds;
    samples.ipykernelImport.push(imported - pythonStart);
    const started = process.hrtime.bigint();
    const run = spawnSync(
      process.execPath,
      [NES_RUN, input, join(WORK, 'phases.out.ipynb'), '--no-progress-bar', '--log-level', 'DEBUG'],
      { cwd: ROOT, encoding: 'utf8' },
    );
    samples.total.push(Number(process.hrtime.bigint() - started) / 1e9);
    const at = (name: string) =>
      Number(new RegExp(`[:,] ${name} (\\d+)`).exec(run.stderr)?.[1] ?? Number.NaN) / 1000;
    samples.toLaunch.push(at('kernel launched'));
    samples.kernel.push(at('kernel ready') - at('kernel launched'));
    samples.modules.push(at('engine loaded') - at('kernel launched'));
    samples.executeSave.push(at('saved') - at('kernel ready'));
    samples.stop.push(at('kernel stopped') - at('saved'));
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  return Object.fromEntries(
    Object.entries(samples).map(([key, values]) => [key, median(values)]),
  ) as unknown as Phases;
}

function renderPhases(p: Phases, runs: number): string {
  const rest = p.total - p.toLaunch - p.kernel - p.executeSave - p.stop;
  const row = (what: string, seconds: number, share = true) =>
    `| ${what} | ${seconds.toFixed(2)} s | ${share ? `${((seconds / p.total) * 100).toFixed(0)}%` : '(overlapped)'} |`;
  return [
    `Where a cold nes-run's time goes, empty notebook (medians of ${runs} runs):`,
    '',
    '| phase | time | share |',
    '| --- | --- | --- |',
    row(
      `process start to the kernel's launch (Node itself: ${p.nodeStart.toFixed(2)} s)`,
      p.toLaunch,
    ),
    row('kernel start (launch to kernel_info answered and IOPub connected)', p.kernel),
    row(`- of which Python's start (\`python -c pass\`)`, p.python, false),
    row(
      '- of which importing ipykernel (`import ipykernel.kernelapp` minus that)',
      p.ipykernelImport,
      false,
    ),
    row(
      "loading the CLI and engine, preparing the notebook (during the kernel's start)",
      p.modules,
      false,
    ),
    row('kernel ready to the final save written (executing, saving)', p.executeSave),
    row("the kernel's exit after the save (it is asked to stop as the save begins)", p.stop),
    row('the rest (exit)', rest),
    row('total', p.total),
  ].join('\n');
}

function renderTable(rows: Row[], runs: number): string {
  const lines = [
    '| case | nes-run median | lean nbconvert median | ratio | target | papermill 2.6.0 (reference) |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    const unit = r.c.rss ? ' MB' : ' s';
    const fmt = (v: number) => (r.c.rss ? v.toFixed(0) : v.toFixed(2)) + unit;
    const ratio = r.nbc > 0 ? r.nes / r.nbc : Number.NaN;
    let target = '';
    if (r.c.target?.ratio !== undefined) {
      target = `<= ${r.c.target.ratio.toFixed(1)}x: ${ratio <= r.c.target.ratio ? 'met' : 'MISSED'}`;
    } else if (r.c.target?.rssMb !== undefined) {
      target = `< ${r.c.target.rssMb} MB: ${r.nes < r.c.target.rssMb ? 'met' : 'MISSED'}`;
    }
    const failed = r.failures ? ` (${r.failures} failed run(s))` : '';
    const title = r.c.rss ? `${r.c.title} (1 run)` : `${r.c.title} (${runs} runs)`;
    const papermill = PAPERMILL_REFERENCE_SECONDS[r.c.name];
    const reference = papermill === undefined ? '' : `${papermill.toFixed(2)} s`;
    lines.push(
      `| ${title}${failed} | ${fmt(r.nes)} | ${fmt(r.nbc)} | ${ratio.toFixed(2)}x | ${target} | ${reference} |`,
    );
  }
  return lines.join('\n');
}

function renderResults(table: string, runs: number): string {
  const cpu = cpus();
  return `# Runner benchmark results

Measured by \`npm run bench\` (bench/runner.bench.ts) on ${new Date().toISOString().slice(0, 10)}.

- Machine: ${cpu.length} CPU(s), ${cpu[0]?.model ?? 'unknown model'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM
- Node ${process.version}; anchor: \`jupyter nbconvert --to notebook --execute\` from its own lean
  venv (bench/anchors/nbconvert-venv.sh) with its own ipykernel (a python3 kernel, as nes-run's);
  the papermill column is a reference measured elsewhere (see bench/runner.bench.ts), not re-run
- Wall time of the whole command (kernel start included), median of ${runs}
  runs after one warm-up, tools alternated run by run. RSS: peak VmHWM of the runner process
  itself (node for nes-run, python for nbconvert), sampled every 20 ms; kernels excluded.

${table}
`;
}

await main();

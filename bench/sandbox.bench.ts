/**
 * What isolating runs costs in the local executor (docs/security.md): the same service with runs
 * in their bubblewrap sandbox (NES_SANDBOX=require) and without it (NES_SANDBOX=off: the same
 * per-run Jupyter Server and private directory, no namespaces, no user switch), and, as the
 * anchor, the former design (one shared Jupyter Server, a kernel pool, the service's environment)
 * from a checkout of it given with --before.
 *
 *   node bench/sandbox.bench.ts [--runs N] [--displays N] [--before DIR] [--no-write]
 *
 * Each service runs as `nes serve` does, in a child process (PGlite, HTTP on loopback,
 * concurrency 1, its default two warm kernels), and is measured from outside:
 * - submit -> succeeded of a one-cell notebook on a warm pool (two warm kernels under the service
 *   and 2 s for the warm worker before each run), median and p90 of N runs after one warm-up;
 * - RSS of the Jupyter side (servers, kernels, bwrap) per warm kernel, from /proc;
 * - the runner worker's peak RSS (VmHWM) over a run of one cell calling display() N times, and
 *   how many of those outputs the stored notebook keeps;
 * - a run's place prepared cold (outside the pool: sandbox, server and kernel), in-process.
 * Results go to bench/RESULTS.md (section `sandbox`) with the machine and the date.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RunSandbox } from '../services/nes-api/src/executors/sandbox/run-sandbox.ts';
import { planSandbox } from '../services/nes-api/src/executors/sandbox/sandbox-plan.ts';
import { writeBenchSection } from './results-file.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '8' },
    displays: { type: 'string', default: '100000' },
    before: { type: 'string' },
    'no-write': { type: 'boolean' },
  },
});
const RUNS = Number(values.runs);
const DISPLAYS = Number(values.displays);
const HERE = fileURLToPath(new URL('..', import.meta.url));
const BEFORE = values.before ? resolve(values.before) : null;
const root = mkdtempSync(join(tmpdir(), 'nes-sandbox-bench-'));
const notebooks = join(root, 'notebooks');
mkdirSync(notebooks);
const writeOneCell = (name: string, source: string): string => {
  const path = join(notebooks, name);
  writeFileSync(
    path,
    JSON.stringify({
      nbformat: 4,
      nbformat_minor: 5,
      metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
      cells: [
        { cell_type: 'code', id: 'c1', metadata: {}, source, outputs: [], execution_count: null },
      ],
    }),
  );
  return path;
};
const notebook = writeOneCell('one-cell.ipynb', 'print(6 * 7)');
const displays = writeOneCell(
  'displays.ipynb',
  `from IPython.display import display\nfor i in range(${DISPLAYS}):\n    display(i)`,
);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] as number;
};
const p90 = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(s.length * 0.9) - 1)] as number;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
interface ModeResult {
  latency: number[];
  rss: number[];
  worker: { peakRss: number; seconds: number; kept: number } | null;
}

/** Every process below `root`: pid -> [command line, stat fields]. */
function descendants(root: number): Map<number, { argv: string; fields: string[] }> {
  const all = new Map<number, { ppid: number; fields: string[] }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      all.set(Number(entry), { ppid: Number(fields[1]), fields });
    } catch {
      // gone
    }
  }
  const out = new Map<number, { argv: string; fields: string[] }>();
  const frontier = [root];
  while (frontier.length > 0) {
    const pid = frontier.pop() as number;
    for (const [child, info] of all) {
      if (info.ppid !== pid || out.has(child)) continue;
      try {
        const argv = readFileSync(`/proc/${child}/cmdline`, 'utf8').replaceAll('\0', ' ');
        out.set(child, { argv, fields: info.fields });
        frontier.push(child);
      } catch {
        // gone
      }
    }
  }
  return out;
}

function peakRss(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** `nes serve` from a checkout (`tree`) in a child process, as the service tests start it. */
async function startChild(
  tree: string,
  env: Record<string, string>,
): Promise<{ child: ChildProcess; url: string; token: string }> {
  const child = spawn(process.execPath, [join(tree, 'services/nes-api/test/service-child.ts')], {
    env: { ...process.env, NES_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: tree,
  });
  let err = '';
  child.stderr?.on('data', (c: Buffer) => {
    err = (err + c.toString()).slice(-4000);
  });
  const started = await new Promise<{ url: string; adminToken: string }>((resolve, reject) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.once('exit', (code) => reject(new Error(`service exited ${code}: ${err}`)));
  });
  return { child, url: started.url, token: started.adminToken };
}

async function runToEnd(
  service: { url: string; token: string },
  path: string,
  onTick?: () => void,
): Promise<{ id: string; ms: number }> {
  const headers = { authorization: `Bearer ${service.token}`, 'content-type': 'application/json' };
  const t0 = performance.now();
  const created = await fetch(`${service.url}/v1/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ notebook: path }),
  });
  const run = (await created.json()) as { id: string };
  for (;;) {
    onTick?.();
    const got = (await (await fetch(`${service.url}/v1/runs/${run.id}`, { headers })).json()) as {
      status: string;
      error: unknown;
    };
    if (got.status === 'succeeded') return { id: run.id, ms: performance.now() - t0 };
    if (['failed', 'cancelled', 'timed_out'].includes(got.status)) {
      throw new Error(`run ${run.id} ${got.status}: ${JSON.stringify(got.error)}`);
    }
    await sleep(onTick ? 200 : 10);
  }
}

async function measureService(tree: string, env: Record<string, string>): Promise<ModeResult> {
  const dataDir = mkdtempSync(join(root, 'data-'));
  const service = await startChild(tree, {
    ...env,
    NES_DATA_DIR: dataDir,
    NES_NOTEBOOK_ROOTS: notebooks,
    NES_CONCURRENCY: '1',
  });
  const pid = service.child.pid as number;
  const kernels = () =>
    [...descendants(pid).values()].filter((p) => p.argv.includes('ipykernel_launcher')).length;
  // The pool refilled: two warm kernels, then time for the warm worker to load its modules.
  const warm = async () => {
    const giveUp = performance.now() + 60_000;
    while (kernels() < 2 && performance.now() < giveUp) await sleep(50);
    await sleep(2000);
  };
  try {
    await warm();
    // RSS of everything Jupyter (servers, kernels, bwrap, setpriv) per warm kernel.
    const jupyter = [...descendants(pid).values()].filter((p) => !p.argv.includes('node'));
    const total = jupyter.reduce((sum, p) => sum + Number(p.fields[21]) * 4096, 0);
    const rss = [total / Math.max(1, kernels())];
    const latency: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      await warm();
      const { ms } = await runToEnd(service, notebook);
      if (i > 0) latency.push(ms); // the first is a warm-up
    }
    let worker: ModeResult['worker'] = null;
    if (DISPLAYS > 0) {
      await warm();
      let peak = 0;
      const { id, ms } = await runToEnd(service, displays, () => {
        for (const [p, info] of descendants(pid)) {
          if (info.argv.includes('worker/main.ts')) peak = Math.max(peak, peakRss(p));
        }
      });
      const nb = (await (
        await fetch(`${service.url}/v1/runs/${id}/notebook`, {
          headers: { authorization: `Bearer ${service.token}` },
        })
      ).json()) as { cells: Array<{ outputs?: Array<{ output_type: string }> }> };
      const kept = nb.cells
        .flatMap((c) => c.outputs ?? [])
        .filter((o) => o.output_type === 'display_data').length;
      worker = { peakRss: peak, seconds: ms / 1000, kept };
    }
    return { latency, rss, worker };
  } finally {
    service.child.kill('SIGTERM');
    await new Promise((r) => service.child.once('exit', r));
  }
}

/** A run's place prepared cold (outside the pool): RunSandbox.start and its kernel. */
async function measureCold(mode: 'require' | 'off'): Promise<number[]> {
  const planned = await planSandbox({ mode }, { hidden: [] });
  const base = mkdtempSync(join(root, `cold-${mode}-`));
  const cold: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const sandbox = await RunSandbox.start({
      baseDir: base,
      plan: planned.plan,
      sourceEnv: process.env,
      pathFirst: planned.pathFirst,
    });
    await sandbox.startKernel('python3');
    cold.push(performance.now() - t0);
    await sandbox.stop();
  }
  return cold;
}

const ms = (x: number) => `${Math.round(x)} ms`;
const mb = (x: number) => `${Math.round(x / 1048576)} MB`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

const sandboxed = await measureService(HERE, { NES_SANDBOX: 'require' });
const plain = await measureService(HERE, { NES_SANDBOX: 'off' });
const before = BEFORE === null ? null : await measureService(BEFORE, {});
const coldSandboxed = await measureCold('require');
const coldPlain = await measureCold('off');
const detail = (await planSandbox({ mode: 'require' }, { hidden: [] })).status.detail;
rmSync(root, { recursive: true, force: true });

const rows: string[][] = [];
const row = (what: string, pick: (r: ModeResult) => number | null, show: (x: number) => string) => {
  const a = pick(sandboxed);
  const b = pick(plain);
  const c = before === null ? null : pick(before);
  rows.push([
    what,
    a === null ? '' : show(a),
    b === null ? '' : show(b),
    a !== null && b !== null ? ratio(a, b) : '',
    c === null ? '' : show(c),
    a !== null && c !== null ? ratio(a, c) : '',
  ]);
};
row(`submit -> succeeded, warm pool, median of ${RUNS}`, (r) => median(r.latency), ms);
row(`submit -> succeeded, warm pool, p90 of ${RUNS}`, (r) => p90(r.latency), ms);
row('RSS of the Jupyter side per warm kernel', (r) => median(r.rss), mb);
if (DISPLAYS > 0) {
  row(
    `runner worker peak RSS, ${DISPLAYS} display() outputs`,
    (r) => r.worker?.peakRss ?? null,
    mb,
  );
  row(`that run's submit -> succeeded`, (r) => (r.worker ? r.worker.seconds * 1000 : null), ms);
  row('display outputs kept in the stored notebook', (r) => r.worker?.kept ?? null, String);
}
rows.push([
  `a run's place prepared cold (sandbox, server, kernel), median of ${RUNS}`,
  ms(median(coldSandboxed)),
  ms(median(coldPlain)),
  ratio(median(coldSandboxed), median(coldPlain)),
  '',
  '',
]);
const table = [
  '| measure | sandboxed (NES_SANDBOX=require) | unsandboxed (NES_SANDBOX=off) | ratio | before: shared server | ratio to before |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.join(' | ')} |`),
].join('\n');
const cpu = cpus()[0]?.model ?? 'unknown CPU';
const command = `node bench/sandbox.bench.ts --runs ${RUNS} --displays ${DISPLAYS}${BEFORE ? ' --before DIR' : ''}`;
const block = [
  '# Run sandbox benchmark',
  '',
  `Measured by \`${command}\` on ${new Date().toISOString().slice(0, 10)}.`,
  '',
  `- Machine: ${cpus().length} CPU(s), ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM; load average at the end ${loadavg()[0]?.toFixed(1)} (other work shared the machine)`,
  `- Node ${process.version}; sandbox: ${detail}`,
  '- Each service as `nes serve` runs it, in a child process (PGlite, concurrency 1, two warm',
  '  kernels); "before" is the former design (one shared Jupyter Server and kernel pool, no',
  '  sandbox) from a checkout of it (`--before`). RSS and peak RSS (VmHWM) from /proc.',
  '',
  table,
  '',
].join('\n');
console.log(block);
if (!values['no-write']) {
  writeBenchSection(
    fileURLToPath(new URL('./RESULTS.md', import.meta.url)),
    'sandbox',
    block,
    '### Reading the sandbox numbers',
  );
}
process.exit(0);

/**
 * API benchmark: the NES service (bench/api-service.ts, its own process, embedded defaults) under
 * loopback load, against anchors where one exists.
 *
 *   node bench/api.bench.ts [--cases get,get-pg,submit,submit-pg,latency,throughput]
 *                           [--runs N] [--duration S] [--connections C] [--no-write]
 *
 * - get / get-pg: GET /v1/runs/:id of a succeeded run with autocannon for S seconds (default 10)
 *   over C connections (default 4), on PGlite / on PostgreSQL (test/servers/postgres).
 * - submit / submit-pg: POST /v1/runs of a local notebook with execution paused (nothing
 *   starts), each request with its own Idempotency-Key.
 * - latency: submit -> succeeded of a 2-cell notebook, one run at a time, N runs (default 20)
 *   after one warm-up, seen by the client (POST sent -> terminal status on the event stream);
 *   anchors: `nes-run` and `jupyter nbconvert --execute` from cold on the same notebook,
 *   max(3, N/4) runs each, alternated.
 * - throughput: 5N runs (default 100) submitted at once, the service running 2 at a time (the
 *   machine's cores); anchors: the same notebook through nbconvert 5N times, one at a time and two
 *   at a time. Wall time from the first submit to the last finished run.
 *
 * Writes its own block of bench/RESULTS.md unless --no-write. Work files live in bench/.work/.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { NesClient, type Run, TERMINAL_STATUSES } from '../packages/client/src/index.ts';
import { type PostgresServer, startPostgres } from '../test/servers/postgres/index.ts';
import { startEmbeddedService, trivialNotebook } from './embedded-service.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench/.work');
const NES_RUN = join(ROOT, 'services/runner/bin/nes-run.ts');
const JUPYTER = join(ROOT, '.tools/py/bin/jupyter');
const ANALYSIS = '### Where the time goes (API benchmark)';
const TOKEN = 'nes_bench_admin_token_0123456789';

interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  '2xx': number;
}
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: AutocannonResult) => void,
) => unknown;
// autocannon ships no types: loaded through require, shaped by the interface above.
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const CASES = ['get', 'get-pg', 'submit', 'submit-pg', 'latency', 'throughput'] as const;
type CaseName = (typeof CASES)[number];

interface Row {
  title: string;
  nes: string;
  anchor: string;
  ratio: string;
  target: string;
}

// Notebooks ------------------------------------------------------------------------------------

// The service ----------------------------------------------------------------------------------

interface Nes {
  url: string;
  client: NesClient;
  stop(): Promise<void>;
}

async function startNes(options: {
  paused?: boolean;
  databaseUrl?: string;
  concurrency?: number;
}): Promise<Nes> {
  const service = await startEmbeddedService({
    work: WORK,
    token: TOKEN,
    env: { NES_CONCURRENCY: String(options.concurrency ?? 2) },
    ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {}),
    serviceArgs: options.paused ? ['--paused'] : [],
  });
  const client = new NesClient({ url: service.url, token: TOKEN });
  await client.health();
  return { url: service.url, client, stop: () => service.stop() };
}

/**
 * Terminal runs as the list event stream (`/v1/events`) announces them: one connection for every
 * run, so waiting costs the service one stream, not one poll per run.
 */
class Finishes {
  readonly #done = new Map<string, Run>();
  readonly #waiting = new Map<string, (run: Run) => void>();
  readonly #abort = new AbortController();
  readonly #loop: Promise<void>;

  constructor(client: NesClient) {
    this.#loop = (async () => {
      try {
        for await (const event of client.listEvents({ signal: this.#abort.signal })) {
          if (event.type !== 'run' || !TERMINAL_STATUSES.includes(event.data.status)) continue;
          const run = event.data;
          this.#done.set(run.id, run);
          this.#waiting.get(run.id)?.(run);
          this.#waiting.delete(run.id);
        }
      } catch (error) {
        if (!this.#abort.signal.aborted) throw error;
      }
    })();
  }

  wait(id: string): Promise<Run> {
    const done = this.#done.get(id);
    if (done) return Promise.resolve(done);
    return new Promise((resolveRun) => this.#waiting.set(id, resolveRun));
  }

  async close(): Promise<void> {
    this.#abort.abort();
    await this.#loop.catch(() => undefined);
  }
}

async function runOnce(nes: Nes, finishes: Finishes, notebook: string, x: number): Promise<Run> {
  const run = await nes.client.submitRun({ notebook, parameters: { x } });
  return finishes.wait(run.id);
}

// Measuring ------------------------------------------------------------------------------------

function cannon(options: Record<string, unknown>): Promise<AutocannonResult> {
  return new Promise((done, fail) => {
    autocannon(options, (error, result) => (error ? fail(error) : done(result)));
  });
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (rank - lo);
}

function command(cmd: string, args: string[]): Promise<number> {
  return new Promise((done, fail) => {
    const started = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    child.on('error', fail);
    child.on('exit', (code) => {
      if (code !== 0) fail(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${stderr}`));
      else done((performance.now() - started) / 1000);
    });
  });
}

const nbconvert = (input: string, output: string) =>
  command(JUPYTER, [
    'nbconvert',
    '--to',
    'notebook',
    '--execute',
    input,
    '--output',
    output,
    '--log-level',
    'ERROR',
  ]);

const nesRun = (input: string, output: string) =>
  command(process.execPath, [NES_RUN, input, output, '--no-progress-bar', '--log-level', 'ERROR']);

/** `count` jobs, `parallel` at a time; wall seconds. */
async function pool(count: number, parallel: number, job: (i: number) => Promise<unknown>) {
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < count) await job(next++);
    }),
  );
  return (performance.now() - started) / 1000;
}

const fmtS = (s: number) => `${s.toFixed(2)} s`;
const fmtMs = (ms: number) => `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;

// Cases ----------------------------------------------------------------------------------------

interface Settings {
  runs: number;
  duration: number;
  connections: number;
  notebook: string;
  notes: string[];
}

async function loadGet(set: Settings, databaseUrl: string | undefined, label: string) {
  const nes = await startNes(databaseUrl ? { databaseUrl } : {});
  const finishes = new Finishes(nes.client);
  try {
    const run = await runOnce(nes, finishes, set.notebook, 1);
    if (run.status !== 'succeeded') throw new Error(`setup run ${run.status}`);
    const r = await cannon({
      url: `${nes.url}/v1/runs/${run.id}`,
      connections: set.connections,
      duration: set.duration,
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    return loadRows(`GET /v1/runs/:id, ${label}`, r, set);
  } finally {
    await finishes.close();
    await nes.stop();
  }
}

async function loadSubmit(set: Settings, databaseUrl: string | undefined, label: string) {
  const nes = await startNes({ paused: true, ...(databaseUrl ? { databaseUrl } : {}) });
  try {
    let n = 0;
    const prefix = `bench-${Date.now()}`;
    const r = await cannon({
      url: `${nes.url}/v1/runs`,
      connections: set.connections,
      duration: set.duration,
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ notebook: set.notebook, parameters: { x: 2 } }),
      setupRequest: (request: { headers: Record<string, string> }) => {
        request.headers = { ...request.headers, 'idempotency-key': `${prefix}-${n++}` };
        return request;
      },
    });
    const page = await nes.client.listRuns({ status: 'queued', limit: 1 });
    if (page.runs.length === 0 && r['2xx'] > 0) throw new Error('no queued run was stored');
    return loadRows(`POST /v1/runs (execution paused), ${label}`, r, set);
  } finally {
    await nes.stop();
  }
}

function loadRows(title: string, r: AutocannonResult, set: Settings): Row[] {
  const bad = r.non2xx + r.errors + r.timeouts;
  const suffix = `(${set.duration} s, ${set.connections} conn.${bad ? `, ${bad} non-2xx/errors` : ''})`;
  const isGet = title.startsWith('GET');
  const pglite = title.includes('PGlite');
  return [
    {
      title: `${title}: req/s ${suffix}`,
      nes: r.requests.average.toFixed(0),
      anchor: '',
      ratio: '',
      target: isGet && pglite ? `>= 5000: ${r.requests.average >= 5000 ? 'met' : 'MISSED'}` : '',
    },
    {
      title: `${title}: p99 latency`,
      nes: fmtMs(r.latency.p99),
      anchor: '',
      ratio: '',
      target: isGet && pglite ? `< 20 ms: ${r.latency.p99 < 20 ? 'met' : 'MISSED'}` : '',
    },
  ];
}

async function latency(set: Settings): Promise<Row[]> {
  const nes = await startNes({});
  const finishes = new Finishes(nes.client);
  const client: number[] = [];
  const server: number[] = [];
  try {
    await runOnce(nes, finishes, set.notebook, 0); // warm-up
    for (let i = 0; i < set.runs; i++) {
      const started = performance.now();
      const run = await runOnce(nes, finishes, set.notebook, i);
      client.push((performance.now() - started) / 1000);
      if (run.status !== 'succeeded') throw new Error(`run ${run.id} ${run.status}`);
      if (run.finishedAt)
        server.push((Date.parse(run.finishedAt) - Date.parse(run.createdAt)) / 1000);
      process.stderr.write('.');
    }
  } finally {
    await finishes.close();
    await nes.stop();
  }
  process.stderr.write(' anchors ');
  const anchorRuns = Math.max(3, Math.round(set.runs / 4));
  const cold: number[] = [];
  const nbc: number[] = [];
  const out = join(WORK, 'api-latency');
  await nesRun(set.notebook, `${out}.nes.ipynb`); // warm-up (file caches)
  await nbconvert(set.notebook, `${out}.nbconvert.ipynb`);
  for (let i = 0; i < anchorRuns; i++) {
    cold.push(await nesRun(set.notebook, `${out}.nes.ipynb`));
    nbc.push(await nbconvert(set.notebook, `${out}.nbconvert.ipynb`));
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  set.notes.push(
    `latency: service-side (createdAt -> finishedAt) p50 ${fmtS(percentile(server, 50))}, ` +
      `p95 ${fmtS(percentile(server, 95))}; client p50 ${fmtS(percentile(client, 50))}`,
  );
  const p50 = percentile(client, 50);
  const p95 = percentile(client, 95);
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;
  const title = `submit -> succeeded, 2-cell notebook, warm pool (${set.runs} runs; anchors ${anchorRuns} cold runs)`;
  return [
    {
      title: `${title}: p50 vs nes-run cold`,
      nes: fmtS(p50),
      anchor: fmtS(percentile(cold, 50)),
      ratio: ratio(p50, percentile(cold, 50)),
      target: `<= 0.8 s: ${p50 <= 0.8 ? 'met' : 'MISSED'}`,
    },
    {
      title: `${title}: p50 vs nbconvert cold`,
      nes: fmtS(p50),
      anchor: fmtS(percentile(nbc, 50)),
      ratio: ratio(p50, percentile(nbc, 50)),
      target: '',
    },
    {
      title: `${title}: p95 vs nes-run cold`,
      nes: fmtS(p95),
      anchor: fmtS(percentile(cold, 95)),
      ratio: ratio(p95, percentile(cold, 95)),
      target: '',
    },
    {
      title: `${title}: p95 vs nbconvert cold`,
      nes: fmtS(p95),
      anchor: fmtS(percentile(nbc, 95)),
      ratio: ratio(p95, percentile(nbc, 95)),
      target: '',
    },
  ];
}

async function throughput(set: Settings): Promise<Row[]> {
  const count = set.runs * 5;
  const parallel = 2;
  const nes = await startNes({ concurrency: parallel });
  const finishes = new Finishes(nes.client);
  let nesWall = 0;
  const statuses = new Map<string, number>();
  try {
    await runOnce(nes, finishes, set.notebook, 0); // warm-up
    const started = performance.now();
    const ids: string[] = [];
    // Four submitters: the submits overlap the first runs, as a pipeline's would.
    await pool(count, 4, async (i) => {
      const run = await nes.client.submitRun({ notebook: set.notebook, parameters: { x: i } });
      ids.push(run.id);
    });
    const runs = await Promise.all(ids.map((id) => finishes.wait(id)));
    nesWall = (performance.now() - started) / 1000;
    for (const run of runs) statuses.set(run.status, (statuses.get(run.status) ?? 0) + 1);
  } finally {
    await finishes.close();
    await nes.stop();
  }
  process.stderr.write(`NES ${nesWall.toFixed(1)} s; nbconvert x1 `);
  const out = join(WORK, 'api-throughput');
  const one = await pool(count, 1, (i) => nbconvert(set.notebook, `${out}.${i % 2}.ipynb`));
  process.stderr.write(`${one.toFixed(1)} s; nbconvert x2 `);
  const two = await pool(count, 2, (i) => nbconvert(set.notebook, `${out}.${i % 2}.ipynb`));
  process.stderr.write(`${two.toFixed(1)} s\n`);
  const failed = count - (statuses.get('succeeded') ?? 0);
  if (failed) set.notes.push(`throughput: ${failed} NES run(s) not succeeded: ${[...statuses]}`);
  const best = Math.min(one, two);
  const speedup = best / nesWall;
  const perMin = (wall: number) => `${((count / wall) * 60).toFixed(0)} runs/min`;
  const title = `${count} runs end to end, NES 2 at a time`;
  return [
    {
      title: `${title} vs nbconvert 1 at a time: wall`,
      nes: fmtS(nesWall),
      anchor: fmtS(one),
      ratio: `${(one / nesWall).toFixed(2)}x faster`,
      target: '',
    },
    {
      title: `${title} vs nbconvert 2 at a time: wall`,
      nes: fmtS(nesWall),
      anchor: fmtS(two),
      ratio: `${(two / nesWall).toFixed(2)}x faster`,
      target: '',
    },
    {
      title: `${title}: throughput vs the better nbconvert (${one <= two ? '1' : '2'} at a time)`,
      nes: perMin(nesWall),
      anchor: perMin(best),
      ratio: `${speedup.toFixed(2)}x`,
      target: `>= 3x: ${speedup >= 3 ? 'met' : 'MISSED'}`,
    },
  ];
}

// Main -----------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      runs: { type: 'string', default: '20' },
      duration: { type: 'string', default: '10' },
      connections: { type: 'string', default: '4' },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const int = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer`);
    return n;
  };
  const wanted = (values.cases?.split(',').map((s) => s.trim()) ?? [...CASES]) as CaseName[];
  const unknown = wanted.filter((w) => !CASES.includes(w));
  if (unknown.length) throw new Error(`unknown case(s) ${unknown}; cases: ${CASES.join(', ')}`);

  mkdirSync(WORK, { recursive: true });
  const notebook = join(WORK, 'api-trivial.ipynb');
  writeFileSync(notebook, trivialNotebook());
  const set: Settings = {
    runs: int('runs', values.runs),
    duration: int('duration', values.duration),
    connections: int('connections', values.connections),
    notebook,
    notes: [],
  };

  const loads: number[][] = [loadavg()];
  const rows: Row[] = [];
  let postgres: PostgresServer | null = null;
  const pgUrl = async () => {
    postgres ??= await startPostgres();
    return postgres.createDatabase('nes_bench');
  };
  try {
    for (const name of CASES.filter((c) => wanted.includes(c))) {
      process.stderr.write(`${name}: `);
      const started = performance.now();
      try {
        switch (name) {
          case 'get':
            rows.push(...(await loadGet(set, undefined, 'PGlite')));
            break;
          case 'get-pg':
            rows.push(...(await loadGet(set, await pgUrl(), 'PostgreSQL')));
            break;
          case 'submit':
            rows.push(...(await loadSubmit(set, undefined, 'PGlite')));
            break;
          case 'submit-pg':
            rows.push(...(await loadSubmit(set, await pgUrl(), 'PostgreSQL')));
            break;
          case 'latency':
            rows.push(...(await latency(set)));
            break;
          case 'throughput':
            rows.push(...(await throughput(set)));
            break;
        }
      } catch (error) {
        if (!name.endsWith('-pg')) throw error;
        set.notes.push(`${name}: not measured: ${String(error).split('\n')[0]}`);
      }
      loads.push(loadavg());
      process.stderr.write(` (${((performance.now() - started) / 1000).toFixed(0)} s)\n`);
    }
  } finally {
    await (postgres as PostgresServer | null)?.stop();
  }

  const table = renderTable(rows);
  const load = loads.map((l) => (l[0] ?? 0).toFixed(1)).join(', ');
  process.stdout.write(`${table}\n\nload average (1 min) at start and after each case: ${load}\n`);
  for (const note of set.notes) process.stdout.write(`- ${note}\n`);
  if (!values['no-write']) {
    writeBenchSection(
      join(ROOT, 'bench/RESULTS.md'),
      'api',
      renderResults(table, set, load),
      ANALYSIS,
    );
    process.stderr.write('wrote bench/RESULTS.md\n');
  }
}

function renderTable(rows: Row[]): string {
  const lines = ['| case | NES | anchor | ratio | target |', '| --- | --- | --- | --- | --- |'];
  for (const r of rows)
    lines.push(`| ${r.title} | ${r.nes} | ${r.anchor} | ${r.ratio} | ${r.target} |`);
  return lines.join('\n');
}

function renderResults(table: string, set: Settings, load: string): string {
  const cpu = cpus();
  const notes = set.notes.map((n) => `- ${n}\n`).join('');
  return `## API benchmark (\`npm run bench:api\`, bench/api.bench.ts)

Measured on ${new Date().toISOString().slice(0, 10)}: ${cpu.length} CPU(s), ${cpu[0]?.model ?? 'unknown model'}, ${(totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, Node ${process.version}.
The machine was shared with other work, so every number here is noisy. Load average (1 min) at
the start and after each case: ${load}. The service runs in its own process on loopback
(embedded defaults, PGlite unless PostgreSQL is named); autocannon runs in the benchmark's process
on the same 2 cores. Anchors: \`nes-run\` and \`jupyter nbconvert --to notebook --execute\` from
.tools/py, each a fresh process (server and kernel start included).

${table}

${notes}`;
}

await main();

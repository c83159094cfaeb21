/**
 * Submit load: many clients submitting at once to the real embedded service (bench/api-service.ts
 * in its own process, PGlite, the local executor running 2 at a time), then the queue draining.
 *
 *   node bench/submit-load.bench.ts [--submits N] [--clients C] [--concurrency K]
 *                                   [--save-baseline] [--no-write] [--no-drain]
 *
 * N submits (default 1000) of a trivial notebook from C concurrent clients (default 50), each
 * client sending its share one after the other, each POST with its own Idempotency-Key. A 429
 * is retried after its Retry-After with the same key, as the NES client does. Printed:
 * - accepted/s: 201 answers / wall time of the submit phase (the waits after a 429 included);
 *   p50/p99 latency of the answered (non-429) POSTs; the 429 count and how fast a 429 came back;
 * - lost runs: a 201 whose run never reached a terminal status, or whose id is missing from the
 *   run list, or a run in the list that no 201 announced;
 * - drain: runs finished per second from the end of the submit phase to the last finish, side by
 *   side with what the executor alone allows (K / mean service time, the service time read from
 *   each run's startedAt -> finishedAt); a ratio near 1 means the executor, not the API, limits.
 *
 * `--drain-seconds S` measures the drain over S seconds after the submits, then cancels the runs
 * still open; they must still all end terminal (lost stays 0), so the check holds either way.
 *
 * `--save-baseline` stores the numbers in bench/submit-load.baseline.json (the "before" column);
 * later measurements print and record that column side by side. Writes its section of
 * bench/RESULTS.md unless --no-write. Work files live in bench/.work/.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { type EmbeddedService, startEmbeddedService, trivialNotebook } from './embedded-service.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench/.work');
const BASELINE = join(ROOT, 'bench/submit-load.baseline.json');
const TOKEN = 'nes_bench_admin_token_0123456789';
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

interface Measured {
  commit: string;
  date: string;
  submits: number;
  clients: number;
  concurrency: number;
  accepted: number;
  acceptedPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  rejected429: number;
  p99RejectMs: number | null;
  /**
   * CPU time of the service's process (every thread: the API's event loop, the database thread)
   * per accepted submit over the submit phase. Unlike the rates it barely moves with the load
   * other processes put on the machine. Older results lack it.
   */
  serviceCpuMsPerSubmit?: number;
  otherErrors: number;
  lost: number;
  drainPerSecond: number;
  /** concurrency / mean run time (startedAt -> finishedAt): the executor's bound, launch excluded. */
  executorBoundPerSecond: number;
  /**
   * concurrency / mean time a run holds a slot (its claim, the 'starting' event, -> finishedAt):
   * what the executor allows with its own launch (sandbox, worker) counted. Older results lack it.
   */
  slotBoundPerSecond?: number;
  drainSeconds: number;
  /** Runs still open after --drain-seconds, cancelled (they must still end terminal). */
  cancelledAfterWindow?: number;
  /** Load average (1 min) at the end; `loadAtStart` when the service was started. */
  loadAverage: string;
  loadAtStart?: string;
}

function startService(concurrency: number, paused: boolean): Promise<EmbeddedService> {
  return startEmbeddedService({
    work: WORK,
    token: TOKEN,
    env: { NES_CONCURRENCY: String(concurrency) },
    nodeArgs: profileArgs(),
    serviceArgs: paused ? ['--paused'] : [],
  });
}

/** NES_BENCH_CPU_PROF=DIR profiles the service process (node --cpu-prof). */
function profileArgs(): string[] {
  const dir = process.env.NES_BENCH_CPU_PROF;
  return dir ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [];
}

/** User + system CPU time of a process, all its threads, in ms (Linux /proc; 100 ticks a second). */
function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const rank = (p / 100) * (s.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  return (s[lo] as number) + ((s[hi] as number) - (s[lo] as number)) * (rank - lo);
}

interface ApiRun {
  id: string;
  status: string;
  startedAt: string | null;
  finishedAt: string | null;
}

async function listAll(url: string, tag: string): Promise<ApiRun[]> {
  const runs: ApiRun[] = [];
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams({ label: `bench=${tag}`, limit: '500' });
    if (cursor !== null) query.set('cursor', cursor);
    const response = await fetch(`${url}/v1/runs?${query}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    if (response.status !== 200) throw new Error(`list answered ${response.status}`);
    const page = (await response.json()) as { runs: ApiRun[]; nextCursor: string | null };
    runs.push(...page.runs);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return runs;
}

async function measure(
  submits: number,
  clients: number,
  concurrency: number,
  drain = true,
  drainWindowSeconds = Number.POSITIVE_INFINITY,
  paused = false,
): Promise<Measured> {
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, 'load.ipynb');
  writeFileSync(path, trivialNotebook());
  const loadAtStart = loadavg()[0]?.toFixed(1) ?? '?';
  const service = await startService(concurrency, paused);
  const tag = randomUUID().slice(0, 8);
  try {
    // One warm-up run, so the first submits do not pay for the kernel pool's start.
    const warm = await post(service.url, path, 'warm', -1);
    if (warm.status !== 201) throw new Error(`warm-up submit answered ${warm.status}`);
    if (!paused) await waitTerminal(service.url, warm.id as string);

    const accepted: string[] = [];
    const latencies: number[] = [];
    const rejectLatencies: number[] = [];
    let otherErrors = 0;
    let next = 0;
    const cpuBefore = processCpuMs(service.pid);
    const started = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (next < submits) {
          const i = next++;
          for (;;) {
            const t0 = performance.now();
            const answer = await post(service.url, path, tag, i);
            const ms = performance.now() - t0;
            if (answer.status === 429) {
              // As the NES client does: wait Retry-After, send the same request again.
              rejectLatencies.push(ms);
              await new Promise((done) => setTimeout(done, answer.retryAfterSeconds * 1000));
              continue;
            }
            latencies.push(ms);
            if (answer.status === 201) accepted.push(answer.id as string);
            else otherErrors++;
            break;
          }
        }
      }),
    );
    const submitSeconds = (performance.now() - started) / 1000;
    const serviceCpuMs = processCpuMs(service.pid) - cpuBefore;
    const submitEnd = Date.now();

    // Drain: every accepted run must end terminal.
    process.stderr.write(
      `submit phase: ${accepted.length} accepted in ${submitSeconds.toFixed(1)} s, p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms, ${rejectLatencies.length} x 429 (p99 ${percentile(rejectLatencies, 99).toFixed(0)} ms)\n`,
    );
    let drainWindowRuns: ApiRun[] | null = null;
    const deadline = drain ? Date.now() + Math.max(600_000, accepted.length * 3_000) : 0;
    const windowEnd = submitEnd + drainWindowSeconds * 1000;
    let runs: ApiRun[] = [];
    let cancelledAfterWindow = 0;
    for (;;) {
      runs = await listAll(service.url, tag);
      const open = runs.filter((r) => !TERMINAL.has(r.status));
      if (open.length === 0 && runs.length >= accepted.length) break;
      if (Date.now() > deadline) break;
      if (Date.now() > windowEnd && cancelledAfterWindow === 0) {
        // The drain rate is measured over the window; the rest is cancelled, which must still
        // bring every accepted run to a terminal status (nothing lost).
        drainWindowRuns = runs;
        for (const run of open) {
          await fetch(`${service.url}/v1/runs/${run.id}/cancel`, {
            method: 'POST',
            headers: { authorization: `Bearer ${TOKEN}` },
          });
          cancelledAfterWindow++;
        }
        continue;
      }
      process.stderr.write(
        `  draining: ${runs.length - open.length}/${accepted.length} finished\n`,
      );
      await new Promise((done) => setTimeout(done, 5000));
    }
    const measuredRuns = drainWindowRuns ?? runs;
    const byId = new Map(runs.map((r) => [r.id, r]));
    const acceptedIds = new Set(accepted);
    const lost =
      accepted.filter((id) => !TERMINAL.has(byId.get(id)?.status ?? '')).length +
      runs.filter((r) => !acceptedIds.has(r.id)).length;
    const finished = measuredRuns.filter(
      (r) => r.finishedAt !== null && r.startedAt !== null && r.status === 'succeeded',
    );
    const lastFinish = Math.max(...finished.map((r) => Date.parse(r.finishedAt as string)));
    const drainSeconds = Math.max(0.001, (lastFinish - submitEnd) / 1000);
    const finishedAfter = finished.filter((r) => Date.parse(r.finishedAt as string) > submitEnd);
    const serviceTimes = finished.map(
      (r) => (Date.parse(r.finishedAt as string) - Date.parse(r.startedAt as string)) / 1000,
    );
    const meanService = serviceTimes.reduce((a, b) => a + b, 0) / Math.max(1, serviceTimes.length);
    const slotTimes = await slotSeconds(service.url, finishedAfter.slice(0, 40));
    return {
      commit: gitHead(),
      date: new Date().toISOString().slice(0, 10),
      submits,
      clients,
      concurrency,
      accepted: accepted.length,
      acceptedPerSecond: accepted.length / submitSeconds,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      rejected429: rejectLatencies.length,
      p99RejectMs: rejectLatencies.length ? percentile(rejectLatencies, 99) : null,
      serviceCpuMsPerSubmit: serviceCpuMs / Math.max(1, accepted.length),
      otherErrors,
      lost,
      drainPerSecond: finishedAfter.length / drainSeconds,
      executorBoundPerSecond: concurrency / meanService,
      slotBoundPerSecond:
        concurrency / (slotTimes.reduce((a, b) => a + b, 0) / Math.max(1, slotTimes.length)),
      drainSeconds,
      cancelledAfterWindow,
      loadAverage: loadavg()[0]?.toFixed(1) ?? '?',
      loadAtStart,
    };
  } finally {
    await service.stop();
  }
}

async function post(
  url: string,
  path: string,
  tag: string,
  i: number,
): Promise<{ status: number; id?: string; retryAfterSeconds: number }> {
  const response = await fetch(`${url}/v1/runs`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      'idempotency-key': `${tag}-${i}`,
    },
    body: JSON.stringify({ notebook: path, parameters: { x: i }, labels: { bench: tag } }),
  });
  const body = (await response.json()) as { id?: string };
  return {
    status: response.status,
    retryAfterSeconds: Number(response.headers.get('retry-after') ?? 1) || 1,
    ...(body.id ? { id: body.id } : {}),
  };
}

/**
 * How long each run held an executor slot: from its claim (the 'starting' status event, read
 * from the run's event stream, which ends by itself for a finished run) to its finish.
 */
async function slotSeconds(url: string, runs: ApiRun[]): Promise<number[]> {
  const seconds: number[] = [];
  for (const run of runs) {
    const response = await fetch(`${url}/v1/runs/${run.id}/events`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const text = await response.text();
    for (const line of text.split('\n')) {
      if (!line.startsWith('data: ')) continue;
      const data = JSON.parse(line.slice(6)) as { status?: string; time?: string };
      if (data.status === 'starting' && data.time !== undefined) {
        seconds.push((Date.parse(run.finishedAt as string) - Date.parse(data.time)) / 1000);
        break;
      }
    }
  }
  return seconds;
}

async function waitTerminal(url: string, id: string): Promise<void> {
  for (;;) {
    const response = await fetch(`${url}/v1/runs/${id}`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const run = (await response.json()) as ApiRun;
    if (TERMINAL.has(run.status)) return;
    await new Promise((done) => setTimeout(done, 200));
  }
}

function gitHead(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT }).toString().trim();
  } catch {
    return 'unknown';
  }
}

const fmt = (n: number | null, digits = 0, unit = '') =>
  n === null || Number.isNaN(n) ? '-' : `${n.toFixed(digits)}${unit}`;

function rows(after: Measured, before: Measured | null) {
  const line = (
    title: string,
    pick: (m: Measured) => number | null | undefined,
    digits: number,
    unit: string,
    better: 'higher' | 'lower' | 'none',
    target?: { text: string; met: boolean; ratio?: string },
  ) => {
    const a = pick(after) ?? null;
    const b = before === null ? null : (pick(before) ?? null);
    let ratio = '';
    if (better !== 'none' && a !== null && b !== null && a > 0 && b > 0) {
      ratio =
        better === 'higher'
          ? `${(a / b).toFixed(2)}x`
          : b >= a
            ? `${(b / a).toFixed(2)}x faster`
            : `${(a / b).toFixed(2)}x slower`;
    }
    const goal =
      target === undefined
        ? ' | |'
        : ` | ${target.text} | ${target.ratio ?? ''} ${target.met ? 'met' : 'MISSED'} |`;
    return `| ${title} | ${fmt(b, digits, unit)} | ${fmt(a, digits, unit)} | ${ratio}${goal}`;
  };
  const fastEnough = after.acceptedPerSecond >= 200 && after.p99Ms < 250;
  const shedFast = after.rejected429 > 0 && (after.p99RejectMs ?? Infinity) < 250;
  const slotBound = after.slotBoundPerSecond ?? after.executorBoundPerSecond;
  const drainRatio = after.drainPerSecond / slotBound;
  return [
    '| measure | before | after | after / before | target | after / target |',
    '| --- | --- | --- | --- | --- | --- |',
    line('accepted submits/s', (m) => m.acceptedPerSecond, 0, '', 'higher', {
      text: '>= 200',
      met: after.acceptedPerSecond >= 200,
      ratio: `${(after.acceptedPerSecond / 200).toFixed(2)}x:`,
    }),
    line('submit latency p50', (m) => m.p50Ms, 0, ' ms', 'lower'),
    line('service CPU per accepted submit', (m) => m.serviceCpuMsPerSubmit, 2, ' ms', 'lower'),
    line('submit latency p99', (m) => m.p99Ms, 0, ' ms', 'lower', {
      text: '< 250 ms',
      met: after.p99Ms < 250,
      ratio: `${(after.p99Ms / 250).toFixed(2)}x:`,
    }),
    line('accepted (201)', (m) => m.accepted, 0, '', 'none'),
    line('refused with 429', (m) => m.rejected429, 0, '', 'none'),
    line('429 latency p99', (m) => m.p99RejectMs, 0, ' ms', 'lower', {
      text: '< 250 ms (a fast 429)',
      met: shedFast,
      ratio:
        after.p99RejectMs === null ? 'none sent:' : `${(after.p99RejectMs / 250).toFixed(2)}x:`,
    }),
    `| **throughput target, or a fast 429** | | | | either of the two | ${fastEnough || shedFast ? 'met' : 'MISSED'} |`,
    line('other errors', (m) => m.otherErrors, 0, '', 'none'),
    line('cancelled after the drain window', (m) => m.cancelledAfterWindow ?? 0, 0, '', 'none'),
    line('lost runs', (m) => m.lost, 0, '', 'none', { text: '0', met: after.lost === 0 }),
    line('drain, runs/s after the submits', (m) => m.drainPerSecond, 2, '', 'higher'),
    line(
      'executor bound: concurrency / mean run time',
      (m) => m.executorBoundPerSecond,
      2,
      '',
      'none',
    ),
    line(
      'executor bound: concurrency / mean slot time (claim to finish, launch included)',
      (m) => m.slotBoundPerSecond,
      2,
      '',
      'none',
    ),
    line(
      'drain / executor bound (slot time)',
      (m) => (m.slotBoundPerSecond === undefined ? null : m.drainPerSecond / m.slotBoundPerSecond),
      2,
      '',
      'none',
      {
        text: 'near 1 (>= 0.8)',
        met: drainRatio >= 0.8,
        ratio: `${drainRatio.toFixed(2)}:`,
      },
    ),
    line(
      'drain / executor bound (run time only)',
      (m) => m.drainPerSecond / m.executorBoundPerSecond,
      2,
      '',
      'none',
    ),
    `| load average (1 min) at start / end | ${before ? `${before.loadAtStart ?? '?'} / ${before.loadAverage}` : '-'} | ${after.loadAtStart ?? '?'} / ${after.loadAverage} | | | |`,
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      submits: { type: 'string', default: '1000' },
      clients: { type: 'string', default: '50' },
      concurrency: { type: 'string', default: '2' },
      'save-baseline': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
      // Profiling the submit phase alone: stop after the submits (drain and lost not measured).
      'no-drain': { type: 'boolean', default: false },
      // Measure the drain over this many seconds, then cancel what is left (default: all).
      'drain-seconds': { type: 'string' },
      // The scheduler claims nothing: the API and its database alone (no drain, not recorded).
      paused: { type: 'boolean', default: false },
    },
  });
  const measured = await measure(
    Number(values.submits),
    Number(values.clients),
    Number(values.concurrency),
    !values['no-drain'] && !values.paused,
    values['drain-seconds'] === undefined ? undefined : Number(values['drain-seconds']),
    values.paused,
  );
  process.stderr.write(`${JSON.stringify(measured)}\n`);
  if (values['save-baseline']) writeFileSync(BASELINE, `${JSON.stringify(measured, null, 2)}\n`);
  const before = existsSync(BASELINE)
    ? (JSON.parse(readFileSync(BASELINE, 'utf8')) as Measured)
    : null;
  const table = rows(measured, values['save-baseline'] ? null : before);
  process.stdout.write(`${table}\n`);
  if (values['no-write']) return;
  const machine = `${cpus().length} CPU(s), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`;
  const beforeNote =
    before === null || values['save-baseline']
      ? ''
      : `"before" is commit ${before.commit} measured on ${before.date} (load average ${before.loadAverage}); `;
  writeBenchSection(
    join(ROOT, 'bench/RESULTS.md'),
    'submit-load',
    `## Submit load (\`node bench/submit-load.bench.ts\`)

Measured on ${measured.date} at commit ${measured.commit}: ${machine}; load average (1 min) ${measured.loadAtStart} at the start, ${measured.loadAverage} at the end.
${measured.submits} submits of a 2-cell notebook from ${measured.clients} concurrent clients to the embedded service (its own
process, PGlite, local executor ${measured.concurrency} at a time), each POST with its own Idempotency-Key; a 429 is
retried after its Retry-After with the same key. ${beforeNote}"after" is this measurement.

${table}
`,
    '### Where the time goes (submit load)',
  );
}

await main();

/**
 * Slow stream consumers and the service's memory: C clients (default 20) open the run list's
 * event stream (`/v1/events`) and stop reading, while N runs (default 2000) with large labels
 * (64 labels of 256 characters, the most a run may carry) are submitted, each announced on
 * every stream. The service is bench/api-service.ts in its own process (embedded defaults,
 * execution paused so only the streams and submits use memory).
 *
 *   node bench/stream-memory.bench.ts [--clients C] [--runs N] [--save-baseline] [--no-write]
 *
 * Printed: the service's resident memory (VmRSS) before, after the submits and 5 s later, its
 * peak (VmHWM), and how many slow streams the service still holds open. `--save-baseline`
 * stores the numbers in bench/stream-memory.baseline.json (the "before" column).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedService } from './embedded-service.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const WORK = join(ROOT, 'bench/.work');
const BASELINE = join(ROOT, 'bench/stream-memory.baseline.json');
const TOKEN = 'nes_bench_admin_token_0123456789';

interface Measured {
  commit: string;
  date: string;
  clients: number;
  runs: number;
  rssBeforeMb: number;
  rssAfterSubmitsMb: number;
  rssSettledMb: number;
  peakMb: number;
  streamsStillOpen: number;
  loadAverage: string;
}

function memory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
}

function notebook(): string {
  return `${JSON.stringify({
    nbformat: 4,
    nbformat_minor: 5,
    metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
    cells: [
      {
        cell_type: 'code',
        id: 'c0',
        metadata: { tags: ['parameters'] },
        execution_count: null,
        outputs: [],
        source: 'x = 1',
      },
    ],
  })}\n`;
}

async function measure(clients: number, runs: number): Promise<Measured> {
  mkdirSync(WORK, { recursive: true });
  const path = join(WORK, 'stream.ipynb');
  writeFileSync(path, notebook());
  const { url, pid, stop } = await startEmbeddedService({
    work: WORK,
    token: TOKEN,
    env: { NES_MAX_QUEUED_RUNS: String(runs + 10) },
    serviceArgs: ['--paused'],
  });
  const port = Number(new URL(url).port);
  const sockets: Socket[] = [];
  try {
    await new Promise((done) => setTimeout(done, 2000));
    const before = memory(pid);
    for (let i = 0; i < clients; i++) sockets.push(await slowClient(port));
    const labels = Object.fromEntries(
      Array.from({ length: 64 }, (_, i) => [`label-${i}`, `${i}`.padEnd(256, 'v')]),
    );
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < runs) {
          const i = next++;
          for (;;) {
            const response = await fetch(`${url}/v1/runs`, {
              method: 'POST',
              headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
              body: JSON.stringify({ notebook: path, labels }),
            });
            await response.arrayBuffer();
            if (response.status === 429) {
              await new Promise((done) => setTimeout(done, 200));
              continue;
            }
            if (response.status !== 201) throw new Error(`submit ${i}: ${response.status}`);
            break;
          }
        }
      }),
    );
    const after = memory(pid);
    await new Promise((done) => setTimeout(done, 5000));
    const settled = memory(pid);
    // Server-side connections whose peer is one of the slow clients.
    const slowPorts = new Set(sockets.map((socket) => String(socket.localPort)));
    const open = execFileSync('ss', ['-tnH', 'state', 'established', `( sport = :${port} )`])
      .toString()
      .split('\n')
      .filter((line) =>
        slowPorts.has(line.trim().split(/\s+/).at(-1)?.split(':').at(-1) ?? ''),
      ).length;
    return {
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT })
        .toString()
        .trim(),
      date: new Date().toISOString().slice(0, 10),
      clients,
      runs,
      rssBeforeMb: before.rss,
      rssAfterSubmitsMb: after.rss,
      rssSettledMb: settled.rss,
      peakMb: settled.hwm,
      streamsStillOpen: open,
      loadAverage: loadavg()[0]?.toFixed(1) ?? '?',
    };
  } finally {
    for (const socket of sockets) socket.destroy();
    await stop();
  }
}

/** Opens /v1/events and stops reading after the response head. */
function slowClient(port: number): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(
        `GET /v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`,
      );
      socket.once('data', () => {
        socket.pause();
        done(socket);
      });
    });
    socket.once('error', fail);
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      clients: { type: 'string', default: '20' },
      runs: { type: 'string', default: '2000' },
      'save-baseline': { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
    },
  });
  const m = await measure(Number(values.clients), Number(values.runs));
  process.stderr.write(`${JSON.stringify(m)}\n`);
  if (values['save-baseline']) writeFileSync(BASELINE, `${JSON.stringify(m, null, 2)}\n`);
  const b =
    !values['save-baseline'] && existsSync(BASELINE)
      ? (JSON.parse(readFileSync(BASELINE, 'utf8')) as Measured)
      : null;
  const mb = (n: number | undefined) => (n === undefined ? '-' : `${n.toFixed(0)} MB`);
  const growth = (x: Measured) => x.rssSettledMb - x.rssBeforeMb;
  const table = [
    '| measure | before | after | target |',
    '| --- | --- | --- | --- |',
    `| API resident memory, before the streams | ${mb(b?.rssBeforeMb)} | ${mb(m.rssBeforeMb)} | |`,
    `| ... after the submits | ${mb(b?.rssAfterSubmitsMb)} | ${mb(m.rssAfterSubmitsMb)} | |`,
    `| ... 5 s later | ${mb(b?.rssSettledMb)} | ${mb(m.rssSettledMb)} | |`,
    `| growth (5 s later - before) | ${b ? mb(growth(b)) : '-'} | ${mb(growth(m))} | |`,
    `| peak (VmHWM) | ${mb(b?.peakMb)} | ${mb(m.peakMb)} | |`,
    `| slow streams the service still holds | ${b?.streamsStillOpen ?? '-'} | ${m.streamsStillOpen} | 0: ${m.streamsStillOpen === 0 ? 'met' : 'MISSED'} |`,
  ].join('\n');
  process.stdout.write(`${table}\n`);
  if (values['no-write']) return;
  const machine = `${cpus().length} CPU(s), ${cpus()[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Node ${process.version}`;
  writeBenchSection(
    join(ROOT, 'bench/RESULTS.md'),
    'stream-memory',
    `## Slow stream consumers (\`node bench/stream-memory.bench.ts\`)

Measured on ${m.date} at commit ${m.commit}: ${machine}; load average ${m.loadAverage}.
${m.clients} clients open \`/v1/events\` and stop reading while ${m.runs} runs with 64 labels of 256 characters are
submitted (execution paused). ${b ? `"before" is commit ${b.commit} (${b.date}, load average ${b.loadAverage}). ` : ''}Resident memory of the service process.

${table}
`,
  );
}

await main();

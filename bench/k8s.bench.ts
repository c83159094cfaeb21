/**
 * Kubernetes executor benchmark: informer-driven tracking of many concurrent runs on the fake
 * cluster (test/servers/kubernetes), against an anchor that lists every Job and pod once a
 * second. The workload is light on purpose (each container is a shell that sleeps 4-12 s), so
 * what is measured is tracking: how soon a pod's change reaches the run row, and what the API
 * process spends on it.
 *
 *   node bench/k8s.bench.ts [--runs N] [--no-write]
 *
 * The API side runs in its own process (bench/k8s-tracker.ts), sampled every 200 ms for CPU
 * time and resident memory. During the informer run the watches are dropped every 3 s and
 * expired (410 Gone) once; the anchor sees the same faults (they do not affect polling).
 * Writes its own block of bench/RESULTS.md unless --no-write.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CoreV1Api, makeInformer, type V1Pod } from '@kubernetes/client-node';
import {
  type FakeCluster,
  fakeClusterKubeconfigFile,
  startFakeCluster,
} from '../test/servers/kubernetes/index.ts';
import { writeBenchSection } from './results-file.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TRACKER = join(ROOT, 'bench/k8s-tracker.ts');

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '500' }, 'no-write': { type: 'boolean' } },
});
const RUNS = Number(values.runs);

interface Outcome {
  wall: number;
  statuses: Record<string, number>;
  terminalLatency: number[];
  runningLatency: number[];
  stats: Record<string, number | boolean>;
  cpuSeconds: number;
  peakRssMb: number;
  /** Job creates the API server answered, and how many were 409 (a run launched again). */
  creates: { total: number; conflicts: number };
  launchErrors: Record<string, number>;
}

const TICKS = 100; // USER_HZ on Linux
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return Number(fields[11]) + Number(fields[12]);
}
function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

async function measure(mode: 'informers' | 'informers-nologs' | 'polling'): Promise<Outcome> {
  const work = mkdtempSync('/var/tmp/nes-k8s-bench-');
  const cluster: FakeCluster = await startFakeCluster({
    kubelet: {
      // Room for every run at once: this measures the executor, not the scheduler's CPU fitting.
      allocatableCpu: '1000',
      // A shell per run: sleep 4-12 s, leave a runner-like result.
      resolveCommand: (pod) => {
        const id = pod.metadata?.annotations?.['nes.dev/run-id'] ?? 'unknown';
        const seconds = 4 + (Number.parseInt(id.slice(-4), 36) % 9);
        const script = [
          'echo "workload started"',
          `sleep ${seconds}`,
          'echo "workload done"',
          `printf '{"v":1,"status":"succeeded","exitCode":0}' > "$NES_RESULT_FILE"`,
        ].join('; ');
        return { command: '/bin/sh', args: ['-c', script] };
      },
    },
  });
  const kubeconfig = fakeClusterKubeconfigFile(cluster, join(work, 'kube'));
  // When each run's pod changed, seen by a watch in the cluster's own process.
  const podChanged = new Map<string, { running?: number; terminated?: number }>();
  const core = cluster.kubeConfig().makeApiClient(CoreV1Api);
  const watcher = makeInformer(cluster.kubeConfig(), '/api/v1/namespaces/nes-runs/pods', () =>
    core.listNamespacedPod({ namespace: 'nes-runs' }),
  );
  const onPod = (pod: V1Pod) => {
    const id = pod.metadata?.annotations?.['nes.dev/run-id'];
    const state = pod.status?.containerStatuses?.[0]?.state;
    if (!id || !state) return;
    const entry = podChanged.get(id) ?? {};
    if (state.running && entry.running === undefined) entry.running = Date.now();
    if (state.terminated && entry.terminated === undefined) entry.terminated = Date.now();
    podChanged.set(id, entry);
  };
  watcher.on('add', onPod);
  watcher.on('update', onPod);
  watcher.on('error', () => void watcher.start());
  await watcher.start();
  const child: ChildProcess = spawn(
    process.execPath,
    [TRACKER, mode, kubeconfig, work, String(RUNS)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const pid = child.pid as number;
  let peak = 0;
  let ticksAtStart = 0;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, rssMb(pid));
    } catch {
      // exited
    }
  }, 200);
  const faults: NodeJS.Timeout[] = [];
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const result = await new Promise<Record<string, unknown>>((done, fail) => {
    lines.on('line', (line) => {
      const message = JSON.parse(line) as Record<string, unknown>;
      if (message.submitted) {
        ticksAtStart = cpuTicks(pid);
        faults.push(setInterval(() => cluster.faults.dropWatches(), 3000));
        faults.push(setTimeout(() => cluster.faults.expireWatches(), 7000));
      }
      if (message.done) {
        const ticks = cpuTicks(pid) - ticksAtStart;
        done({ ...message, cpuSeconds: ticks / TICKS });
      }
    });
    child.once('exit', (code) => fail(new Error(`the tracker exited with ${code}`)));
  });
  clearInterval(sampler);
  for (const timer of faults) clearInterval(timer);
  await new Promise((r) => child.once('exit', r));
  if (cluster.specViolations.length > 0) {
    throw new Error(`spec violations: ${cluster.specViolations.slice(0, 3).join('; ')}`);
  }
  const posts = cluster.requests.filter(
    (r) => r.method === 'POST' && r.path === '/apis/batch/v1/namespaces/nes-runs/jobs',
  );
  const creates = { total: posts.length, conflicts: posts.filter((r) => r.status === 409).length };
  await watcher.stop();
  await cluster.close();
  const terminalLatency: number[] = [];
  const runningLatency: number[] = [];
  for (const [id, [running, terminal]] of Object.entries(
    result.rows as Record<string, [number | null, number | null]>,
  )) {
    const pod = podChanged.get(id);
    if (terminal !== null && pod?.terminated !== undefined)
      terminalLatency.push(terminal - pod.terminated);
    if (running !== null && pod?.running !== undefined) runningLatency.push(running - pod.running);
  }
  return {
    ...(result as unknown as Outcome),
    terminalLatency,
    runningLatency,
    peakRssMb: peak,
    creates,
  };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

const ms = (value: number) => `${Math.round(value)} ms`;
const ratio = (ours: number, anchor: number) => `${(ours / anchor).toFixed(2)}x`;

console.log(`tracking ${RUNS} concurrent runs on the fake cluster...`);
const tracking = await measure('informers-nologs');
console.log(
  'informers (no log following) done:',
  JSON.stringify({
    ...tracking,
    rows: undefined,
    terminalLatency: undefined,
    runningLatency: undefined,
  }),
);
const withLogs = await measure('informers');
console.log(
  'informers (logs followed) done:',
  JSON.stringify({
    ...withLogs,
    rows: undefined,
    terminalLatency: undefined,
    runningLatency: undefined,
  }),
);
const polling = await measure('polling');
console.log(
  'polling done:',
  JSON.stringify({
    ...polling,
    rows: undefined,
    terminalLatency: undefined,
    runningLatency: undefined,
  }),
);

type Pick = (outcome: Outcome) => number;
const latency =
  (which: 'terminalLatency' | 'runningLatency', p: number): Pick =>
  (outcome) =>
    percentile(outcome[which], p);
function row(label: string, pick: Pick, show: (value: number) => string): string[] {
  return [
    label,
    show(pick(tracking)),
    show(pick(withLogs)),
    show(pick(polling)),
    ratio(pick(tracking), pick(polling)),
  ];
}
const rows: string[][] = [
  row('pod terminated -> run row terminal, p50', latency('terminalLatency', 50), ms),
  row('pod terminated -> run row terminal, p95', latency('terminalLatency', 95), ms),
  row('pod running -> run row running, p50', latency('runningLatency', 50), ms),
  row('pod running -> run row running, p95', latency('runningLatency', 95), ms),
  row(
    'API process CPU (submit to the last terminal row)',
    (o) => o.cpuSeconds,
    (v) => `${v.toFixed(1)} s`,
  ),
  row(
    'API process peak RSS',
    (o) => o.peakRssMb,
    (v) => `${Math.round(v)} MB`,
  ),
  row(
    'wall time, first submit to the last terminal row',
    (o) => o.wall / 1000,
    (v) => `${v.toFixed(1)} s`,
  ),
  [
    'watch reconnects (Jobs + pods); log stream reconnects / polls',
    `${Number(tracking.stats.jobWatchReconnects) + Number(tracking.stats.podWatchReconnects)} (${tracking.stats.watchErrors} restarts after errors)`,
    `${Number(withLogs.stats.jobWatchReconnects) + Number(withLogs.stats.podWatchReconnects)} (${withLogs.stats.watchErrors} restarts); ${withLogs.stats.logReconnects} log`,
    `${polling.stats.polls} polls`,
    '',
  ],
  [
    'Job creates (409 AlreadyExists: launched again and adopted)',
    ...[tracking, withLogs, polling].map((o) => `${o.creates.total} (${o.creates.conflicts})`),
    '',
  ],
  [
    'runs ended',
    JSON.stringify(tracking.statuses),
    JSON.stringify(withLogs.statuses),
    JSON.stringify(polling.statuses),
    '',
  ],
];
for (const [label, o] of [
  ['informers', tracking],
  ['informers + logs', withLogs],
  ['polling', polling],
] as const) {
  if (Object.keys(o.launchErrors ?? {}).length > 0) {
    console.log(`launch failures (${label}):`, JSON.stringify(o.launchErrors));
  }
}

const table = [
  '| measure | NES informers | NES informers + live logs | 1 s polling (anchor) | ratio (NES informers / anchor) |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((row) => `| ${row.join(' | ')} |`),
].join('\n');
console.log(table);

if (!values['no-write']) {
  const machine = `${cpus().length} CPU(s), ${cpus()[0]?.model.trim()}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM`;
  const block = [
    '# Kubernetes executor benchmark results',
    '',
    `Measured by \`node bench/k8s.bench.ts --runs ${RUNS}\` on ${new Date().toISOString().slice(0, 10)}.`,
    '',
    `- Machine: ${machine}; load average at the end ${loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}; Node ${process.version}`,
    `- ${RUNS} runs submitted at once to one API process (PGlite, scheduler concurrency ${RUNS}); each`,
    '  container is a shell sleeping 4-12 s on the fake cluster (test/servers/kubernetes), so the',
    "  numbers are about tracking, not notebooks. Latency: from the pod's change (seen by a watch in",
    "  the fake cluster's own process) to the run row's change (where the scheduler publishes it).",
    '- NES informers: Job and pod informers (label-filtered) and the lease; + live logs: the lease',
    "  holder also follows every running pod's log (progress and log events written to the store).",
    '  Anchor: list every NES Job and pod once a second, the same state mapper, no log following;',
    "  it launches as the executor does (a 409 on create adopts the run's own Job).",
    '- Faults during both runs: every watch dropped every 3 s, and expired (410 Gone) once at 7 s.',
    '',
    table,
  ].join('\n');
  // The written reading of the numbers below the table outlives a new measurement.
  writeBenchSection(join(ROOT, 'bench/RESULTS.md'), 'k8s', block, 'Reading it');
  console.log('written to bench/RESULTS.md');
}
process.exit(0);

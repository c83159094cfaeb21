/**
 * The API side of bench/k8s.bench.ts, in its own process so its CPU and memory are its own: a
 * PGlite run store, the scheduler, and either the Kubernetes executor (informers, lease, log
 * following) or the anchor, a naive tracker that lists every Job and pod once a second.
 *
 *   node bench/k8s-tracker.ts MODE KUBECONFIG WORKDIR RUNS
 *   (MODE: informers | informers-nologs | polling)
 *
 * Creates RUNS runs at once, lets the scheduler launch them all, and records when each run row
 * became running and terminal. Prints one JSON line when every run is terminal.
 */
import { join } from 'node:path';
import { BatchV1Api, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import { createRunStore } from '../services/nes-api/src/db/index.ts';
import type {
  Executor,
  ExecutorObservation,
  ExecutorUpdate,
} from '../services/nes-api/src/executors/executor.ts';
import {
  buildRunJob,
  NES_LABELS,
} from '../services/nes-api/src/executors/kubernetes/job-builder.ts';
import {
  httpStatus,
  labelSelector,
  loadKubeConfig,
} from '../services/nes-api/src/executors/kubernetes/kube-client.ts';
import { KubernetesExecutor } from '../services/nes-api/src/executors/kubernetes/kubernetes-executor.ts';
import { judgeRunState } from '../services/nes-api/src/executors/kubernetes/run-state.ts';
import type { KubernetesRunSettings } from '../services/nes-api/src/executors/kubernetes/settings.ts';
import { kubernetesRunSettings } from '../services/nes-api/src/executors/kubernetes/settings-file.ts';
import type { Run } from '../services/nes-api/src/runs/run-model.ts';
import { Scheduler } from '../services/nes-api/src/scheduler/scheduler.ts';

const [mode, kubeconfig, workDir, runsText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const RUNS = Number(runsText);
const TERMINAL = new Set(['succeeded', 'failed', 'cancelled', 'timed_out']);

/** The anchor: every second, list all NES Jobs and pods and report what changed. */
class PollingTracker implements Executor {
  readonly name = 'polling';
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;
  readonly #settings: KubernetesRunSettings;
  readonly #listeners: Array<(update: ExecutorUpdate) => void> = [];
  readonly #reported = new Map<string, string>();
  readonly #known = new Set<string>();
  #timer: NodeJS.Timeout | null = null;
  polls = 0;

  constructor(kc: KubeConfig, settings: KubernetesRunSettings) {
    this.#batch = kc.makeApiClient(BatchV1Api);
    this.#core = kc.makeApiClient(CoreV1Api);
    this.#settings = settings;
  }

  start(): void {
    const tick = async () => {
      await this.#poll().catch(() => undefined);
      this.#timer = setTimeout(tick, 1000);
    };
    this.#timer = setTimeout(tick, 1000);
  }

  async #poll(): Promise<void> {
    this.polls += 1;
    const selector = labelSelector(NES_LABELS);
    const namespace = this.#settings.namespace;
    const [jobs, pods] = await Promise.all([
      this.#batch.listNamespacedJob({ namespace, labelSelector: selector }),
      this.#core.listNamespacedPod({ namespace, labelSelector: selector }),
    ]);
    const podsByRun = new Map<string, typeof pods.items>();
    for (const pod of pods.items) {
      const id = pod.metadata?.annotations?.['nes.dev/run-id'];
      if (id) podsByRun.set(id, [...(podsByRun.get(id) ?? []), pod]);
    }
    for (const job of jobs.items) {
      const runId = job.metadata?.annotations?.['nes.dev/run-id'];
      if (!runId || this.#reported.get(runId) === 'finished') continue;
      const judged = judgeRunState({ runId, job, pods: podsByRun.get(runId) ?? [] }, Date.now(), {
        pendingTimeoutSeconds: 600,
      });
      if (!judged || judged.judged) continue;
      const kind = judged.update.type === 'finished' ? 'finished' : 'running';
      if (this.#reported.get(runId) === kind) continue;
      this.#reported.set(runId, kind);
      for (const listener of this.#listeners) listener(judged.update);
    }
  }

  async kernels(): Promise<string[]> {
    return ['python3'];
  }
  /**
   * As the executor launches: a 409 AlreadyExists is the run's Job already there (the scheduler
   * launches a run again when it stayed starting past its grace, as runs claimed at once and
   * created one by one do here), adopted when its run-id annotation is this run's.
   */
  async launch(run: Run): Promise<void> {
    this.#known.add(run.id);
    const body = buildRunJob(run, this.#settings);
    const namespace = this.#settings.namespace;
    try {
      await this.#batch.createNamespacedJob({ namespace, body });
      return;
    } catch (error) {
      if (httpStatus(error) !== 409) throw error;
    }
    const name = body.metadata?.name as string;
    const existing = await this.#batch.readNamespacedJob({ name, namespace });
    const owner = existing.metadata?.annotations?.['nes.dev/run-id'];
    if (owner !== run.id) throw new Error(`Job ${name} already exists for ${owner ?? 'another'}`);
  }
  async cancel(): Promise<void> {}
  async observe(runId: string): Promise<ExecutorObservation> {
    return { runId, state: this.#known.has(runId) ? 'running' : 'unknown' };
  }
  onUpdate(listener: (update: ExecutorUpdate) => void): void {
    this.#listeners.push(listener);
  }
  async shutdown(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
  }
}

const kc = loadKubeConfig(kubeconfig);
const { kernels: _kernels, ...settings } = kubernetesRunSettings(
  {
    namespace: 'nes-runs',
    image: 'ghcr.io/nes/runner:bench',
    store: join(workDir, 'store'),
    githubApiUrl: null,
  },
  { secretEnv: { keys: [] }, resources: { defaults: { cpu: '10m', memory: '64Mi' } } },
);
const store = await createRunStore({ dataDir: join(workDir, `db-${mode}`) });
const executor = mode.startsWith('informers')
  ? new KubernetesExecutor({
      kc,
      settings,
      leaseName: 'nes-bench',
      tickIntervalMs: 1000,
      followLogs: mode === 'informers',
    })
  : new PollingTracker(kc, settings);

const seen = new Map<string, { running?: number; terminal?: number; status?: string }>();
let terminal = 0;
let resolveAll: () => void = () => {};
const allDone = new Promise<void>((resolve) => {
  resolveAll = resolve;
});
// Why launches failed, by message (the scheduler logs each one): a bench that drops runs says why.
const launchErrors: Record<string, number> = {};
const scheduler = new Scheduler({
  store,
  executor,
  log: (level, message) => {
    const cause = /launch failed: ([\s\S]*)/.exec(message)?.[1]?.split('\n')[0];
    if (level !== 'error' || cause === undefined) return;
    const key = cause.replace(/nes-[0-9a-z]{26}/g, 'nes-<id>').slice(0, 300);
    launchErrors[key] = (launchErrors[key] ?? 0) + 1;
  },
  concurrency: RUNS,
  pollIntervalMs: 200,
  reconcileIntervalMs: 30_000,
  progressIntervalMs: 1000,
  bus: {
    publishRun(run) {
      const entry = seen.get(run.id) ?? {};
      if (run.status === 'running' && entry.running === undefined) entry.running = Date.now();
      if (TERMINAL.has(run.status) && entry.terminal === undefined) {
        entry.terminal = Date.now();
        entry.status = run.error ? `${run.status} (${run.error.ename})` : run.status;
        terminal += 1;
        if (terminal === RUNS) resolveAll();
      }
      seen.set(run.id, entry);
    },
    publishEvent() {},
  },
});

if (executor instanceof KubernetesExecutor) await executor.start();
else executor.start();
const ids: string[] = [];
for (let i = 0; i < RUNS; i += 1) {
  const { run } = await store.createRun({
    notebook: `/bench/run-${i}.ipynb`,
    ref: null,
    commitSha: null,
    parameters: {},
    kernel: 'python3',
    labels: {},
    timeoutSeconds: 600,
    resources: null,
    image: null,
    queue: 'default',
    sweepId: null,
  });
  ids.push(run.id);
}
process.stdout.write(`${JSON.stringify({ submitted: RUNS })}\n`);
const t0 = Date.now();
await scheduler.start();
await allDone;
const wall = Date.now() - t0;

// When each run row became running and terminal (the parent knows when its pod changed).
const rows: Record<string, [number | null, number | null]> = {};
const statuses: Record<string, number> = {};
for (const id of ids) {
  const entry = seen.get(id) ?? {};
  statuses[entry.status ?? 'none'] = (statuses[entry.status ?? 'none'] ?? 0) + 1;
  rows[id] = [entry.running ?? null, entry.terminal ?? null];
}
const stats =
  executor instanceof KubernetesExecutor
    ? executor.stats()
    : { polls: (executor as PollingTracker).polls };
process.stdout.write(
  `${JSON.stringify({ done: true, wall, statuses, rows, stats, launchErrors })}\n`,
);
await scheduler.stop(0);
await store.close();
process.exit(0);

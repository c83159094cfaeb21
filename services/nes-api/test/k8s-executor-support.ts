/**
 * The Kubernetes executor's contract rig: the fake cluster (test/servers/kubernetes), a run store,
 * the executor and the scheduler, wired as the service wires them. Workspaces live under /var/tmp:
 * the fake kubelet maps a pod's /tmp (an emptyDir) to its own directory, so notebooks under /tmp
 * would not be found by the runner.
 */
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalStore } from '@nes/stores/local';
import {
  type FakeCluster,
  type FakeClusterOptions,
  startFakeCluster,
} from '../../../test/servers/kubernetes/index.ts';
import { storedLogOf } from '../src/executors/kubernetes/from-config.ts';
import {
  KubernetesExecutor,
  type KubernetesExecutorOptions,
} from '../src/executors/kubernetes/kubernetes-executor.ts';
import type { KubernetesRunSettings } from '../src/executors/kubernetes/settings.ts';
import { kubernetesRunSettings } from '../src/executors/kubernetes/settings-file.ts';
import type { Run, RunSpec } from '../src/runs/run-model.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import { Scheduler, type SchedulerOptions } from '../src/scheduler/scheduler.ts';
import { specOf, waitFor, writeNotebook } from './scheduler-support.ts';

export const RUNNER_IMAGE = 'ghcr.io/nes/runner:1.0.0';

export interface Workspace {
  root: string;
  notebooks: string;
  store: string;
}

export function k8sWorkspace(): Workspace {
  const root = mkdtempSync('/var/tmp/nes-k8s-');
  const ws = { root, notebooks: join(root, 'notebooks'), store: join(root, 'store') };
  mkdirSync(ws.notebooks, { recursive: true });
  mkdirSync(ws.store, { recursive: true });
  return ws;
}

export function k8sSettings(
  ws: Workspace,
  overrides: Partial<KubernetesRunSettings> = {},
): KubernetesRunSettings {
  const { kernels: _kernels, ...settings } = kubernetesRunSettings(
    { namespace: 'nes-runs', image: RUNNER_IMAGE, store: ws.store, githubApiUrl: null },
    {
      allowedImages: ['ghcr.io/nes/*'],
      secretEnv: { allowed: ['warehouse'], keys: [] },
      timeouts: { defaultSeconds: 300, maxSeconds: 3600, startupSeconds: 60 },
      terminationGracePeriodSeconds: 10,
    },
  );
  return { ...settings, ...overrides };
}

export interface Replica {
  executor: KubernetesExecutor;
  scheduler: Scheduler;
  updates: Array<{ runId: string; type: string; [key: string]: unknown }>;
  stop(): Promise<void>;
}

/** One API replica: executor and scheduler over `store`, as startService builds them. */
export async function startReplica(
  cluster: FakeCluster,
  store: RunStore,
  ws: Workspace,
  options: {
    executor?: Partial<KubernetesExecutorOptions>;
    scheduler?: Partial<SchedulerOptions>;
    settings?: Partial<KubernetesRunSettings>;
  } = {},
): Promise<Replica> {
  const executor = new KubernetesExecutor({
    kc: cluster.kubeConfig(),
    settings: k8sSettings(ws, options.settings),
    artifacts: new LocalStore(ws.store),
    pendingTimeoutSeconds: 3,
    tickIntervalMs: 200,
    lostGraceMs: 500,
    resyncIntervalMs: 5000,
    storedLog: storedLogOf(store),
    ...options.executor,
  });
  const updates: Replica['updates'] = [];
  executor.onUpdate((update) => updates.push({ ...update }));
  const scheduler = new Scheduler({
    store,
    executor,
    concurrency: 8,
    pollIntervalMs: 100,
    reconcileIntervalMs: 500,
    lostGraceMs: 2000,
    progressIntervalMs: 0,
    deadlineGraceMs: 120_000,
    startingTimeoutMs: 120_000,
    ...options.scheduler,
  });
  await executor.start();
  await scheduler.start();
  return { executor, scheduler, updates, stop: () => scheduler.stop(0) };
}

export async function submit(
  store: RunStore,
  scheduler: Scheduler | null,
  spec: RunSpec,
): Promise<Run> {
  const { run } = await store.createRun(spec);
  scheduler?.wake();
  return run;
}

export function notebook(ws: Workspace, name: string, cells: string[]): string {
  return writeNotebook(ws.notebooks, name, cells);
}

export { specOf, waitFor };

export function outputNotebook(
  ws: Workspace,
  runId: string,
): {
  cells: Array<{ source: string | string[]; outputs?: Array<Record<string, unknown>> }>;
  metadata: Record<string, unknown>;
} {
  return JSON.parse(readFileSync(join(ws.store, 'runs', runId, 'output.ipynb'), 'utf8'));
}

/** The run's pods in the cluster, oldest first. */
export function podsOf(cluster: FakeCluster, runId: string) {
  return cluster
    .list<{
      metadata: { name: string; creationTimestamp?: string; annotations?: Record<string, string> };
      status?: { phase?: string };
    }>('Pod', 'nes-runs')
    .filter((pod) => pod.metadata.annotations?.['nes.dev/run-id'] === runId)
    .sort((a, b) =>
      String(a.metadata.creationTimestamp).localeCompare(String(b.metadata.creationTimestamp)),
    );
}

export async function until<T>(
  what: string,
  probe: () => T | undefined | null | false,
  timeoutMs = 60_000,
): Promise<T> {
  const giveUp = performance.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (performance.now() > giveUp) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export type { FakeCluster, FakeClusterOptions };
export { startFakeCluster };

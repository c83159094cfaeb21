/**
 * Several API replicas on one PostgreSQL run store and one cluster: the replica holding the
 * lease is SIGKILLed mid-run (no shutdown, its lease left to expire); the other takes the lease
 * over, finishes tracking the run, and does the holder's side effects (the log archive). While
 * both run, only the holder follows logs, so no log line is stored twice.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, test } from 'node:test';
import {
  type FakeCluster,
  fakeClusterKubeconfigFile,
  startFakeCluster,
} from '../../../test/servers/kubernetes/index.ts';
import { type PostgresServer, startPostgres } from '../../../test/servers/postgres/index.ts';
import { createRunStore } from '../src/db/index.ts';
import { podLogKey } from '../src/executors/kubernetes/pod-log-archive.ts';
import type { RunStore } from '../src/runs/run-store.ts';
import {
  k8sWorkspace,
  notebook,
  type Replica,
  specOf,
  startReplica,
  until,
  type Workspace,
  waitFor,
} from './k8s-executor-support.ts';
import { isTerminal } from './scheduler-support.ts';

const LEASE = 'nes-executor';
let cluster: FakeCluster;
let postgres: PostgresServer;
let databaseUrl: string;
let ws: Workspace;
let store: RunStore;
let child: ChildProcess | null = null;
let replica: Replica | null = null;

before(async () => {
  [cluster, postgres] = await Promise.all([startFakeCluster(), startPostgres()]);
  databaseUrl = await postgres.createDatabase('nes_k8s_replicas');
  ws = k8sWorkspace();
  store = await createRunStore({ databaseUrl, dataDir: '/nonexistent' });
});

after(async () => {
  child?.kill('SIGKILL');
  await replica?.stop();
  await store.close();
  await cluster.close();
  await postgres.stop();
});

function startChildReplica(): Promise<{ leader: boolean }> {
  const kubeconfig = fakeClusterKubeconfigFile(cluster, join(ws.root, 'kube'));
  child = spawn(
    process.execPath,
    [join(import.meta.dirname, 'k8s-executor-child.ts'), kubeconfig, databaseUrl, ws.store, LEASE],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  return new Promise((resolve, reject) => {
    lines.once('line', (line) => resolve(JSON.parse(line)));
    child?.once('exit', (code) => reject(new Error(`replica A exited with ${code}`)));
  });
}

test('the lease holder is killed mid-run: the other replica takes over and finishes', async () => {
  const a = await startChildReplica();
  assert.equal(a.leader, true, 'the first replica takes the lease');
  const nb = notebook(ws, 'long.ipynb', [
    'x = 1',
    ...Array.from({ length: 6 }, (_, i) => `import time\ntime.sleep(0.5)\nprint(${i})`),
  ]);
  const { run } = await store.createRun(specOf(nb));
  // Replica B joins while A runs the run: it watches too, but A holds the lease.
  replica = await startReplica(cluster, store, ws, {
    executor: { leaseName: LEASE, leaseDurationSeconds: 2, identity: 'replica-b' },
  });
  assert.equal(replica.executor.leader, false);
  await waitFor(store, run.id, (r) => r.progress.cellsDone >= 2 || isTerminal(r), 90_000);
  child?.kill('SIGKILL');
  await until('replica B holds the lease', () => replica?.executor.leader, 20_000);
  const done = await waitFor(store, run.id, isTerminal, 90_000);
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  assert.equal(done.progress.cellsDone, 7);
  // The side effects moved with the lease: B archived the pod's log.
  await until('the archived log', () => existsSync(join(ws.store, podLogKey(run.id))), 20_000);
  const lease = cluster.get<{ spec: { holderIdentity: string; leaseTransitions: number } }>(
    'Lease',
    'nes-runs',
    LEASE,
  );
  assert.equal(lease?.spec.holderIdentity, 'replica-b');
  assert.equal(lease?.spec.leaseTransitions, 1);
  // One follower at a time: no log line stored twice.
  const logs = (await store.listEvents(run.id, 0)).filter((event) => event.type === 'log');
  const keys = logs.map((event) => JSON.stringify(event.data));
  assert.ok(logs.length > 0);
  assert.equal(new Set(keys).size, keys.length, 'no duplicate log events');
  assert.deepEqual(cluster.specViolations, []);
});

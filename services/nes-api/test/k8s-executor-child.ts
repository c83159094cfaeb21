/**
 * One API replica in its own process, for k8s-executor-replicas.test.ts to SIGKILL mid-run:
 * a Kubernetes executor (holding the lease) and a scheduler on a shared PostgreSQL run store.
 * argv: kubeconfig file, database URL, store directory, lease name.
 */
import { LocalStore } from '@nes/stores/local';
import { createRunStore } from '../src/db/index.ts';
import { storedLogOf } from '../src/executors/kubernetes/from-config.ts';
import { loadKubeConfig } from '../src/executors/kubernetes/kube-client.ts';
import { KubernetesExecutor } from '../src/executors/kubernetes/kubernetes-executor.ts';
import { kubernetesRunSettings } from '../src/executors/kubernetes/settings-file.ts';
import { Scheduler } from '../src/scheduler/scheduler.ts';

const [kubeconfig, databaseUrl, storeDir, leaseName] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
];
const store = await createRunStore({ databaseUrl, dataDir: '/nonexistent' });
const { kernels, ...settings } = kubernetesRunSettings(
  { namespace: 'nes-runs', image: 'ghcr.io/nes/runner:1.0.0', store: storeDir, githubApiUrl: null },
  { secretEnv: { keys: [] }, terminationGracePeriodSeconds: 10 },
);
const executor = new KubernetesExecutor({
  kc: loadKubeConfig(kubeconfig),
  settings,
  kernels,
  artifacts: new LocalStore(storeDir),
  leaseName,
  leaseDurationSeconds: 2,
  identity: 'replica-a',
  storedLog: storedLogOf(store),
  tickIntervalMs: 200,
});
const scheduler = new Scheduler({ store, executor, pollIntervalMs: 100, reconcileIntervalMs: 500 });
await executor.start();
await scheduler.start();
process.stdout.write(`${JSON.stringify({ ready: true, leader: executor.leader })}\n`);
setInterval(() => {}, 1000);

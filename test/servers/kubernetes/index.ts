/**
 * A faithful local Kubernetes API server for tests: real HTTP and JSON, checked against the
 * official OpenAPI spec, with a Job controller and a kubelet that runs containers' commands as
 * local processes. README.md says what is simulated and what is not.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeCluster } from './cluster.ts';

export {
  type FakeCluster,
  type FakeClusterFaults,
  type FakeClusterOptions,
  type ObjectKind,
  type RecordedRequest,
  startFakeCluster,
} from './cluster.ts';
export type { ResolvedCommand } from './kubelet.ts';
export { loadKubernetesSpec } from './spec.ts';

/** Writes the cluster's kubeconfig to `dir/kubeconfig` (mode 0600) and returns its path. */
export function fakeClusterKubeconfigFile(cluster: FakeCluster, dir: string): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'kubeconfig');
  writeFileSync(file, cluster.kubeconfigYaml(), { mode: 0o600 });
  return file;
}

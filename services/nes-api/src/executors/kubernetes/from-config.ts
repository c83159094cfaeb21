/**
 * The Kubernetes executor as the service configures it (NES_EXECUTOR=kubernetes): the kubeconfig,
 * the settings file merged with the NES_K8S_* variables, the lease, and the scheduler tunings a
 * cluster needs (the Job's own deadline and the pending timeout govern, not the local defaults).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import type { ObjectStore } from '@nes/stores/local';
import { ConfigError, type KubernetesConfig, type NesConfig } from '../../config.ts';
import type { RunStore } from '../../runs/run-store.ts';
import type { SchedulerOptions } from '../../scheduler/scheduler.ts';
import { loadKubeConfig } from './kube-client.ts';
import { KubernetesExecutor, type KubernetesExecutorOptions } from './kubernetes-executor.ts';
import type { LogLine } from './pod-logs.ts';
import { kubernetesRunSettings, readSettingsFile } from './settings-file.ts';

const POD_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';
/** A run waiting in a Kueue queue longer than this (after its own timeout) is ended. */
const KUEUE_WAIT_MS = 7 * 24 * 3600 * 1000;

export interface KubernetesWiring {
  executor: KubernetesExecutor;
  scheduler: Partial<SchedulerOptions>;
}

export function kubernetesFromConfig(
  config: NesConfig & { kubernetes: KubernetesConfig },
  options: {
    store: string;
    /** The run store: log lines already stored are not reported again after a takeover. */
    runStore: RunStore;
    artifacts: ObjectStore | null;
    log: (level: 'info' | 'warn' | 'error', message: string) => void;
    overrides?: Partial<KubernetesExecutorOptions>;
  },
): KubernetesWiring {
  const k8s = config.kubernetes;
  const file = k8s.settingsFile ? readSettingsFile(k8s.settingsFile) : {};
  if (!k8s.image && !file.image) {
    throw new ConfigError(
      'NES_K8S_IMAGE',
      'the runner image is required with NES_EXECUTOR=kubernetes (or `image` in NES_K8S_SETTINGS_FILE)',
    );
  }
  const { kernels, ...settings } = kubernetesRunSettings(
    {
      namespace: k8s.namespace,
      image: k8s.image,
      store: options.store,
      githubApiUrl: config.githubApiUrl,
      sourceAllowedHosts: config.sourceAllowedHosts ?? null,
    },
    file,
    k8s.settingsFile ?? 'settings',
  );
  let kc: KubeConfig;
  try {
    kc = loadKubeConfig(k8s.kubeconfig);
  } catch (error) {
    throw new ConfigError('NES_K8S_KUBECONFIG', (error as Error).message);
  }
  const leaseNamespace = k8s.lease?.namespace ?? podNamespace() ?? k8s.namespace;
  const executor = new KubernetesExecutor({
    kc,
    settings: {
      ...settings,
      installation: k8s.installation ?? defaultInstallation(k8s, leaseNamespace),
    },
    kernels,
    podTemplateName: k8s.podTemplate,
    pendingTimeoutSeconds: k8s.pendingTimeoutSeconds,
    leaseName: k8s.lease?.name ?? null,
    leaseNamespace,
    artifacts: options.artifacts,
    storedLog: storedLogOf(options.runStore),
    log: options.log,
    ...options.overrides,
  });
  const kueue = settings.kueue != null;
  return {
    executor,
    scheduler: {
      // The Job's activeDeadlineSeconds (timeout + startup) ends an overdue run; the scheduler's
      // backstop waits past it. Suspended in a Kueue queue, a run may wait much longer.
      deadlineGraceMs: kueue ? KUEUE_WAIT_MS : (settings.timeouts.startupSeconds + 60) * 1000,
      // Pending runs are judged by the executor (NES_K8S_PENDING_TIMEOUT_SECONDS, with the
      // scheduler's message); queued in Kueue they wait without a limit.
      startingTimeoutMs: kueue
        ? Number.POSITIVE_INFINITY
        : (k8s.pendingTimeoutSeconds + settings.timeouts.startupSeconds) * 1000,
      lostGraceMs: 10_000,
    },
  };
}

/** The log lines the scheduler stored for a run (its 'log' events). */
export function storedLogOf(store: RunStore): (runId: string) => Promise<LogLine[]> {
  return async (runId) =>
    (await store.listEvents(runId))
      .filter((event) => event.type === 'log' && typeof event.data.time === 'string')
      .map((event) => ({ time: String(event.data.time), text: String(event.data.text) }));
}

/**
 * Without NES_K8S_INSTALLATION: the lease names the installation (two installations never share
 * one: they would elect one leader between them), else the namespace the API runs in.
 */
function defaultInstallation(k8s: KubernetesConfig, leaseNamespace: string): string {
  const base = k8s.lease ? `${leaseNamespace}.${k8s.lease.name}` : (podNamespace() ?? 'nes');
  if (base.length <= 63) return base;
  const hash = createHash('sha256').update(base).digest('hex').slice(0, 10);
  return `${base.slice(0, 52).replace(/[^A-Za-z0-9]+$/, '')}.${hash}`;
}

function podNamespace(): string | null {
  try {
    return readFileSync(POD_NAMESPACE_FILE, 'utf8').trim() || null;
  } catch {
    return null;
  }
}

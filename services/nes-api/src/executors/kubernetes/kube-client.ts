/**
 * How the API reaches the cluster: the KubeConfig (in a pod its service account, otherwise
 * NES_K8S_KUBECONFIG or the usual kubeconfig lookup) and the few helpers every Kubernetes
 * module shares.
 */
import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/** In a pod: its service account; else `path`, else $KUBECONFIG or ~/.kube/config. */
export function loadKubeConfig(path?: string | null): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    kc.loadFromCluster();
  } else kc.loadFromDefault();
  if (!kc.getCurrentCluster()) {
    throw new Error(
      `no Kubernetes cluster in the kubeconfig${path ? ` ${path}` : ''} (current context: ${kc.getCurrentContext() || 'none'})`,
    );
  }
  return kc;
}

/** The HTTP status of a failed client call (ApiException.code), or null for network errors. */
export function httpStatus(error: unknown): number | null {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'number' ? code : null;
}

/** A short message for a failed client call, without the response headers it embeds. */
export function describeError(error: unknown): string {
  const body = (error as { body?: unknown })?.body;
  let message: string | undefined;
  if (typeof body === 'string') {
    try {
      message = (JSON.parse(body) as { message?: string }).message;
    } catch {
      message = body.slice(0, 300);
    }
  } else if (body && typeof body === 'object') {
    message = (body as { message?: string }).message;
  }
  const status = httpStatus(error);
  if (message) return status ? `${status}: ${message}` : message;
  const text = String((error as Error)?.message ?? error);
  return text.split('\n')[0] ?? text;
}

/** Kubernetes' MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export function labelSelector(labels: Readonly<Record<string, string>>): string {
  return Object.entries(labels)
    .map(([key, value]) => `${key}=${value}`)
    .join(',');
}

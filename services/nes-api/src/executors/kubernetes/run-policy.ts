/**
 * The run-policy checks: what a run may ask of the cluster (image, timeout, service account,
 * node selection, resources, Secrets), judged against the administrator's settings before any
 * Job is built. Pure; every refusal is a `KubernetesRunSpecError` naming the field, so a run
 * that asks for too much fails at launch with a message its author can act on.
 * job-builder.ts assembles the Job from what these checks grant.
 */
import type { V1Toleration } from '@kubernetes/client-node';
import type { Run } from '../../runs/run-model.ts';
import { parseQuantity } from './quantity.ts';
import {
  type KubernetesRunSettings,
  KubernetesRunSpecError,
  KubernetesSettingsError,
} from './settings.ts';

/** What the checks grant a run: the Job is built from this. */
export interface RunGrant {
  image: string;
  /** The runner's own timeout; the Job's deadline is this plus the startup allowance. */
  timeoutSeconds: number;
  serviceAccount: string;
  request: RunClusterRequest;
  gpu: number;
  nodeSelector: Record<string, string>;
  tolerations: V1Toleration[];
  /** Secrets whose keys become the runner's environment (references only). */
  secretNames: string[];
}

/** Checks `run` against the settings; throws `KubernetesRunSpecError` naming the field refused. */
export function checkRunPolicy(run: Run, settings: KubernetesRunSettings): RunGrant {
  const request = parseClusterRequest(run.resources);

  // Image.
  const image = run.image ?? settings.image;
  if (!imageAllowed(image, settings)) {
    throw new KubernetesRunSpecError(
      'image',
      `${image} is not an allowed image (the administrator allows ${[settings.image, ...settings.allowedImages].join(', ')})`,
    );
  }

  // Timeout: the runner's own, then the Job's hard deadline a little later.
  const timeoutSeconds = run.timeoutSeconds ?? settings.timeouts.defaultSeconds;
  if (!Number.isInteger(timeoutSeconds) || timeoutSeconds <= 0) {
    throw new KubernetesRunSpecError('timeoutSeconds', 'must be a positive whole number');
  }
  if (timeoutSeconds > settings.timeouts.maxSeconds) {
    throw new KubernetesRunSpecError(
      'timeoutSeconds',
      `${timeoutSeconds} exceeds the maximum of ${settings.timeouts.maxSeconds} allowed by the administrator`,
    );
  }

  // Service account.
  const serviceAccount = request.serviceAccount ?? settings.serviceAccount.default;
  if (
    serviceAccount !== settings.serviceAccount.default &&
    !settings.serviceAccount.allowed.includes(serviceAccount)
  ) {
    throw new KubernetesRunSpecError(
      'resources.serviceAccount',
      `${serviceAccount} is not an allowed service account`,
    );
  }

  // Node selector and tolerations.
  const nodeSelector: Record<string, string> = {};
  for (const [label, value] of Object.entries(request.nodeSelector ?? {})) {
    const allowed = settings.nodeSelectors[label];
    if (!allowed) {
      throw new KubernetesRunSpecError(
        `resources.nodeSelector.${label}`,
        'this node label may not be selected',
      );
    }
    if (!allowed.includes(value)) {
      throw new KubernetesRunSpecError(
        `resources.nodeSelector.${label}`,
        `${value} is not allowed (allowed: ${allowed.join(', ')})`,
      );
    }
    nodeSelector[label] = value;
  }
  const tolerations: V1Toleration[] = [];
  for (const profile of request.tolerations ?? []) {
    const set = settings.tolerations[profile];
    if (!set) {
      throw new KubernetesRunSpecError(
        'resources.tolerations',
        `${profile} is not an allowed toleration set (allowed: ${Object.keys(settings.tolerations).join(', ') || 'none'})`,
      );
    }
    tolerations.push(...clone(set));
  }

  // Resources.
  const gpu = request.gpu ?? 0;
  if (gpu > settings.resources.max.gpu) {
    throw new KubernetesRunSpecError(
      'resources.gpu',
      settings.resources.max.gpu === 0
        ? 'GPUs are not allowed by the administrator'
        : `${gpu} exceeds the maximum of ${settings.resources.max.gpu} allowed by the administrator`,
    );
  }
  if (request.cpu) checkMax('resources.cpu', request.cpu, settings.resources.max.cpu);
  if (request.memory) checkMax('resources.memory', request.memory, settings.resources.max.memory);
  if (gpu > 0) {
    Object.assign(nodeSelector, settings.gpu?.nodeSelector ?? {});
    tolerations.push(...clone(settings.gpu?.tolerations ?? []));
  }

  // Secrets: references only.
  const secretNames = [...settings.secretEnv.always];
  for (const secret of request.secretEnv ?? []) {
    if (!settings.secretEnv.allowed.includes(secret)) {
      throw new KubernetesRunSpecError(
        'resources.secretEnv',
        `${secret} is not a Secret runs may use (allowed: ${settings.secretEnv.allowed.join(', ') || 'none'})`,
      );
    }
    if (!secretNames.includes(secret)) secretNames.push(secret);
  }

  return {
    image,
    timeoutSeconds,
    serviceAccount,
    request,
    gpu,
    nodeSelector,
    tolerations,
    secretNames,
  };
}

/** What a run may ask of the cluster through `resources` (everything else is refused). */
export interface RunClusterRequest {
  cpu?: string;
  memory?: string;
  gpu?: number;
  nodeSelector?: Record<string, string>;
  tolerations?: string[];
  serviceAccount?: string;
  secretEnv?: string[];
}

const REQUEST_KEYS = new Set([
  'cpu',
  'memory',
  'gpu',
  'nodeSelector',
  'tolerations',
  'serviceAccount',
  'secretEnv',
]);

function stringList(value: unknown, field: string): string[] {
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'string')) {
    throw new KubernetesRunSpecError(field, 'must be a list of names');
  }
  return value as string[];
}

/** Reads `run.resources`, rejecting unknown keys and wrong types. */
export function parseClusterRequest(resources: Record<string, unknown> | null): RunClusterRequest {
  if (resources === null) return {};
  const request: RunClusterRequest = {};
  for (const [key, value] of Object.entries(resources)) {
    const field = `resources.${key}`;
    if (!REQUEST_KEYS.has(key)) {
      throw new KubernetesRunSpecError(
        field,
        `unknown setting (allowed: ${[...REQUEST_KEYS].join(', ')})`,
      );
    }
    if (value === undefined || value === null) continue;
    switch (key) {
      case 'cpu':
      case 'memory': {
        const text = typeof value === 'number' ? String(value) : value;
        if (typeof text !== 'string' || !((parseQuantity(text) ?? 0) > 0)) {
          throw new KubernetesRunSpecError(
            field,
            `${JSON.stringify(value)} is not a positive Kubernetes quantity (e.g. ${key === 'cpu' ? '500m or 2' : '512Mi or 4Gi'})`,
          );
        }
        request[key] = text;
        break;
      }
      case 'gpu':
        if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
          throw new KubernetesRunSpecError(field, 'must be a whole number of GPUs');
        }
        request.gpu = value;
        break;
      case 'nodeSelector': {
        if (typeof value !== 'object' || Array.isArray(value)) {
          throw new KubernetesRunSpecError(field, 'must be an object of label: value');
        }
        const selector: Record<string, string> = {};
        for (const [label, labelValue] of Object.entries(value as Record<string, unknown>)) {
          if (typeof labelValue !== 'string') {
            throw new KubernetesRunSpecError(`${field}.${label}`, 'must be a string');
          }
          selector[label] = labelValue;
        }
        request.nodeSelector = selector;
        break;
      }
      case 'tolerations':
        request.tolerations = stringList(value, field);
        break;
      case 'secretEnv':
        request.secretEnv = stringList(value, field);
        break;
      case 'serviceAccount':
        if (typeof value !== 'string') throw new KubernetesRunSpecError(field, 'must be a name');
        request.serviceAccount = value;
        break;
    }
  }
  return request;
}

function imageAllowed(image: string, settings: KubernetesRunSettings): boolean {
  if (image === settings.image) return true;
  return settings.allowedImages.some((pattern) =>
    pattern.endsWith('*') ? image.startsWith(pattern.slice(0, -1)) : image === pattern,
  );
}

function checkMax(field: string, asked: string, max: string): void {
  const value = parseQuantity(asked) as number;
  const limit = parseQuantity(max);
  if (limit === null) throw new KubernetesSettingsError(`resources.max: ${max} is not a quantity`);
  if (value > limit) {
    throw new KubernetesRunSpecError(
      field,
      `${asked} exceeds the maximum of ${max} allowed by the administrator`,
    );
  }
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Shared by the k8s-*.test.ts suites: the official spec, a run and settings to build from. */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type OpenApiSpec,
  OpenApiValidator,
} from '../../../test/servers/kubernetes/openapi-validator.ts';
import { loadKubernetesSpec } from '../../../test/servers/kubernetes/spec.ts';
import type { KubernetesRunSettings } from '../src/executors/kubernetes/settings.ts';
import type { Run } from '../src/runs/run-model.ts';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

let validator: OpenApiValidator | null = null;
/** A strict validator over the official spec (test/servers/kubernetes/spec). */
export function openApiValidator(): OpenApiValidator {
  validator ??= new OpenApiValidator(loadKubernetesSpec() as OpenApiSpec);
  return validator;
}

export function run(overrides: Partial<Run> = {}): Run {
  return {
    id: '01jd0000000000000000000000',
    status: 'starting',
    notebook: 'github://acme/notebooks/daily/report.ipynb',
    ref: 'main',
    commitSha: '0123456789abcdef0123456789abcdef01234567',
    parameters: { alpha: 0.5, name: 'x' },
    kernel: 'python3',
    labels: {},
    timeoutSeconds: 600,
    resources: null,
    image: null,
    queue: 'default',
    sweepId: null,
    createdAt: '2026-11-01T00:00:00.000Z',
    startedAt: null,
    finishedAt: null,
    progress: { cellsDone: 0, cellsTotal: 0, currentCell: null },
    error: null,
    outputUri: null,
    cancelRequested: false,
    ...overrides,
  };
}

export function settings(overrides: Partial<KubernetesRunSettings> = {}): KubernetesRunSettings {
  return {
    namespace: 'nes-runs',
    image: 'ghcr.io/nes/runner:1.0.0',
    allowedImages: ['ghcr.io/nes/runner-gpu:1.0.0', 'europe-docker.pkg.dev/acme/nes/*'],
    store: 'gs://acme-nes/prod',
    serviceAccount: { default: 'nes-runner', allowed: ['nes-runner-bigquery'] },
    resources: {
      defaults: { cpu: '500m', memory: '1Gi' },
      max: { cpu: '8', memory: '32Gi', gpu: 2 },
    },
    nodeSelectors: { 'cloud.google.com/gke-nodepool': ['default-pool', 'highmem'] },
    tolerations: {
      spot: [
        {
          key: 'cloud.google.com/gke-spot',
          operator: 'Equal',
          value: 'true',
          effect: 'NoSchedule',
        },
      ],
    },
    gpu: {
      nodeSelector: { 'cloud.google.com/gke-accelerator': 'nvidia-l4' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    },
    secretEnv: {
      always: [],
      allowed: ['warehouse'],
      keys: [{ env: 'NES_GITHUB_TOKEN', secret: 'nes-github', key: 'token' }],
    },
    env: { NES_GITHUB_API_URL: 'https://api.github.com' },
    timeouts: { defaultSeconds: 3600, maxSeconds: 86400, startupSeconds: 600 },
    ttlSecondsAfterFinished: 86400,
    terminationGracePeriodSeconds: 60,
    kueue: null,
    podTemplate: null,
    ...overrides,
  };
}

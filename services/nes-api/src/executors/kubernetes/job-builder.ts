/**
 * The batch/v1 Job for one run: a pure function of the run and the administrator's settings
 * (no I/O, no clock), so the executor can rebuild the same object at any time and a 409
 * AlreadyExists on create means "already launched". docs/kubernetes.md lists every rule.
 *
 * The container runs `nes-run INPUT --store STORE --run-id ID --json ...`: the runner writes the
 * run layout to the store, prints its events as JSON lines on stdout (human output on stderr),
 * and exits with its failure class's code (@nes/run-contract).
 */
import { createHash } from 'node:crypto';
import type {
  V1Container,
  V1EnvFromSource,
  V1EnvVar,
  V1Job,
  V1PodSpec,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { stringifyParametersJson } from '@nes/notebook';
import { WATCHED_RUN_AUTOSAVE_POLICY } from '@nes/runner';
import { pinnedSourceUri } from '@nes/sources';
import type { Run } from '../../runs/run-model.ts';
import { parseQuantity } from './quantity.ts';
import { checkRunPolicy, type RunClusterRequest } from './run-policy.ts';
import {
  type KubernetesRunSettings,
  KubernetesRunSpecError,
  KubernetesSettingsError,
} from './settings.ts';

export const RUNNER_CONTAINER = 'runner';
export const LABEL_PREFIX = 'nes.dev/';
export const RUN_ID_LABEL = 'nes.dev/run-id';
export const QUEUE_LABEL = 'nes.dev/queue';
/** Which NES installation owns a Job and its pod (several may share a runs namespace). */
export const INSTALLATION_LABEL = 'nes.dev/installation';
export const KUEUE_QUEUE_LABEL = 'kueue.x-k8s.io/queue-name';
export const GPU_RESOURCE = 'nvidia.com/gpu';
/** Labels on every NES Job and pod: the executor's informers select on these. */
export const NES_LABELS: Readonly<Record<string, string>> = {
  'app.kubernetes.io/name': 'nes',
  'app.kubernetes.io/component': 'run',
  'app.kubernetes.io/managed-by': 'nes-api',
};
/** The labels an installation's informers select on: NES's own plus its identity. */
export function installationLabels(
  installation: string | null | undefined,
): Record<string, string> {
  return installation ? { ...NES_LABELS, [INSTALLATION_LABEL]: installation } : { ...NES_LABELS };
}

/**
 * The pull policy the API server would give `image` (Always for `:latest` or no tag, else
 * IfNotPresent), decided for each run's image: the PodTemplate's container carries the policy
 * the server filled in for the template's own image, which says nothing about another one.
 */
export function defaultPullPolicy(image: string): 'Always' | 'IfNotPresent' {
  if (image.includes('@')) return 'IfNotPresent';
  const tag = /:([^/:]+)$/.exec(image)?.[1];
  return tag === undefined || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

export const ANNOTATIONS = {
  runId: 'nes.dev/run-id',
  notebook: 'nes.dev/notebook',
  ref: 'nes.dev/ref',
  commitSha: 'nes.dev/commit-sha',
  outputUri: 'nes.dev/output-uri',
} as const;
/** The runner will write its small JSON result here (Kubernetes reads at most 4096 bytes). */
export const TERMINATION_MESSAGE_PATH = '/dev/termination-log';
export const HOME_DIR = '/home/nes';
/** The Job's deadline as a time, set by the executor when it creates the Job (nes-run reads it). */
export const DEADLINE_ENV = 'NES_DEADLINE_AT';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const SECRET_LOOKING = /TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|PRIVATE|_KEY$|^KEY$/i;
const MAX_NAME = 63;

export function isDnsLabel(text: string): boolean {
  return text.length <= MAX_NAME && DNS_LABEL.test(text);
}

export function isLabelValue(text: string): boolean {
  return text.length <= 63 && LABEL_VALUE.test(text);
}

/**
 * `nes-<run id>` when the id is already a DNS label that fits (NES's ids are lowercase ULIDs);
 * otherwise a lowercased slug cut to fit plus 10 hex characters of the id's SHA-256, so ids
 * that differ only in case or punctuation never share a Job.
 */
export function jobNameForRun(runId: string): string {
  if (runId === '') throw new KubernetesRunSpecError('id', 'the run id is empty');
  const plain = `nes-${runId}`;
  if (isDnsLabel(plain)) return plain;
  const hash = createHash('sha256').update(runId).digest('hex').slice(0, 10);
  const slug = runId
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .slice(0, MAX_NAME - 'nes-'.length - hash.length - 1)
    .replace(/^-+|-+$/g, '');
  return slug === '' ? `nes-${hash}` : `nes-${slug}-${hash}`;
}

/** The run-id label: the id itself when it is a valid label value, else the Job name. */
export function runIdLabelValue(runId: string): string {
  return isLabelValue(runId) ? runId : jobNameForRun(runId);
}

/** Where the runner writes the output notebook: `STORE/runs/ID/output.ipynb`. */
export function outputUriFor(store: string, runId: string): string {
  const base = store.replace(/\/+$/, '');
  return `${base}/runs/${runId}/output.ipynb`;
}

const RESTRICTED_CONTAINER: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** A container's security context with the restricted fields forced (others kept). */
function restricted(base: V1SecurityContext | undefined, field: string): V1SecurityContext {
  if (base?.privileged) {
    throw new KubernetesSettingsError(`${field}: privileged containers are not allowed`);
  }
  if (base?.capabilities?.add?.length) {
    throw new KubernetesSettingsError(`${field}: adding capabilities is not allowed`);
  }
  if (base?.runAsUser === 0) {
    throw new KubernetesSettingsError(`${field}: runAsUser 0 (root) is not allowed`);
  }
  return { ...clone(base ?? {}), ...clone(RESTRICTED_CONTAINER) };
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function mergeByName<T extends { name: string }>(base: T[] | undefined, ours: T[]): T[] {
  const names = new Set(ours.map((item) => item.name));
  return [...(base ?? []).filter((item) => !names.has(item.name)), ...ours];
}

const NES_VOLUMES: V1Volume[] = [
  { name: 'nes-tmp', emptyDir: {} },
  { name: 'nes-home', emptyDir: {} },
];
const NES_MOUNTS: V1VolumeMount[] = [
  { name: 'nes-tmp', mountPath: '/tmp' },
  { name: 'nes-home', mountPath: HOME_DIR },
];

/**
 * Builds the Job for `run`: the run-policy checks (run-policy.ts) decide what the run gets, then
 * the Job is assembled from that and the PodTemplate. Throws `KubernetesRunSpecError` when the
 * run asks for anything the settings do not allow and `KubernetesSettingsError` when the
 * settings or the PodTemplate cannot make a safe Job.
 */
export function buildRunJob(run: Run, settings: KubernetesRunSettings): V1Job {
  const name = jobNameForRun(run.id);
  const grant = checkRunPolicy(run, settings);

  // The pod template the operators control.
  const template = settings.podTemplate?.template ?? {};
  const baseSpec: Partial<V1PodSpec> = clone(template.spec ?? {});
  checkPodTemplate(baseSpec);
  const baseContainers = baseSpec.containers ?? [];
  const baseRunner: Partial<V1Container> = clone(baseContainers[0] ?? {});

  const resources = runnerResources(baseRunner.resources, grant.request, grant.gpu, settings);

  const env = runnerEnv(run, settings, baseRunner.env);
  const envFrom: V1EnvFromSource[] = [
    ...(baseRunner.envFrom ?? []),
    ...grant.secretNames.map((secret) => ({ secretRef: { name: secret, optional: false } })),
  ];

  const { uri: input, ref } = pinnedSourceUri(run.notebook, run.ref, run.commitSha);
  // --log-output with --json: cell output as `output` events in the pod's log (the run's log).
  const args = [input, '--store', settings.store, '--run-id', run.id, '--json', '--log-output'];
  if (ref) args.push('--ref', ref);
  if (run.kernel) args.push('--kernel', run.kernel);
  args.push('--timeout', String(grant.timeoutSeconds));
  // Saved as often as on the local executor: the viewer shows the run as it fills in.
  args.push(
    '--autosave-min-interval',
    String(WATCHED_RUN_AUTOSAVE_POLICY.minIntervalMs / 1000),
    '--autosave-cell-every',
    String(WATCHED_RUN_AUTOSAVE_POLICY.longCellEverySeconds),
  );
  if (Object.keys(run.parameters).length > 0) {
    args.push(
      '--parameters_base64',
      Buffer.from(stringifyParametersJson(run.parameters), 'utf8').toString('base64'),
    );
  }

  const runner: V1Container = {
    ...baseRunner,
    name: RUNNER_CONTAINER,
    image: grant.image,
    imagePullPolicy: settings.imagePullPolicy ?? defaultPullPolicy(grant.image),
    command: settings.command ?? ['nes-run'],
    args,
    env,
    envFrom,
    resources,
    securityContext: restricted(baseRunner.securityContext, 'PodTemplate: container runner'),
    terminationMessagePath: TERMINATION_MESSAGE_PATH,
    terminationMessagePolicy: 'FallbackToLogsOnError',
    volumeMounts: mergeByName(
      baseRunner.volumeMounts?.map(mountAsName),
      NES_MOUNTS.map(mountAsName),
    ).map(nameAsMount),
  };

  const queue = run.queue || 'default';
  const kueueQueue = settings.kueue
    ? (settings.kueue.queues?.[queue] ?? settings.kueue.defaultQueue)
    : null;
  const labels: Record<string, string> = {
    ...installationLabels(settings.installation),
    [RUN_ID_LABEL]: runIdLabelValue(run.id),
    ...(isLabelValue(queue) ? { [QUEUE_LABEL]: queue } : {}),
  };
  const annotations: Record<string, string> = {
    [ANNOTATIONS.runId]: run.id,
    [ANNOTATIONS.notebook]: run.notebook,
    ...(run.ref ? { [ANNOTATIONS.ref]: run.ref } : {}),
    ...(run.commitSha ? { [ANNOTATIONS.commitSha]: run.commitSha } : {}),
    [ANNOTATIONS.outputUri]: outputUriFor(settings.store, run.id),
  };

  const podNodeSelector = { ...(baseSpec.nodeSelector ?? {}), ...grant.nodeSelector };
  const podTolerations = [...(baseSpec.tolerations ?? []), ...grant.tolerations];
  const podSpec: V1PodSpec = {
    ...baseSpec,
    containers: [runner],
    ...(baseSpec.initContainers
      ? {
          initContainers: baseSpec.initContainers.map((container) => ({
            ...container,
            securityContext: restricted(
              container.securityContext,
              `PodTemplate: init container ${container.name}`,
            ),
          })),
        }
      : {}),
    restartPolicy: 'Never',
    serviceAccountName: grant.serviceAccount,
    automountServiceAccountToken: baseSpec.automountServiceAccountToken ?? false,
    enableServiceLinks: false,
    terminationGracePeriodSeconds: settings.terminationGracePeriodSeconds,
    securityContext: {
      ...(baseSpec.securityContext ?? {}),
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumes: mergeByName(baseSpec.volumes, clone(NES_VOLUMES)),
    ...(Object.keys(podNodeSelector).length > 0 ? { nodeSelector: podNodeSelector } : {}),
    ...(podTolerations.length > 0 ? { tolerations: podTolerations } : {}),
  };
  // The Job's deadline governs; a pod-level one would fail the pod without the Job condition.
  delete podSpec.activeDeadlineSeconds;
  if (podSpec.serviceAccount !== undefined) delete podSpec.serviceAccount;

  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name,
      namespace: settings.namespace,
      labels: { ...labels, ...(kueueQueue ? { [KUEUE_QUEUE_LABEL]: kueueQueue } : {}) },
      annotations,
    },
    spec: {
      backoffLimit: 0,
      completions: 1,
      parallelism: 1,
      activeDeadlineSeconds: grant.timeoutSeconds + settings.timeouts.startupSeconds,
      ttlSecondsAfterFinished: settings.ttlSecondsAfterFinished,
      podFailurePolicy: {
        rules: [
          {
            action: 'Ignore',
            onPodConditions: [{ type: 'DisruptionTarget', status: 'True' }],
          },
          {
            action: 'FailJob',
            onExitCodes: { containerName: RUNNER_CONTAINER, operator: 'NotIn', values: [0] },
          },
        ],
      },
      ...(kueueQueue ? { suspend: true } : {}),
      template: {
        metadata: {
          labels: { ...(template.metadata?.labels ?? {}), ...labels },
          annotations: { ...(template.metadata?.annotations ?? {}), ...annotations },
        },
        spec: podSpec,
      },
    },
  };
}

/** What an operator's PodTemplate may not contain: other containers, host namespaces, hostPath. */
function checkPodTemplate(spec: Partial<V1PodSpec>): void {
  for (const container of spec.containers ?? []) {
    if (container.name !== RUNNER_CONTAINER) {
      throw new KubernetesSettingsError(
        `PodTemplate: container ${container.name}: only a "${RUNNER_CONTAINER}" container may be given (use initContainers with restartPolicy Always for sidecars)`,
      );
    }
  }
  if (spec.hostNetwork || spec.hostPID || spec.hostIPC) {
    throw new KubernetesSettingsError('PodTemplate: host namespaces are not allowed');
  }
  for (const volume of spec.volumes ?? []) {
    if (volume.hostPath) {
      throw new KubernetesSettingsError(
        `PodTemplate: volume ${volume.name}: hostPath is not allowed`,
      );
    }
  }
}

// volumeMounts are keyed by mountPath, not name: two mounts of one volume are legal.
type Keyed = V1VolumeMount & { name: string };
function mountAsName(mount: V1VolumeMount): Keyed {
  return { ...mount, name: `${mount.mountPath}\u0000${mount.name}` };
}
function nameAsMount(keyed: Keyed): V1VolumeMount {
  return { ...keyed, name: keyed.name.slice(keyed.name.indexOf('\u0000') + 1) };
}

function runnerResources(
  base: V1ResourceRequirements | undefined,
  request: RunClusterRequest,
  gpu: number,
  settings: KubernetesRunSettings,
): V1ResourceRequirements {
  const requests: Record<string, string> = {
    cpu: settings.resources.defaults.cpu,
    memory: settings.resources.defaults.memory,
    ...((base?.requests as Record<string, string> | undefined) ?? {}),
  };
  const limits: Record<string, string> = {
    ...((base?.limits as Record<string, string> | undefined) ?? {}),
  };
  if (request.cpu) requests.cpu = request.cpu;
  if (request.memory) requests.memory = request.memory;
  // Memory limit = request: a run is OOM-killed at what it asked for, never at a node's whim.
  limits.memory = requests.memory as string;
  if (limits.cpu && (parseQuantity(limits.cpu) ?? 0) < (parseQuantity(requests.cpu ?? '0') ?? 0)) {
    limits.cpu = requests.cpu as string;
  }
  if (gpu > 0) limits[GPU_RESOURCE] = String(gpu);
  else delete limits[GPU_RESOURCE];
  delete requests[GPU_RESOURCE];
  return { requests, limits };
}

function runnerEnv(
  run: Run,
  settings: KubernetesRunSettings,
  base: V1EnvVar[] | undefined,
): V1EnvVar[] {
  const ours: V1EnvVar[] = [];
  for (const [name, value] of Object.entries(settings.env)) {
    if (!ENV_NAME.test(name)) throw new KubernetesSettingsError(`env: ${name} is not a valid name`);
    if (SECRET_LOOKING.test(name)) {
      throw new KubernetesSettingsError(
        `env: ${name} looks like a secret: give it through secretEnv.keys (a Secret reference), never as a value`,
      );
    }
    ours.push({ name, value });
  }
  for (const key of settings.secretEnv.keys) {
    ours.push({
      name: key.env,
      valueFrom: {
        secretKeyRef: {
          name: key.secret,
          key: key.key,
          ...(key.optional ? { optional: true } : {}),
        },
      },
    });
  }
  ours.push(
    { name: 'NES_RUN_ID', value: run.id },
    { name: 'NES_STORE', value: settings.store },
    { name: 'NES_RESULT_FILE', value: TERMINATION_MESSAGE_PATH },
    { name: 'HOME', value: HOME_DIR },
    { name: 'TMPDIR', value: '/tmp' },
  );
  return mergeByName(base, ours);
}

/** NES's own rules for a run's Job, beyond the schema (used by tests and before every create). */
export function nesJobIssues(job: V1Job): string[] {
  const issues: string[] = [];
  const name = job.metadata?.name ?? '';
  if (!isDnsLabel(name))
    issues.push(`metadata.name ${name} is not a DNS label of <= 63 characters`);
  for (const [where, labels] of [
    ['metadata.labels', job.metadata?.labels],
    ['spec.template.metadata.labels', job.spec?.template.metadata?.labels],
  ] as const) {
    for (const [key, value] of Object.entries(NES_LABELS)) {
      if (labels?.[key] !== value) issues.push(`${where}.${key} must be ${value}`);
    }
    if (!labels?.[RUN_ID_LABEL]) issues.push(`${where}.${RUN_ID_LABEL} is missing`);
    for (const [key, value] of Object.entries(labels ?? {})) {
      if (!isLabelValue(value)) issues.push(`${where}.${key}: ${value} is not a label value`);
    }
  }
  const spec = job.spec;
  if (spec?.backoffLimit !== 0) issues.push('spec.backoffLimit must be 0');
  if (spec?.template.spec?.restartPolicy !== 'Never') issues.push('restartPolicy must be Never');
  for (const container of spec?.template.spec?.containers ?? []) {
    for (const env of container.env ?? []) {
      if (env.value !== undefined && SECRET_LOOKING.test(env.name)) {
        issues.push(
          `container ${container.name}: env ${env.name} carries a value that looks secret`,
        );
      }
    }
  }
  return issues;
}

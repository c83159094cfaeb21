/**
 * What kube-apiserver does to an object between decoding and storing it, for the kinds served
 * here: defaulting (the values `kubectl get -o yaml` shows but nobody wrote) and the semantic
 * validation the schema cannot express (name syntax, label syntax, a Job's restartPolicy and
 * its immutable template). Each problem is a Status cause with the field path.
 */
import { randomUUID } from 'node:crypto';
import type { V1Container, V1Job, V1Pod, V1PodSpec } from '@kubernetes/client-node';
import { labelIssues } from './openapi-validator.ts';
import type { Kind } from './resources.ts';
import { type KubeObject, sameJson } from './selectors.ts';
import type { StatusCause } from './status.ts';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export const JOB_LABELS = {
  controllerUid: 'batch.kubernetes.io/controller-uid',
  jobName: 'batch.kubernetes.io/job-name',
  legacyControllerUid: 'controller-uid',
  legacyJobName: 'job-name',
} as const;

/** Fills server-side defaults on a new object (uid is assigned here so a Job can select on it). */
export function defaultNew(kind: Kind, object: KubeObject): void {
  object.metadata.uid = randomUUID();
  if (kind === 'Job') defaultJob(object as unknown as V1Job, object.metadata.uid);
  if (kind === 'PodTemplate') defaultPodTemplate(object);
  if (kind === 'Pod') {
    const pod = object as unknown as V1Pod;
    const spec = (pod.spec ?? { containers: [] }) as V1PodSpec;
    defaultPodSpec(spec, 'Always');
    spec.serviceAccountName ??= 'default';
    spec.serviceAccount = spec.serviceAccountName;
    const tolerations = spec.tolerations ?? [];
    for (const taint of ['not-ready', 'unreachable']) {
      const key = `node.kubernetes.io/${taint}`;
      if (tolerations.some((t) => t.key === key)) continue;
      tolerations.push({ key, operator: 'Exists', effect: 'NoExecute', tolerationSeconds: 300 });
    }
    spec.tolerations = tolerations;
    pod.spec = spec;
    pod.status = { phase: 'Pending', qosClass: qosClass(pod.spec as V1PodSpec) };
  }
}

/** Defaults a write fills again on update (a changed PodTemplate gets them like a new one). */
export function defaultUpdate(kind: Kind, object: KubeObject): void {
  if (kind === 'PodTemplate') defaultPodTemplate(object);
}

function defaultPodTemplate(object: KubeObject): void {
  const spec = (object.template as { spec?: V1PodSpec } | undefined)?.spec;
  if (spec) defaultPodSpec(spec, 'Always');
}

function defaultJob(job: V1Job, uid: string): void {
  const spec = job.spec;
  if (!spec) return;
  spec.parallelism ??= 1;
  if (spec.completions === undefined && job.spec?.completionMode !== 'Indexed')
    spec.completions = 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex === undefined ? 6 : 2147483647;
  spec.completionMode ??= 'NonIndexed';
  spec.suspend ??= false;
  // v1.28: podReplacementPolicy is alpha (off): the server sets no default.
  const template = spec.template;
  if (!template) return;
  template.metadata ??= {};
  template.metadata.labels = {
    ...(template.metadata.labels ?? {}),
    [JOB_LABELS.controllerUid]: uid,
    [JOB_LABELS.jobName]: job.metadata?.name ?? '',
    [JOB_LABELS.legacyControllerUid]: uid,
    [JOB_LABELS.legacyJobName]: job.metadata?.name ?? '',
  };
  spec.selector ??= { matchLabels: { [JOB_LABELS.controllerUid]: uid } };
  if (job.metadata && Object.keys(job.metadata.labels ?? {}).length === 0) {
    job.metadata.labels = { ...template.metadata.labels };
  }
  if (template.spec) defaultPodSpec(template.spec, 'Always');
  job.status = {};
}

/** The pod spec defaults kube-apiserver fills (in pods, and in every pod template it stores). */
export function defaultPodSpec(spec: V1PodSpec, restartPolicy: string): void {
  spec.restartPolicy ??= restartPolicy;
  spec.dnsPolicy ??= 'ClusterFirst';
  spec.schedulerName ??= 'default-scheduler';
  spec.terminationGracePeriodSeconds ??= 30;
  spec.securityContext ??= {};
  spec.enableServiceLinks ??= true;
  for (const container of [...(spec.containers ?? []), ...(spec.initContainers ?? [])]) {
    defaultContainer(container);
  }
}

function defaultContainer(container: V1Container): void {
  container.terminationMessagePath ??= '/dev/termination-log';
  container.terminationMessagePolicy ??= 'File';
  const image = container.image ?? '';
  const tagged = /:[^/]+$/.test(image) || image.includes('@');
  container.imagePullPolicy ??= !tagged || image.endsWith(':latest') ? 'Always' : 'IfNotPresent';
  container.resources ??= {};
  if (container.resources.limits && !container.resources.requests) {
    container.resources.requests = { ...container.resources.limits };
  }
}

/**
 * A LimitRange's defaulting (SetDefaults_LimitRangeItem): for a Container item, a resource with a
 * `max` but no `default` gets `default = max`, and one with a `default` but no `defaultRequest`
 * gets `defaultRequest = default`. The limits list is replaced whole by a client-side apply, so a
 * manifest that leaves these out is reported "configured" at every apply.
 */
export function defaultLimitRangeItem(item: {
  type: string;
  max?: Record<string, string>;
  default?: Record<string, string>;
  defaultRequest?: Record<string, string>;
}): void {
  if (item.type !== 'Container') return;
  for (const [resource, value] of Object.entries(item.max ?? {})) {
    item.default ??= {};
    item.default[resource] ??= value;
  }
  for (const [resource, value] of Object.entries(item.default ?? {})) {
    item.defaultRequest ??= {};
    item.defaultRequest[resource] ??= value;
  }
}

function qosClass(spec: V1PodSpec): string {
  const containers = spec.containers ?? [];
  const resources = containers.map((c) => c.resources ?? {});
  if (resources.every((r) => !r.requests && !r.limits)) return 'BestEffort';
  const guaranteed = resources.every(
    (r) =>
      r.limits?.cpu !== undefined &&
      r.limits?.memory !== undefined &&
      r.requests?.cpu === r.limits.cpu &&
      r.requests?.memory === r.limits.memory,
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** What every write normalizes: a Secret's stringData is folded into data (base64). */
export function normalize(kind: Kind, object: KubeObject): void {
  if (kind !== 'Secret' || object.stringData === undefined) return;
  const data = { ...((object.data as Record<string, string> | undefined) ?? {}) };
  for (const [key, value] of Object.entries(object.stringData as Record<string, string>)) {
    data[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  object.data = data;
  delete object.stringData;
}

/** Semantic checks on a new or updated object; `old` is the stored object for an update. */
export function validate(kind: Kind, object: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const name = object.metadata.name;
  const nameRule = kind === 'Job' || kind === 'Namespace' ? DNS_LABEL : DNS_SUBDOMAIN;
  if (!name) {
    causes.push(required('metadata.name', 'name or generateName is required'));
  } else if (
    kind !== 'Event' &&
    (!nameRule.test(name) || name.length > (nameRule === DNS_LABEL ? 63 : 253))
  ) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${name}": a lowercase RFC 1123 ${nameRule === DNS_LABEL ? 'label' : 'subdomain'} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`,
      field: 'metadata.name',
    });
  }
  for (const issue of labelIssues(object.metadata.labels, 'metadata.labels')) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${issue.message}`,
      field: issue.path,
    });
  }
  if (kind === 'Job')
    causes.push(...jobCauses(object as unknown as V1Job, old as unknown as V1Job | undefined));
  if (kind === 'Pod') causes.push(...podSpecCauses((object as unknown as V1Pod).spec, 'spec'));
  return causes;
}

function required(field: string, message = 'Required value'): StatusCause {
  return { reason: 'FieldValueRequired', message, field };
}

function podSpecCauses(spec: V1PodSpec | undefined, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!spec) return [required(path)];
  if (!spec.containers?.length) causes.push(required(`${path}.containers`));
  const names = new Set<string>();
  for (const [group, containers] of [
    ['containers', spec.containers],
    ['initContainers', spec.initContainers],
  ] as const) {
    (containers ?? []).forEach((container, index) => {
      const field = `${path}.${group}[${index}]`;
      if (!container.name) causes.push(required(`${field}.name`));
      else if (names.has(container.name)) {
        causes.push({
          reason: 'FieldValueDuplicate',
          message: `Duplicate value: "${container.name}"`,
          field: `${field}.name`,
        });
      }
      names.add(container.name);
      if (!container.image) causes.push(required(`${field}.image`));
      for (const mount of container.volumeMounts ?? []) {
        if (!spec.volumes?.some((volume) => volume.name === mount.name)) {
          causes.push({
            reason: 'FieldValueNotFound',
            message: `Not found: "${mount.name}"`,
            field: `${field}.volumeMounts[${mount.name}].name`,
          });
        }
      }
    });
  }
  return causes;
}

function jobCauses(job: V1Job, old: V1Job | undefined): StatusCause[] {
  const spec = job.spec;
  if (!spec) return [required('spec')];
  const causes = podSpecCauses(spec.template?.spec, 'spec.template.spec');
  const restartPolicy = spec.template?.spec?.restartPolicy;
  if (restartPolicy !== 'Never' && restartPolicy !== 'OnFailure') {
    causes.push({
      reason: 'FieldValueNotSupported',
      message: `Unsupported value: "${restartPolicy}": supported values: "OnFailure", "Never"`,
      field: 'spec.template.spec.restartPolicy',
    });
  }
  if (spec.podFailurePolicy && restartPolicy !== 'Never') {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: "${restartPolicy}": only "Never" is supported when podFailurePolicy is specified`,
      field: 'spec.template.spec.restartPolicy',
    });
  }
  for (const field of [
    'parallelism',
    'completions',
    'backoffLimit',
    'ttlSecondsAfterFinished',
  ] as const) {
    const value = spec[field];
    if (value !== undefined && value !== null && value < 0) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: `Invalid value: ${value}: must be greater than or equal to 0`,
        field: `spec.${field}`,
      });
    }
  }
  if (spec.activeDeadlineSeconds !== undefined && spec.activeDeadlineSeconds <= 0) {
    causes.push({
      reason: 'FieldValueInvalid',
      message: `Invalid value: ${spec.activeDeadlineSeconds}: must be greater than or equal to 1`,
      field: 'spec.activeDeadlineSeconds',
    });
  }
  spec.podFailurePolicy?.rules.forEach((rule, index) => {
    const field = `spec.podFailurePolicy.rules[${index}]`;
    if (!rule.onExitCodes === !rule.onPodConditions?.length) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: 'Invalid value: specifying one of OnExitCodes and OnPodConditions is required',
        field,
      });
    }
    if (rule.onExitCodes?.operator === 'In' && rule.onExitCodes.values.includes(0)) {
      causes.push({
        reason: 'FieldValueInvalid',
        message: 'Invalid value: 0: must not be 0 for the In operator',
        field: `${field}.onExitCodes.values[0]`,
      });
    }
  });
  if (old?.spec) {
    const immutable = (field: string, a: unknown, b: unknown) => {
      if (!sameJson(a, b)) {
        causes.push({
          reason: 'FieldValueInvalid',
          message: 'Invalid value: field is immutable',
          field,
        });
      }
    };
    immutable('spec.completions', spec.completions, old.spec.completions);
    immutable('spec.selector', spec.selector, old.spec.selector);
    immutable('spec.podFailurePolicy', spec.podFailurePolicy, old.spec.podFailurePolicy);
    // A suspended Job that never started may change its scheduling directives (Kueue does).
    const mutableTemplate = old.spec.suspend === true && !old.status?.startTime;
    if (mutableTemplate) {
      const strip = (job: V1Job) => {
        const template = structuredClone(job.spec?.template ?? {});
        if (template.spec) {
          delete template.spec.nodeSelector;
          delete template.spec.tolerations;
          delete template.spec.affinity;
          delete template.spec.schedulingGates;
        }
        if (template.metadata) {
          delete template.metadata.labels;
          delete template.metadata.annotations;
        }
        return template;
      };
      immutable('spec.template', strip(job), strip(old));
    } else {
      immutable('spec.template', spec.template, old.spec.template);
    }
  }
  return causes;
}

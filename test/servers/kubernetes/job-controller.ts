/**
 * kube-controller-manager's Job controller for NonIndexed Jobs, reconciled per Job key the way
 * the real one works: it creates pods from the template up to parallelism/completions, counts
 * finished pods once each, applies podFailurePolicy (FailJob, Ignore, Count), backoffLimit and
 * activeDeadlineSeconds, honours `suspend`, writes conditions as v1.28 does (Complete once the
 * pods succeeded, no SuccessCriteriaMet; a podFailurePolicy FailJob as FailureTarget, then Failed
 * once no pod is terminating; a deadline or the backoff limit as Failed at once, while the
 * deleted pods still stop), tracks pods with the `batch.kubernetes.io/job-tracking` finalizer
 * (removed once a pod is counted) and deletes a finished Job after ttlSecondsAfterFinished.
 */
import type { V1Job, V1JobCondition, V1Pod, V1PodFailurePolicyRule } from '@kubernetes/client-node';
import type { ObjectApi } from './api.ts';
import { timestamp } from './api.ts';
import type { EventRecorder } from './events.ts';
import { resourceByKind } from './resources.ts';
import { type KubeObject, sameJson } from './selectors.ts';
import type { Change, ObjectStore } from './store.ts';

interface Outcome {
  reason: string;
  message: string;
}

interface Tracking {
  counted: Set<string>;
  succeeded: number;
  failed: number;
  failure?: Outcome;
}

const POD = resourceByKind('Pod');
/** On every pod the controller creates; it removes it once it has counted the pod. */
export const JOB_TRACKING_FINALIZER = 'batch.kubernetes.io/job-tracking';
const JOB = resourceByKind('Job');

export class JobController {
  readonly #store: ObjectStore;
  readonly #api: ObjectApi;
  readonly #events: EventRecorder;
  readonly #queue = new Set<string>();
  readonly #tracking = new Map<string, Tracking>();
  /** Pods deleted since the last sync (their last state), by Job uid. */
  readonly #vanished = new Map<string, V1Pod[]>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  #draining = false;
  #closed = false;
  #unsubscribe: () => void;

  constructor(store: ObjectStore, api: ObjectApi, events: EventRecorder) {
    this.#store = store;
    this.#api = api;
    this.#events = events;
    this.#unsubscribe = store.subscribe((change) => this.#observe(change));
  }

  close(): void {
    this.#closed = true;
    this.#unsubscribe();
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }

  #observe(change: Change): void {
    if (change.kind === 'Job') {
      if (change.type === 'DELETED') {
        this.#tracking.delete(change.object.metadata.uid);
        this.#vanished.delete(change.object.metadata.uid);
      }
      this.#enqueue(`${change.object.metadata.namespace}/${change.object.metadata.name}`);
      return;
    }
    if (change.kind !== 'Pod') return;
    const pod = change.object as unknown as V1Pod;
    const owner = controllerOf(change.object);
    if (!owner) {
      // Orphaned (its Job deleted with Orphan): nothing will count it either.
      if (change.type !== 'DELETED' && countable(pod)) this.#releaseSoon(pod);
      return;
    }
    const job = this.#store.get('Job', change.object.metadata.namespace, owner.name);
    if (job?.metadata.uid !== owner.uid) {
      // Its Job is gone: nothing will count it, the finalizer goes once it is done.
      if (change.type !== 'DELETED' && countable(pod)) this.#releaseSoon(pod);
      return;
    }
    if (change.type === 'DELETED') {
      // Its last state counts, whether or not the controller saw it finish.
      const list = this.#vanished.get(owner.uid) ?? [];
      list.push(pod);
      this.#vanished.set(owner.uid, list);
    }
    this.#enqueue(`${change.object.metadata.namespace}/${owner.name}`);
  }

  #enqueue(key: string): void {
    if (this.#closed) return;
    this.#queue.add(key);
    if (this.#draining) return;
    this.#draining = true;
    setImmediate(() => {
      this.#draining = false;
      const keys = [...this.#queue];
      this.#queue.clear();
      for (const next of keys) {
        try {
          this.#sync(next);
        } catch (error) {
          console.error(`fake job controller: ${next}:`, error);
        }
      }
    });
  }

  #after(key: string, ms: number): void {
    clearTimeout(this.#timers.get(key));
    this.#timers.set(
      key,
      setTimeout(() => this.#enqueue(key), Math.max(0, ms)),
    );
  }

  #sync(key: string): void {
    const [namespace = '', name = ''] = key.split('/');
    const job = this.#store.get('Job', namespace, name) as unknown as V1Job | undefined;
    if (!job?.spec || !job.metadata?.uid) {
      clearTimeout(this.#timers.get(key));
      this.#timers.delete(key);
      return;
    }
    if (job.metadata.deletionTimestamp) {
      // Being deleted (Foreground): its pods still lose the finalizer once they are done.
      for (const pod of this.#store.scan('Pod', namespace)) {
        const owned = pod as unknown as V1Pod;
        if (controllerOf(pod)?.uid === job.metadata.uid && countable(owned)) this.#release(owned);
      }
      return;
    }
    // Another controller (e.g. MultiKueue) owns this Job's status and pods.
    const managedBy = job.spec.managedBy;
    if (managedBy && managedBy !== 'kubernetes.io/job-controller') return;
    const uid = job.metadata.uid;
    const spec = job.spec;
    const status = job.status ?? {};
    const conditions = [...(status.conditions ?? [])];
    const has = (type: string) => conditions.some((c) => c.type === type && c.status === 'True');
    const pods = [...this.#store.scan('Pod', namespace)]
      .filter((pod) => controllerOf(pod)?.uid === uid)
      .map((pod) => structuredClone(pod)) as unknown as V1Pod[];
    const terminating = pods.filter((pod) => !isTerminal(pod) && pod.metadata?.deletionTimestamp);
    const active = pods.filter((pod) => !isTerminal(pod) && !pod.metadata?.deletionTimestamp);

    if (has('Complete') || has('Failed')) {
      for (const pod of active) this.#deletePod(job, pod);
      for (const pod of pods) if (countable(pod)) this.#release(pod);
      this.#ttl(key, job, conditions);
      return;
    }

    const tracking = this.#tracking.get(uid) ?? {
      counted: new Set<string>(),
      succeeded: status.succeeded ?? 0,
      failed: status.failed ?? 0,
    };
    this.#tracking.set(uid, tracking);
    // A pod deleted before a node took it has no kubelet to finish it: its finalizer goes now.
    for (const pod of pods) if (!isTerminal(pod) && countable(pod)) this.#release(pod);
    const finished = [...pods.filter(isTerminal), ...(this.#vanished.get(uid) ?? [])];
    this.#vanished.delete(uid);
    for (const pod of finished) {
      const podUid = pod.metadata?.uid ?? '';
      if (tracking.counted.has(podUid)) continue;
      tracking.counted.add(podUid);
      this.#release(pod);
      if (pod.status?.phase === 'Succeeded') {
        tracking.succeeded += 1;
        continue;
      }
      const action = isTerminal(pod)
        ? matchPolicy(spec.podFailurePolicy?.rules ?? [], pod)
        : undefined;
      if (action?.action === 'Ignore') continue;
      tracking.failed += 1;
      if (action?.action === 'FailJob' && !tracking.failure) {
        tracking.failure = { reason: 'PodFailurePolicy', message: action.message };
      }
    }
    const now = Date.now();
    const completions = spec.completions ?? 1;
    if (!tracking.failure && tracking.failed > (spec.backoffLimit ?? 6)) {
      tracking.failure = {
        reason: 'BackoffLimitExceeded',
        message: 'Job has reached the specified backoff limit',
      };
    }
    const startTime = status.startTime ? Date.parse(String(status.startTime)) : undefined;
    if (
      !tracking.failure &&
      startTime !== undefined &&
      spec.activeDeadlineSeconds &&
      !spec.suspend
    ) {
      const deadline = startTime + spec.activeDeadlineSeconds * 1000;
      if (now >= deadline) {
        tracking.failure = {
          reason: 'DeadlineExceeded',
          message: 'Job was active longer than specified deadline',
        };
      } else this.#after(key, deadline - now + 5);
    }
    const existingTarget = conditions.find(
      (c) => c.type === 'FailureTarget' && c.status === 'True',
    );
    const failure = existingTarget
      ? { reason: existingTarget.reason ?? '', message: existingTarget.message ?? '' }
      : tracking.failure;
    const success = !failure && tracking.succeeded >= completions;

    let next = structuredClone(status);
    next.succeeded = tracking.succeeded;
    next.failed = tracking.failed;
    next.uncountedTerminatedPods = {};
    const setCondition = (
      type: string,
      conditionStatus: 'True' | 'False',
      reason: string,
      message: string,
    ) => {
      const index = conditions.findIndex((c) => c.type === type);
      const condition = {
        type,
        status: conditionStatus,
        lastProbeTime: timestamp() as unknown as Date,
        lastTransitionTime: timestamp() as unknown as Date,
        reason,
        message,
      } satisfies V1JobCondition;
      if (index >= 0) {
        if (conditions[index]?.status === conditionStatus && conditions[index]?.reason === reason)
          return;
        conditions[index] = condition;
      } else conditions.push(condition);
    };

    if (failure || success) {
      // v1.28: only a podFailurePolicy failure waits for the pods (FailureTarget first); a
      // deadline or the backoff limit fails the Job at once while its pods are still stopping.
      const waitsForPods = failure?.reason === 'PodFailurePolicy';
      if (waitsForPods && failure) {
        setCondition('FailureTarget', 'True', failure.reason, failure.message);
      }
      next.conditions = conditions;
      next.active = 0;
      next.ready = 0;
      next.terminating = terminating.length + active.length;
      this.#writeStatus(job, next);
      for (const pod of active) this.#deletePod(job, pod);
      if (waitsForPods && terminating.length + active.length > 0) return;
      // Every pod has stopped: the terminal condition.
      const written = this.#store.get('Job', namespace, name) as unknown as V1Job;
      next = structuredClone(written.status ?? {});
      const finalConditions = [...(next.conditions ?? [])];
      conditions.splice(0, conditions.length, ...finalConditions);
      if (failure) {
        setCondition('Failed', 'True', failure.reason, failure.message);
        this.#events.record(
          written as unknown as KubeObject,
          'Warning',
          failure.reason,
          failure.message,
          'job-controller',
        );
      } else {
        setCondition(
          'Complete',
          'True',
          'CompletionsReached',
          'Reached expected number of succeeded pods',
        );
        next.completionTime = timestamp() as unknown as Date;
        this.#events.record(
          written as unknown as KubeObject,
          'Normal',
          'Completed',
          'Job completed',
          'job-controller',
        );
      }
      next.conditions = conditions;
      if (waitsForPods || success) next.terminating = 0;
      this.#writeStatus(written, next);
      return;
    }

    if (spec.suspend) {
      for (const pod of active) this.#deletePod(job, pod);
      if (!has('Suspended')) {
        setCondition('Suspended', 'True', 'JobSuspended', 'Job suspended');
        this.#events.record(
          job as unknown as KubeObject,
          'Normal',
          'Suspended',
          'Job suspended',
          'job-controller',
        );
      }
      delete next.startTime;
      next.active = 0;
      next.ready = 0;
      next.conditions = conditions;
      next.terminating = terminating.length + active.length;
      this.#writeStatus(job, next);
      return;
    }
    if (has('Suspended')) {
      setCondition('Suspended', 'False', 'JobResumed', 'Job resumed');
      this.#events.record(
        job as unknown as KubeObject,
        'Normal',
        'Resumed',
        'Job resumed',
        'job-controller',
      );
    }
    if (!next.startTime) {
      next.startTime = timestamp() as unknown as Date;
      if (spec.activeDeadlineSeconds) this.#after(key, spec.activeDeadlineSeconds * 1000 + 5);
    }
    // With a podFailurePolicy (the policy needs the pod's final state), or podReplacementPolicy
    // Failed, a replacement comes only once the previous pod is gone.
    const waitForTerminating =
      (spec.podReplacementPolicy === 'Failed' || spec.podFailurePolicy !== undefined) &&
      pods.some((pod) => pod.metadata?.deletionTimestamp);
    const wanted =
      Math.min(spec.parallelism ?? 1, completions - tracking.succeeded) - active.length;
    const created: V1Pod[] = [];
    for (let i = 0; i < wanted && !waitForTerminating; i += 1) {
      const pod = this.#createPod(job);
      if (!pod) break;
      created.push(pod);
    }
    const all = [...active, ...created];
    next.active = all.length;
    next.ready = all.filter((pod) =>
      pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    ).length;
    next.terminating = terminating.length;
    if (conditions.length > 0) next.conditions = conditions;
    this.#writeStatus(job, next);
  }

  #writeStatus(job: V1Job, status: V1Job['status']): void {
    this.#store.mutate('Job', job.metadata?.namespace, job.metadata?.name ?? '', (object) => {
      if (object.metadata.uid !== job.metadata?.uid) return false;
      const cleaned = JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
      if (sameJson(cleaned, object.status)) return false;
      object.status = cleaned;
      return true;
    });
  }

  /** A pod from the template, or undefined after a FailedCreate event (the next sync retries). */
  #createPod(job: V1Job): V1Pod | undefined {
    const template = structuredClone(job.spec?.template ?? {});
    const name = job.metadata?.name ?? '';
    const pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        generateName: `${name}-`,
        namespace: job.metadata?.namespace,
        labels: template.metadata?.labels ?? {},
        ...(template.metadata?.annotations ? { annotations: template.metadata.annotations } : {}),
        finalizers: [JOB_TRACKING_FINALIZER],
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name,
            uid: job.metadata?.uid,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: template.spec,
    } as unknown as KubeObject;
    let created: V1Pod;
    try {
      created = this.#api.create(POD, job.metadata?.namespace, pod, false) as unknown as V1Pod;
    } catch (error) {
      this.#events.record(
        job as unknown as KubeObject,
        'Warning',
        'FailedCreate',
        `Error creating: ${(error as Error).message}`,
        'job-controller',
      );
      this.#after(`${job.metadata?.namespace}/${name}`, 1000);
      return undefined;
    }
    this.#events.record(
      job as unknown as KubeObject,
      'Normal',
      'SuccessfulCreate',
      `Created pod: ${created.metadata?.name}`,
      'job-controller',
    );
    return created;
  }

  /** Outside the store's change delivery, so every watcher sees changes in their order. */
  #releaseSoon(pod: V1Pod): void {
    setImmediate(() => {
      if (!this.#closed) this.#release(pod);
    });
  }

  /** Drops the tracking finalizer; a pod already being deleted then goes. */
  #release(pod: V1Pod): void {
    const namespace = pod.metadata?.namespace;
    const name = pod.metadata?.name ?? '';
    let gone = false;
    this.#store.mutate('Pod', namespace, name, (object) => {
      if (object.metadata.uid !== pod.metadata?.uid) return false;
      const finalizers = (object.metadata.finalizers ?? []) as string[];
      if (!finalizers.includes(JOB_TRACKING_FINALIZER)) return false;
      const rest = finalizers.filter((f) => f !== JOB_TRACKING_FINALIZER);
      if (rest.length > 0) object.metadata.finalizers = rest;
      else delete object.metadata.finalizers;
      gone = rest.length === 0 && Boolean(object.metadata.deletionTimestamp);
      return true;
    });
    if (gone) this.#store.remove('Pod', namespace, name);
  }

  #deletePod(job: V1Job, pod: V1Pod): void {
    try {
      this.#api.delete(POD, pod.metadata?.namespace, pod.metadata?.name ?? '', {});
      this.#events.record(
        job as unknown as KubeObject,
        'Normal',
        'SuccessfulDelete',
        `Deleted pod: ${pod.metadata?.name}`,
        'job-controller',
      );
    } catch {
      // Already gone.
    }
  }

  #ttl(key: string, job: V1Job, conditions: V1JobCondition[]): void {
    const ttl = job.spec?.ttlSecondsAfterFinished;
    if (ttl === undefined || ttl === null) return;
    const finished = conditions.find(
      (c) => (c.type === 'Complete' || c.type === 'Failed') && c.status === 'True',
    );
    const at = Date.parse(String(finished?.lastTransitionTime)) + ttl * 1000;
    if (Date.now() < at) {
      this.#after(key, at - Date.now());
      return;
    }
    try {
      this.#api.delete(JOB, job.metadata?.namespace, job.metadata?.name ?? '', {
        propagationPolicy: 'Background',
      });
    } catch {
      // Deleted meanwhile.
    }
  }
}

export function controllerOf(object: KubeObject): { name: string; uid: string } | undefined {
  const references = (object.metadata.ownerReferences ?? []) as {
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  }[];
  return references.find((reference) => reference.controller && reference.kind === 'Job');
}

/** Done with: terminal, or deleted while no node had it. */
function countable(pod: V1Pod): boolean {
  return isTerminal(pod) || (Boolean(pod.metadata?.deletionTimestamp) && !pod.spec?.nodeName);
}

function isTerminal(pod: V1Pod): boolean {
  return pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed';
}

function matchPolicy(
  rules: V1PodFailurePolicyRule[],
  pod: V1Pod,
): { action: string; message: string } | undefined {
  const where = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
  for (const [index, rule] of rules.entries()) {
    if (rule.onExitCodes) {
      const requirement = rule.onExitCodes;
      for (const status of [
        ...(pod.status?.initContainerStatuses ?? []),
        ...(pod.status?.containerStatuses ?? []),
      ]) {
        const exitCode = status.state?.terminated?.exitCode;
        if (exitCode === undefined || exitCode === 0) continue;
        if (requirement.containerName && requirement.containerName !== status.name) continue;
        const listed = requirement.values.includes(exitCode);
        if (requirement.operator === 'In' ? listed : !listed) {
          return {
            action: rule.action,
            message: `Container ${status.name} for pod ${where} failed with exit code ${exitCode} matching ${rule.action} rule at index ${index}`,
          };
        }
      }
    }
    for (const pattern of rule.onPodConditions ?? []) {
      if (
        pod.status?.conditions?.some(
          (c) => c.type === pattern.type && c.status === (pattern.status ?? 'True'),
        )
      ) {
        return {
          action: rule.action,
          message: `Pod ${where} has condition ${pattern.type} matching ${rule.action} rule at index ${index}`,
        };
      }
    }
  }
  return undefined;
}

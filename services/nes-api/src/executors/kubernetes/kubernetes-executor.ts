/**
 * The Kubernetes executor: one batch/v1 Job per run (job-builder.ts), tracked in the manner of a
 * controller. Informers on NES's Jobs and pods (label-filtered, restarted with back-off) feed an
 * index by run id (run-index.ts); any change only queues the run for a reconcile
 * (reconcile-queue.ts), which re-reads the index and asks the pure mapper (run-state.ts) what to
 * report; a reconcile that fails is tried again with back-off. A full re-list runs at start and
 * periodically, so a missed event is repaired and a vanished Job is noticed.
 *
 * Several API replicas may run at once. Every replica watches and reports what the cluster
 * states (a Job's conditions, a runner's exit): the scheduler applies each report as a forward-only
 * conditional write, so duplicates are harmless. Side effects happen only on the replica holding
 * the Lease (lease.ts): NES's own judgements (pending too long, a config error, a lost Job),
 * following the runner's log (progress and log lines: log-follower.ts), archiving the log to the
 * output store (pod-log-archive.ts), and deleting finished Jobs after a retention time.
 *
 * Shutting the API down never stops runs: they go on in the cluster, and the next replica to hold
 * the lease picks them up.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  type V1Job,
  type V1Pod,
  type V1PodTemplate,
} from '@kubernetes/client-node';
import { DEFAULT_KERNEL } from '@nes/runner';
import type { ObjectStore } from '@nes/stores/local';
import type { Run } from '../../runs/run-model.ts';
import type { ComponentLog, LogFields } from '../../service-log.ts';
import type { Executor, ExecutorObservation, ExecutorUpdate } from '../executor.ts';
import { UpdateListeners } from '../update-listeners.ts';
import { ResilientInformer } from './informer.ts';
import {
  ANNOTATIONS,
  buildRunJob,
  DEADLINE_ENV,
  installationLabels,
  jobNameForRun,
  nesJobIssues,
  RUNNER_CONTAINER,
} from './job-builder.ts';
import { describeError, httpStatus, labelSelector } from './kube-client.ts';
import { LeaseElector } from './lease.ts';
import { drained, LogFollower } from './log-follower.ts';
import { archivePodLog } from './pod-log-archive.ts';
import type { LogLine } from './pod-logs.ts';
import { ReconcileQueue } from './reconcile-queue.ts';
import { podsOf, RunIndex, type TrackedRun } from './run-index.ts';
import { CANCEL_ANNOTATION, judgeRunState, observedState } from './run-state.ts';
import { type KubernetesRunSettings, KubernetesSettingsError } from './settings.ts';

export interface KubernetesExecutorOptions {
  kc: KubeConfig;
  settings: KubernetesRunSettings;
  /** A PodTemplate in the runs namespace used as the base of every run's pod. */
  podTemplateName?: string | null;
  /** Runs unscheduled or pulling their image this long fail as infra. Default 600. */
  pendingTimeoutSeconds?: number;
  /** The Lease that elects the replica doing side effects; null: this replica alone. */
  leaseName?: string | null;
  /** Where the lease lives; default the runs namespace. */
  leaseNamespace?: string;
  leaseDurationSeconds?: number;
  identity?: string;
  /** The output store pod logs are archived to; null: not archived. */
  artifacts?: ObjectStore | null;
  /** Kernel names the runner image provides. Default [DEFAULT_KERNEL]. */
  kernels?: string[];
  /** A Job deleted without a known end is failed as lost after this. Default 5000. */
  lostGraceMs?: number;
  /** Full re-list period. Default 60000. */
  resyncIntervalMs?: number;
  /** How often pending runs are judged again (their timeouts). Default 1000. */
  tickIntervalMs?: number;
  /** Finished Jobs are deleted this long after they finished (and their log archived). Default 600. */
  finishedJobRetentionSeconds?: number;
  /**
   * Follow runner logs live (progress and log events). Default true; without it a run reports
   * only its states, and its log is still archived when it ends.
   */
  followLogs?: boolean;
  /** start() fails when the first lists have not succeeded within this. Default 30000. */
  startTimeoutMs?: number;
  /** Log stream reconnect back-off. Default 250 ms. */
  logRetryMs?: number;
  /**
   * The run's log lines already stored (by another replica, or before a restart): following
   * resumes after them instead of reporting them twice.
   */
  storedLog?: (runId: string) => Promise<LogLine[]>;
  now?: () => number;
  log?: ComponentLog;
}

export interface KubernetesExecutorStats {
  jobWatchReconnects: number;
  podWatchReconnects: number;
  watchErrors: number;
  logReconnects: number;
  /** Reconciles tried again after an error. */
  reconcileRequeues: number;
  leader: boolean;
}

export class KubernetesExecutor implements Executor {
  readonly name = 'kubernetes';
  readonly #o: KubernetesExecutorOptions;
  readonly #settings: KubernetesRunSettings;
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #updates = new UpdateListeners((level, message, fields) =>
    this.#log(level, message, fields),
  );
  readonly #index: RunIndex;
  readonly #queue: ReconcileQueue<string>;
  readonly #logs: LogFollower;
  readonly #jobs: ResilientInformer<V1Job>;
  readonly #pods: ResilientInformer<V1Pod>;
  readonly #lease: LeaseElector | null;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(options: KubernetesExecutorOptions) {
    this.#o = options;
    this.#settings = { ...options.settings };
    this.#namespace = options.settings.namespace;
    this.#batch = options.kc.makeApiClient(BatchV1Api);
    this.#core = options.kc.makeApiClient(CoreV1Api);
    const log = (level: 'info' | 'warn' | 'error', message: string, fields?: LogFields) =>
      this.#log(level, message, fields);
    this.#queue = new ReconcileQueue<string>({
      reconcile: (runId) => this.#reconcile(runId),
      describe: (runId) => `run ${runId}`,
      fields: (runId) => ({ runId }),
      log,
    });
    this.#index = new RunIndex({
      installation: options.settings.installation ?? null,
      now: () => this.#now(),
      onChange: (runId) => this.#queue.add(runId),
    });
    this.#logs = new LogFollower({
      kc: options.kc,
      namespace: this.#namespace,
      emit: (update) => this.#updates.emit(update),
      storedLog: options.storedLog,
      retryMs: options.logRetryMs,
      stopped: () => this.#stopped,
      log,
    });
    const selector = labelSelector(installationLabels(options.settings.installation));
    const namespace = this.#namespace;
    const index = this.#index;
    this.#jobs = new ResilientInformer<V1Job>({
      kc: options.kc,
      path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
      labelSelector: selector,
      list: (labelSelector) => this.#batch.listNamespacedJob({ namespace, labelSelector }),
      handlers: {
        upsert: (job) => index.upsertJob(job),
        remove: (job) => index.removeJob(job),
        listed: (jobs) => index.listedJobs(jobs),
      },
      log,
    });
    this.#pods = new ResilientInformer<V1Pod>({
      kc: options.kc,
      path: `/api/v1/namespaces/${namespace}/pods`,
      labelSelector: selector,
      list: (labelSelector) => this.#core.listNamespacedPod({ namespace, labelSelector }),
      handlers: {
        upsert: (pod) => index.upsertPod(pod),
        remove: (pod) => index.removePod(pod),
        listed: (pods) => index.listedPods(pods),
      },
      log,
    });
    this.#lease = options.leaseName
      ? new LeaseElector({
          api: options.kc.makeApiClient(CoordinationV1Api),
          namespace: options.leaseNamespace ?? namespace,
          name: options.leaseName,
          identity: options.identity ?? `${hostname()}-${randomBytes(4).toString('hex')}`,
          ...(options.leaseDurationSeconds !== undefined
            ? { leaseDurationSeconds: options.leaseDurationSeconds }
            : {}),
          log,
          onChange: (leader) => {
            // Only the holder follows logs: a replica that lost the lease stops at once.
            if (!leader) {
              for (const tracked of this.#index.runs()) {
                tracked.follower?.abort.abort();
                tracked.follower = null;
              }
            }
            this.#queueAll();
          },
        })
      : null;
  }

  #log(level: 'info' | 'warn' | 'error', message: string, fields?: LogFields): void {
    this.#o.log?.(level, message, fields);
  }

  #now(): number {
    return this.#o.now?.() ?? Date.now();
  }

  /** Holds the lease (or runs alone). */
  get leader(): boolean {
    return this.#lease === null || this.#lease.leader;
  }

  stats(): KubernetesExecutorStats {
    return {
      jobWatchReconnects: this.#jobs.reconnects,
      podWatchReconnects: this.#pods.reconnects,
      watchErrors: this.#jobs.errors + this.#pods.errors,
      logReconnects: this.#logs.reconnects,
      reconcileRequeues: this.#queue.requeues,
      leader: this.leader,
    };
  }

  /**
   * Reads the PodTemplate, starts the informers and the election, and resolves once both
   * informers have listed (observe() answers from a complete view from then on).
   */
  async start(): Promise<void> {
    if (this.#o.podTemplateName) {
      try {
        this.#settings.podTemplate = await this.#readPodTemplate();
      } catch (error) {
        throw new KubernetesSettingsError(
          `NES_K8S_POD_TEMPLATE: cannot read PodTemplate ${this.#o.podTemplateName} in namespace ${this.#namespace}: ${describeError(error)}`,
        );
      }
    }
    this.#jobs.start();
    this.#pods.start();
    const limitMs = this.#o.startTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const synced = await Promise.race([
      Promise.all([this.#jobs.waitSynced(), this.#pods.waitSynced()]).then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), limitMs);
      }),
    ]);
    clearTimeout(timer);
    if (!synced) {
      const why = this.#jobs.lastError ?? this.#pods.lastError ?? 'no answer';
      await Promise.all([this.#jobs.stop(), this.#pods.stop()]);
      throw new Error(
        `the Kubernetes API at ${this.#o.kc.getCurrentCluster()?.server} did not list the Jobs and pods of namespace ${this.#namespace} within ${Math.round(limitMs / 1000)} s: ${why}`,
      );
    }
    await this.#lease?.start();
    const every = (ms: number, step: () => void) => {
      const timer = setInterval(step, ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#o.tickIntervalMs ?? 1000, () => this.#tick());
    every(this.#o.resyncIntervalMs ?? 60_000, () => void this.resync());
  }

  #readPodTemplate(): Promise<V1PodTemplate> {
    return this.#core.readNamespacedPodTemplate({
      name: this.#o.podTemplateName as string,
      namespace: this.#namespace,
    });
  }

  /**
   * The PodTemplate as it is now: read again for every Job, so an operator's change applies to
   * the next run without restarting the API. When the read fails the last copy read is used.
   */
  async #currentSettings(): Promise<KubernetesRunSettings> {
    if (!this.#o.podTemplateName) return this.#settings;
    try {
      this.#settings.podTemplate = await this.#readPodTemplate();
    } catch (error) {
      this.#log(
        'warn',
        `PodTemplate ${this.#o.podTemplateName}: ${describeError(error)}; using the copy read before`,
      );
    }
    return this.#settings;
  }

  // Executor -----------------------------------------------------------------------------------

  async kernels(): Promise<string[]> {
    return this.#o.kernels ?? [DEFAULT_KERNEL];
  }

  onUpdate(listener: (update: ExecutorUpdate) => void): void {
    this.#updates.add(listener);
  }

  /** Creates the run's Job; a 409 means it exists (a relaunch): it is adopted. */
  async launch(run: Run): Promise<void> {
    const job = buildRunJob(run, await this.#currentSettings());
    const issues = nesJobIssues(job);
    if (issues.length > 0) throw new KubernetesSettingsError(issues.join('; '));
    withDeadlineAt(job, this.#now());
    const tracked = this.#index.track(run.id);
    if (run.cancelRequested) tracked.cancelRequested = true;
    const name = job.metadata?.name as string;
    try {
      const created = await this.#batch.createNamespacedJob({
        namespace: this.#namespace,
        body: job,
      });
      this.#index.upsertJob(created);
      return;
    } catch (error) {
      if (httpStatus(error) !== 409) {
        throw new Error(`creating Job ${name} in ${this.#namespace}: ${describeError(error)}`);
      }
    }
    const existing = await this.#batch.readNamespacedJob({ name, namespace: this.#namespace });
    const owner = existing.metadata?.annotations?.[ANNOTATIONS.runId];
    if (owner !== run.id) {
      throw new Error(`Job ${name} already exists for another run (${owner ?? 'not NES'})`);
    }
    this.#log('info', `run ${run.id}: Job ${name} already exists; adopting it`, {
      runId: run.id,
    });
    this.#index.upsertJob(existing);
  }

  /**
   * Marks the Job (so every replica reads the intent), then deletes it with Background
   * propagation: the runner gets SIGTERM, saves the notebook as cancelled and exits 130 within
   * the grace period.
   */
  async cancel(runId: string): Promise<void> {
    const tracked = this.#index.track(runId);
    if (tracked.reported === 'finished') return;
    tracked.cancelRequested = true;
    // Once sent, a cancel is not repeated (the scheduler asks again on every reconcile).
    if (tracked.cancelSent) return;
    tracked.cancelSent = true;
    const name = tracked.jobName;
    const namespace = this.#namespace;
    try {
      await this.#batch.patchNamespacedJob(
        { name, namespace, body: { metadata: { annotations: { [CANCEL_ANNOTATION]: 'true' } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (error) {
      if (httpStatus(error) !== 404) {
        this.#log('warn', `run ${runId}: marking Job ${name} cancelled: ${describeError(error)}`, {
          runId,
        });
      }
    }
    try {
      await this.#batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
    } catch (error) {
      if (httpStatus(error) !== 404) {
        tracked.cancelSent = false; // the next reconcile asks again
        throw error;
      }
    }
    this.#queue.add(runId);
  }

  async observe(runId: string): Promise<ExecutorObservation> {
    const tracked = this.#index.get(runId);
    if (tracked?.reported === 'finished') return { runId, state: 'finished' };
    if (tracked?.job) {
      return { runId, state: observedState(tracked.job, podsOf(tracked)) };
    }
    // The Job is gone but its pod is still stopping (a cancelled runner saving the notebook):
    // the run's end is on its way.
    if (tracked && [...tracked.pods.keys()].some((name) => !tracked.gonePods.has(name))) {
      return { runId, state: 'running' };
    }
    // Not in the cache: ask the API server before saying the run is unknown.
    const name = tracked?.jobName ?? jobNameForRun(runId);
    try {
      const job = await this.#batch.readNamespacedJob({ name, namespace: this.#namespace });
      this.#index.upsertJob(job);
      return { runId, state: observedState(job, tracked ? podsOf(tracked) : []) };
    } catch (error) {
      if (httpStatus(error) !== 404) return { runId, state: 'pending' };
    }
    // Only the lease holder declares a run lost; the others wait for its verdict.
    return { runId, state: this.leader ? 'unknown' : 'pending' };
  }

  /** Stops watching (runs go on in the cluster) and releases the lease. */
  async shutdown(_graceMs: number): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    const followers = [...this.#index.runs()].flatMap((r) => (r.follower ? [r.follower] : []));
    for (const follower of followers) follower.abort.abort();
    await Promise.all(followers.map((f) => f.done));
    // Reconciles in progress (an archive being written) finish; none starts any more.
    await this.#queue.stop();
    await Promise.all([this.#jobs.stop(), this.#pods.stop()]);
    await this.#lease?.stop();
  }

  /** A full re-list of Jobs and pods; what the watches missed is repaired. */
  async resync(): Promise<void> {
    if (this.#stopped) return;
    try {
      const selector = labelSelector(installationLabels(this.#settings.installation));
      const [jobs, pods] = await Promise.all([
        this.#batch.listNamespacedJob({ namespace: this.#namespace, labelSelector: selector }),
        this.#core.listNamespacedPod({ namespace: this.#namespace, labelSelector: selector }),
      ]);
      this.#index.listedJobs(jobs.items);
      for (const job of jobs.items) this.#index.upsertJob(job);
      this.#index.listedPods(pods.items);
      for (const pod of pods.items) this.#index.upsertPod(pod);
    } catch (error) {
      this.#log('warn', `re-list: ${describeError(error)}`);
    }
  }

  // The reconcile loop ---------------------------------------------------------------------------

  /** The periodic pass: pending runs' timeouts, finished runs' archive and retention. */
  #tick(): void {
    this.#queueAll();
  }

  /** Every run with something left to do here (finished ones only on the lease holder). */
  #queueAll(): void {
    for (const tracked of this.#index.runs()) {
      if (tracked.reported !== 'finished' || this.leader) this.#queue.add(tracked.runId);
    }
  }

  /**
   * Brings one run forward: reports its state once, and on the lease holder follows its log,
   * makes NES's own judgements, archives the log and deletes the Job. Throws when a call to the
   * cluster or the store failed: the queue tries again with back-off.
   */
  async #reconcile(runId: string): Promise<void> {
    const tracked = this.#index.get(runId);
    if (!tracked || this.#stopped) return;
    const now = this.#now();
    if (tracked.reported !== 'finished') await this.#reportState(tracked, now);
    if (tracked.reported === 'finished') await this.#afterFinish(tracked, now);
  }

  async #reportState(tracked: TrackedRun, now: number): Promise<void> {
    // Not seen yet at all (launch in flight, or a cancel of a run never launched here).
    if (tracked.job === null && tracked.jobGoneAt === null && tracked.pods.size === 0) return;
    const options = {
      pendingTimeoutSeconds: this.#o.pendingTimeoutSeconds ?? 600,
      cancelRequested: tracked.cancelRequested,
    };
    const objects = { runId: tracked.runId, job: tracked.job, pods: podsOf(tracked) };
    let judged = judgeRunState(objects, now, options);
    if (this.#o.followLogs !== false && this.leader) this.#logs.follow(tracked);
    if (judged === null) return;
    const { update } = judged;
    if (update.type === 'running') {
      if (tracked.reported === 'none') {
        tracked.reported = 'running';
        this.#updates.emit(update);
      }
      return;
    }
    if (update.type !== 'finished') return;
    if (judged.judged) {
      if (!this.leader) return;
      if (update.error?.ename === 'RunLost') {
        const gone = tracked.jobGoneAt ?? now;
        if (now - gone < (this.#o.lostGraceMs ?? 5000)) return;
      }
      if (tracked.job !== null) {
        // Detail for the message: the scheduler's and the Job controller's events.
        const events = await this.#eventsFor(tracked);
        judged = judgeRunState({ ...objects, events }, now, options) ?? judged;
      }
    }
    // Progress and log lines come before the end (the stream ends with the container).
    await drained(tracked);
    tracked.reported = 'finished';
    tracked.finishedAt = now;
    const final = judged.update as Extract<ExecutorUpdate, { type: 'finished' }>;
    const saved = tracked.reader.outputUri;
    // The location as the runner reported its saves (the local executor's form too).
    this.#updates.emit(saved && final.outputUri ? { ...final, outputUri: saved } : final);
    // NES ended the run: stop what Kubernetes would keep retrying.
    if (judged.judged && tracked.job !== null) tracked.deleteOwed = true;
  }

  async #eventsFor(tracked: TrackedRun): Promise<CoreV1Event[]> {
    const names = [tracked.jobName, ...podsOf(tracked).map((p) => p.metadata?.name)];
    const events: CoreV1Event[] = [];
    for (const name of names) {
      if (!name) continue;
      try {
        const list = await this.#core.listNamespacedEvent({
          namespace: this.#namespace,
          fieldSelector: `involvedObject.name=${name}`,
        });
        events.push(...list.items);
      } catch {
        // Events are detail only.
      }
    }
    return events;
  }

  /** Deletes the run's Job (its pods follow); gone already is done. */
  async #deleteJob(tracked: TrackedRun): Promise<void> {
    try {
      await this.#batch.deleteNamespacedJob({
        name: tracked.jobName,
        namespace: this.#namespace,
        propagationPolicy: 'Background',
      });
    } catch (error) {
      if (httpStatus(error) !== 404) throw new Error(`deleting Job: ${describeError(error)}`);
    }
  }

  /**
   * Lease holder: the Job NES ended is deleted, the log archived once, and the Job deleted after
   * the retention time; a run with nothing left in the cluster is forgotten.
   */
  async #afterFinish(tracked: TrackedRun, now: number): Promise<void> {
    const artifacts = this.#o.artifacts;
    const gone = tracked.jobGoneAt !== null && tracked.pods.size === tracked.gonePods.size;
    if (gone && (!this.leader || tracked.archived || !artifacts)) {
      // Nothing of the run is left in the cluster (and its log is archived): forget it.
      this.#index.delete(tracked.runId);
      this.#queue.forget(tracked.runId);
      return;
    }
    if (!this.leader || this.#stopped) return;
    if (tracked.deleteOwed) {
      if (tracked.job !== null && tracked.jobGoneAt === null) await this.#deleteJob(tracked);
      tracked.deleteOwed = false;
    }
    if (!tracked.archived && artifacts) {
      await archivePodLog(
        {
          kc: this.#o.kc,
          batch: this.#batch,
          namespace: this.#namespace,
          artifacts,
          log: (level, message, fields) => this.#log(level, message, fields),
        },
        tracked,
      );
      // Look again: the Job may be gone by now, or its retention over.
      this.#queue.add(tracked.runId);
      return;
    }
    const retentionMs = (this.#o.finishedJobRetentionSeconds ?? 600) * 1000;
    if (
      tracked.job !== null &&
      tracked.jobGoneAt === null &&
      tracked.finishedAt !== null &&
      now - tracked.finishedAt >= retentionMs
    ) {
      await this.#deleteJob(tracked);
      tracked.jobGoneAt = now;
    }
  }
}

/**
 * The Job's deadline as a time (NES_DEADLINE_AT for the runner): its activeDeadlineSeconds count
 * from about now, when the Job is created, and include the time spent pending. The runner stops
 * itself a little before it, so a run that waited long for a node still ends as timed out in its
 * notebook and manifest, not as cancelled by the Job controller's SIGTERM.
 */
function withDeadlineAt(job: V1Job, now: number): void {
  const seconds = job.spec?.activeDeadlineSeconds;
  const runner = job.spec?.template.spec?.containers.find((c) => c.name === RUNNER_CONTAINER);
  if (!seconds || !runner) return;
  runner.env = [
    ...(runner.env ?? []).filter((e) => e.name !== DEADLINE_ENV),
    { name: DEADLINE_ENV, value: new Date(now + seconds * 1000).toISOString() },
  ];
}

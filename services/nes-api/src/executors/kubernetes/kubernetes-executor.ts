/**
 * The Kubernetes executor: one batch/v1 Job per run (job-builder.ts), tracked in the manner of a
 * controller. Informers on NES's Jobs and pods (label-filtered, restarted with back-off) feed an
 * index by run id; any change only marks the run dirty, and evaluating it re-reads the index and
 * asks the pure mapper (run-state.ts) what to report. A full re-list runs at start and
 * periodically, so a missed event is repaired and a vanished Job is noticed.
 *
 * Several API replicas may run at once. Every replica watches and reports what the cluster
 * states (a Job's conditions, a runner's exit): the scheduler applies each report as a forward-only
 * conditional write, so duplicates are harmless. Side effects happen only on the replica holding
 * the Lease (lease.ts): NES's own judgements (pending too long, a config error, a lost Job),
 * following the runner's log (progress and log lines), archiving the log to the output store,
 * and deleting finished Jobs after a retention time.
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
import type { ObjectStore } from '@nes/stores/local';
import type { Run } from '../../runs/run-model.ts';
import type { Executor, ExecutorObservation, ExecutorUpdate } from '../executor.ts';
import { UpdateListeners } from '../update-listeners.ts';
import { ResilientInformer } from './informer.ts';
import {
  ANNOTATIONS,
  buildRunJob,
  DEADLINE_ENV,
  INSTALLATION_LABEL,
  installationLabels,
  jobNameForRun,
  nesJobIssues,
  RUNNER_CONTAINER,
} from './job-builder.ts';
import { describeError, httpStatus, labelSelector } from './kube-client.ts';
import { LeaseElector } from './lease.ts';
import {
  LogCursor,
  type LogLine,
  LogRequestError,
  ReplayBoundary,
  streamPodLog,
  timeKey,
} from './pod-logs.ts';
import {
  CANCEL_ANNOTATION,
  disrupted,
  jobFinished,
  judgeRunState,
  observedState,
  runnerStatus,
} from './run-state.ts';
import { RunnerLogReader } from './runner-log.ts';
import { type KubernetesRunSettings, KubernetesSettingsError } from './settings.ts';

/** Set on a finished Job once its log is in the output store. */
export const LOGS_ARCHIVED_ANNOTATION = 'nes.dev/logs-archived';
/** Where the pod's log goes in the output store, beside the runner's own log. */
export const podLogKey = (runId: string) => `runs/${runId}/logs/pod.log`;
const MAX_KEPT_LOG_BYTES = 8 * 1024 * 1024;

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
  /** Kernel names the runner image provides. Default ['python3']. */
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
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
}

interface Follower {
  pod: string;
  abort: AbortController;
  done: Promise<void>;
  /** The server ended the stream (the container stopped): every line is in. */
  drained: boolean;
}

interface TrackedRun {
  runId: string;
  jobName: string;
  job: V1Job | null;
  /** When the Job was last seen gone (deleted, or missing from a re-list). */
  jobGoneAt: number | null;
  pods: Map<string, V1Pod>;
  /** Pods deleted from the cluster: their last state still says how the runner ended. */
  gonePods: Set<string>;
  cancelRequested: boolean;
  /** This process deleted the Job to cancel the run. */
  cancelSent: boolean;
  /** What was last reported ('running', 'finished'), so a state is reported once. */
  reported: 'none' | 'running' | 'finished';
  reader: RunnerLogReader;
  follower: Follower | null;
  logLines: string[];
  logBytes: number;
  archiving: Promise<void> | null;
  archived: boolean;
  finishedAt: number | null;
  /** Lines reported before this process followed the run (null: none, or not known yet). */
  replay: ReplayBoundary | null;
  /** The newest progress read while replaying, reported once the replay is over. */
  replayProgress: ExecutorUpdate | null;
  /** An evaluation is in progress; `again` asks for one more after it. */
  busy: boolean;
  again: boolean;
}

export interface KubernetesExecutorStats {
  jobWatchReconnects: number;
  podWatchReconnects: number;
  watchErrors: number;
  logReconnects: number;
  leader: boolean;
}

export class KubernetesExecutor implements Executor {
  readonly name = 'kubernetes';
  readonly #o: KubernetesExecutorOptions;
  readonly #settings: KubernetesRunSettings;
  readonly #batch: BatchV1Api;
  readonly #core: CoreV1Api;
  readonly #namespace: string;
  readonly #updates = new UpdateListeners((level, message) => this.#log(level, message));
  readonly #runs = new Map<string, TrackedRun>();
  readonly #jobs: ResilientInformer<V1Job>;
  readonly #pods: ResilientInformer<V1Pod>;
  readonly #lease: LeaseElector | null;
  readonly #dirty = new Set<string>();
  #flushScheduled = false;
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;
  #logReconnects = 0;

  constructor(options: KubernetesExecutorOptions) {
    this.#o = options;
    this.#settings = { ...options.settings };
    this.#namespace = options.settings.namespace;
    this.#batch = options.kc.makeApiClient(BatchV1Api);
    this.#core = options.kc.makeApiClient(CoreV1Api);
    const selector = labelSelector(installationLabels(options.settings.installation));
    const namespace = this.#namespace;
    const log = (level: 'info' | 'warn' | 'error', message: string) => this.#log(level, message);
    this.#jobs = new ResilientInformer<V1Job>({
      kc: options.kc,
      path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
      labelSelector: selector,
      list: (labelSelector) => this.#batch.listNamespacedJob({ namespace, labelSelector }),
      handlers: {
        upsert: (job) => this.#upsertJob(job),
        remove: (job) => this.#removeJob(job),
        listed: (jobs) => this.#listedJobs(jobs),
      },
      log,
    });
    this.#pods = new ResilientInformer<V1Pod>({
      kc: options.kc,
      path: `/api/v1/namespaces/${namespace}/pods`,
      labelSelector: selector,
      list: (labelSelector) => this.#core.listNamespacedPod({ namespace, labelSelector }),
      handlers: {
        upsert: (pod) => this.#upsertPod(pod),
        remove: (pod) => this.#removePod(pod),
        listed: (pods) => this.#listedPods(pods),
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
              for (const tracked of this.#runs.values()) {
                tracked.follower?.abort.abort();
                tracked.follower = null;
              }
            }
            this.#markAllDirty();
          },
        })
      : null;
  }

  #log(level: 'info' | 'warn' | 'error', message: string): void {
    this.#o.log?.(level, message);
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
      logReconnects: this.#logReconnects,
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
    every(this.#o.tickIntervalMs ?? 1000, () => this.#markAllDirty());
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
    return this.#o.kernels ?? ['python3'];
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
    const tracked = this.#track(run.id);
    if (run.cancelRequested) tracked.cancelRequested = true;
    const name = job.metadata?.name as string;
    try {
      const created = await this.#batch.createNamespacedJob({
        namespace: this.#namespace,
        body: job,
      });
      this.#upsertJob(created);
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
    this.#log('info', `run ${run.id}: Job ${name} already exists; adopting it`);
    this.#upsertJob(existing);
  }

  /**
   * Marks the Job (so every replica reads the intent), then deletes it with Background
   * propagation: the runner gets SIGTERM, saves the notebook as cancelled and exits 130 within
   * the grace period.
   */
  async cancel(runId: string): Promise<void> {
    const tracked = this.#track(runId);
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
        this.#log('warn', `run ${runId}: marking Job ${name} cancelled: ${describeError(error)}`);
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
    this.#markDirty(runId);
  }

  async observe(runId: string): Promise<ExecutorObservation> {
    const tracked = this.#runs.get(runId);
    if (tracked?.reported === 'finished') return { runId, state: 'finished' };
    if (tracked?.job) {
      return { runId, state: observedState(tracked.job, this.#podsOf(tracked)) };
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
      this.#upsertJob(job);
      return { runId, state: observedState(job, tracked ? this.#podsOf(tracked) : []) };
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
    const followers = [...this.#runs.values()].flatMap((r) => (r.follower ? [r.follower] : []));
    for (const follower of followers) follower.abort.abort();
    await Promise.all(followers.map((f) => f.done));
    await Promise.all([...this.#runs.values()].flatMap((r) => (r.archiving ? [r.archiving] : [])));
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
      this.#listedJobs(jobs.items);
      for (const job of jobs.items) this.#upsertJob(job);
      this.#listedPods(pods.items);
      for (const pod of pods.items) this.#upsertPod(pod);
    } catch (error) {
      this.#log('warn', `re-list: ${describeError(error)}`);
    }
  }

  // The index ----------------------------------------------------------------------------------

  #track(runId: string): TrackedRun {
    let tracked = this.#runs.get(runId);
    if (!tracked) {
      tracked = {
        runId,
        jobName: jobNameForRun(runId),
        job: null,
        jobGoneAt: null,
        pods: new Map(),
        gonePods: new Set(),
        cancelRequested: false,
        cancelSent: false,
        reported: 'none',
        reader: new RunnerLogReader(runId),
        follower: null,
        logLines: [],
        logBytes: 0,
        archiving: null,
        archived: false,
        finishedAt: null,
        replay: null,
        replayProgress: null,
        busy: false,
        again: false,
      };
      this.#runs.set(runId, tracked);
    }
    return tracked;
  }

  #runIdOf(object: V1Job | V1Pod): string | null {
    // Another installation's object (read by name, or listed before a label change): not ours.
    const installation = this.#settings.installation;
    if (installation && object.metadata?.labels?.[INSTALLATION_LABEL] !== installation) return null;
    return object.metadata?.annotations?.[ANNOTATIONS.runId] ?? null;
  }

  #upsertJob(job: V1Job): void {
    const runId = this.#runIdOf(job);
    if (runId === null) return;
    const tracked = this.#track(runId);
    if (tracked.job && olderThan(job, tracked.job)) return;
    tracked.job = job;
    tracked.jobGoneAt = null;
    if (job.metadata?.annotations?.[CANCEL_ANNOTATION] === 'true') tracked.cancelRequested = true;
    if (job.metadata?.annotations?.[LOGS_ARCHIVED_ANNOTATION] === 'true') tracked.archived = true;
    this.#markDirty(runId);
  }

  #removeJob(job: V1Job): void {
    const runId = this.#runIdOf(job);
    if (runId === null) return;
    const tracked = this.#track(runId);
    if (job.metadata?.annotations?.[CANCEL_ANNOTATION] === 'true') tracked.cancelRequested = true;
    // Keep the last state when it was final: a finished Job deleted later still says how it ended.
    if (!jobFinished(job)) tracked.job = null;
    else tracked.job = job;
    tracked.jobGoneAt = this.#now();
    this.#markDirty(runId);
  }

  #listedJobs(jobs: V1Job[]): void {
    const present = new Set(jobs.map((job) => this.#runIdOf(job)));
    for (const tracked of this.#runs.values()) {
      if (tracked.job && tracked.jobGoneAt === null && !present.has(tracked.runId)) {
        this.#removeJob(tracked.job);
      }
    }
  }

  #upsertPod(pod: V1Pod): void {
    const runId = this.#runIdOf(pod);
    const name = pod.metadata?.name;
    if (runId === null || !name) return;
    const tracked = this.#track(runId);
    const known = tracked.pods.get(name);
    if (known && olderThan(pod, known)) return;
    tracked.pods.set(name, pod);
    tracked.gonePods.delete(name);
    this.#markDirty(runId);
  }

  #removePod(pod: V1Pod): void {
    const runId = this.#runIdOf(pod);
    const name = pod.metadata?.name;
    if (runId === null || !name) return;
    const tracked = this.#track(runId);
    tracked.pods.set(name, pod);
    tracked.gonePods.add(name);
    this.#markDirty(runId);
  }

  #listedPods(pods: V1Pod[]): void {
    const present = new Set(pods.map((pod) => pod.metadata?.name));
    for (const tracked of this.#runs.values()) {
      for (const [name, pod] of tracked.pods) {
        if (!present.has(name) && !tracked.gonePods.has(name)) this.#removePod(pod);
      }
    }
  }

  /** The pods the mapper should see: live ones, and deleted ones whose runner had ended. */
  #podsOf(tracked: TrackedRun): V1Pod[] {
    const pods: V1Pod[] = [];
    for (const [name, pod] of tracked.pods) {
      if (!tracked.gonePods.has(name)) pods.push(pod);
      else if (runnerStatus(pod)?.state?.terminated || disrupted(pod)) pods.push(pod);
    }
    return pods;
  }

  // Evaluation ---------------------------------------------------------------------------------

  #markDirty(runId: string): void {
    if (this.#stopped) return;
    this.#dirty.add(runId);
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      const ids = [...this.#dirty];
      this.#dirty.clear();
      for (const id of ids) {
        const tracked = this.#runs.get(id);
        if (tracked) void this.#evaluate(tracked);
      }
    });
  }

  #markAllDirty(): void {
    for (const tracked of this.#runs.values()) {
      if (tracked.reported !== 'finished' || this.leader) this.#markDirty(tracked.runId);
    }
  }

  /** One evaluation at a time per run; changes meanwhile ask for another. */
  async #evaluate(tracked: TrackedRun): Promise<void> {
    if (tracked.busy) {
      tracked.again = true;
      return;
    }
    tracked.busy = true;
    try {
      await this.#evaluateOnce(tracked);
    } catch (error) {
      this.#log('error', `run ${tracked.runId}: ${String(error)}`);
    } finally {
      tracked.busy = false;
      if (tracked.again) {
        tracked.again = false;
        this.#markDirty(tracked.runId);
      }
    }
  }

  async #evaluateOnce(tracked: TrackedRun): Promise<void> {
    if (this.#stopped) return;
    const now = this.#now();
    if (tracked.reported === 'finished') {
      this.#afterFinish(tracked, now);
      return;
    }
    // Not seen yet at all (launch in flight, or a cancel of a run never launched here).
    if (tracked.job === null && tracked.jobGoneAt === null && tracked.pods.size === 0) return;
    const options = {
      pendingTimeoutSeconds: this.#o.pendingTimeoutSeconds ?? 600,
      cancelRequested: tracked.cancelRequested,
    };
    const objects = { runId: tracked.runId, job: tracked.job, pods: this.#podsOf(tracked) };
    let judged = judgeRunState(objects, now, options);
    this.#followLogs(tracked);
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
    if (tracked.follower && !tracked.follower.drained) {
      await Promise.race([tracked.follower.done, delay(3000)]);
    }
    tracked.reported = 'finished';
    tracked.finishedAt = now;
    const final = judged.update as Extract<ExecutorUpdate, { type: 'finished' }>;
    const saved = tracked.reader.outputUri;
    // The location as the runner reported its saves (the local executor's form too).
    this.#updates.emit(saved && final.outputUri ? { ...final, outputUri: saved } : final);
    if (judged.judged && tracked.job !== null) {
      // NES ended the run: stop what Kubernetes would keep retrying.
      await this.#deleteJob(tracked);
    }
    this.#afterFinish(tracked, now);
  }

  async #eventsFor(tracked: TrackedRun): Promise<CoreV1Event[]> {
    const names = [tracked.jobName, ...this.#podsOf(tracked).map((p) => p.metadata?.name)];
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

  async #deleteJob(tracked: TrackedRun): Promise<void> {
    try {
      await this.#batch.deleteNamespacedJob({
        name: tracked.jobName,
        namespace: this.#namespace,
        propagationPolicy: 'Background',
      });
    } catch (error) {
      if (httpStatus(error) !== 404) {
        this.#log('warn', `run ${tracked.runId}: deleting Job: ${describeError(error)}`);
      }
    }
  }

  /** Lease holder: archive the log once, then delete the Job after the retention time. */
  #afterFinish(tracked: TrackedRun, now: number): void {
    const gone = tracked.jobGoneAt !== null && tracked.pods.size === tracked.gonePods.size;
    if (gone && (!this.leader || tracked.archived || !this.#o.artifacts)) {
      // Nothing of the run is left in the cluster (and its log is archived): forget it.
      this.#runs.delete(tracked.runId);
      return;
    }
    if (!this.leader || this.#stopped) return;
    if (!tracked.archived && tracked.archiving === null && this.#o.artifacts) {
      tracked.archiving = this.#archive(tracked).finally(() => {
        tracked.archiving = null;
      });
      return;
    }
    const job = tracked.job;
    const retentionMs = (this.#o.finishedJobRetentionSeconds ?? 600) * 1000;
    if (
      job !== null &&
      tracked.jobGoneAt === null &&
      (tracked.archived || !this.#o.artifacts) &&
      tracked.finishedAt !== null &&
      now - tracked.finishedAt >= retentionMs
    ) {
      tracked.jobGoneAt = now;
      void this.#deleteJob(tracked);
    }
  }

  async #archive(tracked: TrackedRun): Promise<void> {
    const artifacts = this.#o.artifacts;
    if (!artifacts) return;
    if (tracked.follower) await Promise.race([tracked.follower.done, delay(3000)]);
    // The whole log from the API server when the pods are still there, else what was followed.
    const pods = [...tracked.pods.values()]
      .filter((pod) => !tracked.gonePods.has(pod.metadata?.name ?? ''))
      .sort((a, b) =>
        String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
      );
    let text = '';
    let fetched = 0;
    let complete = pods.length > 0;
    for (const pod of pods) {
      const name = pod.metadata?.name as string;
      try {
        const lines: string[] = [];
        await streamPodLog(
          {
            kc: this.#o.kc,
            namespace: this.#namespace,
            pod: name,
            container: RUNNER_CONTAINER,
            cursor: new LogCursor(),
            onLine: (line) => lines.push(`${line.time} ${line.text}`),
            signal: new AbortController().signal,
          },
          false,
        );
        if (pods.length > 1) text += `==> pod ${name} <==\n`;
        text += lines.map((line) => `${line}\n`).join('');
        fetched += lines.length;
      } catch {
        complete = false;
      }
    }
    // A pod being deleted (a cancel) may answer with less than was already followed, or
    // nothing: then the followed lines are the fuller copy.
    if (!complete || fetched < tracked.logLines.length) {
      text = tracked.logLines.map((line) => `${line}\n`).join('');
    }
    try {
      await artifacts.put(podLogKey(tracked.runId), text, {
        contentType: 'text/plain; charset=utf-8',
        metadata: { 'nes-run-id': tracked.runId },
      });
    } catch (error) {
      this.#log('warn', `run ${tracked.runId}: archiving the pod log: ${describeError(error)}`);
      return;
    }
    tracked.archived = true;
    if (tracked.job !== null && tracked.jobGoneAt === null) {
      try {
        await this.#batch.patchNamespacedJob(
          {
            name: tracked.jobName,
            namespace: this.#namespace,
            body: { metadata: { annotations: { [LOGS_ARCHIVED_ANNOTATION]: 'true' } } },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (error) {
        if (httpStatus(error) !== 404) {
          this.#log(
            'warn',
            `run ${tracked.runId}: marking the log archived: ${describeError(error)}`,
          );
        }
      }
    }
    this.#markDirty(tracked.runId);
  }

  // Logs ---------------------------------------------------------------------------------------

  /** Lease holder: follow the current pod's runner log while it runs. */
  #followLogs(tracked: TrackedRun): void {
    if (this.#o.followLogs === false) return;
    if (!this.leader || this.#stopped || tracked.reported === 'finished') return;
    const pod = this.#podsOf(tracked)
      .filter((p) => !disrupted(p) && !tracked.gonePods.has(p.metadata?.name ?? ''))
      .sort((a, b) =>
        String(a.metadata?.creationTimestamp).localeCompare(String(b.metadata?.creationTimestamp)),
      )
      .at(-1);
    const state = pod ? runnerStatus(pod)?.state : undefined;
    if (!pod || !(state?.running || state?.terminated)) return;
    const name = pod.metadata?.name as string;
    if (tracked.follower?.pod === name) return;
    tracked.follower?.abort.abort();
    const abort = new AbortController();
    const follower: Follower = { pod: name, abort, done: Promise.resolve(), drained: false };
    follower.done = this.#follow(tracked, follower, abort.signal).finally(() => {
      if (tracked.follower === follower && tracked.reported === 'finished') tracked.follower = null;
    });
    tracked.follower = follower;
  }

  #onLogLine(tracked: TrackedRun, line: LogLine): void {
    const updates = tracked.reader.read(line.time, line.text);
    // The store keeps a line as its log update's text (cell output without its JSON envelope).
    const logged = updates.find((update) => update.type === 'log');
    const stored = { time: line.time, text: logged?.type === 'log' ? logged.text : line.text };
    if (tracked.replay?.isOld(stored)) {
      // Already reported: only the reader's state (progress, output) is rebuilt.
      for (const update of updates) {
        if (update.type === 'progress') tracked.replayProgress = update;
        if (update.type === 'running' && tracked.reported === 'none') tracked.reported = 'running';
      }
      return;
    }
    if (tracked.replayProgress) {
      this.#updates.emit(tracked.replayProgress);
      tracked.replayProgress = null;
    }
    if (tracked.logBytes < MAX_KEPT_LOG_BYTES) {
      const kept = `${line.time} ${line.text}`;
      tracked.logLines.push(kept);
      tracked.logBytes += kept.length + 1;
    }
    for (const update of updates) {
      const reported = tracked.reported;
      // After the end only log lines still count; `running` is reported once.
      if (reported === 'finished' && update.type !== 'log') continue;
      if (update.type === 'running') {
        if (reported !== 'none') continue;
        tracked.reported = 'running';
      }
      this.#updates.emit(update);
    }
  }

  async #follow(tracked: TrackedRun, follower: Follower, signal: AbortSignal): Promise<void> {
    const pod = follower.pod;
    const cursor = new LogCursor();
    tracked.reader = new RunnerLogReader(tracked.runId);
    tracked.replay = null;
    if (this.#o.storedLog) {
      try {
        const stored = await this.#o.storedLog(tracked.runId);
        const newest = stored.reduce<string | null>(
          (max, line) => (max === null || timeKey(line.time) > timeKey(max) ? line.time : max),
          null,
        );
        if (newest !== null) {
          const texts = stored.filter((line) => line.time === newest).map((line) => line.text);
          tracked.replay = new ReplayBoundary(newest, texts);
        }
      } catch (error) {
        this.#log('warn', `run ${tracked.runId}: reading the stored log: ${describeError(error)}`);
      }
    }
    const retryMs = this.#o.logRetryMs ?? 250;
    let failures = 0;
    for (let attempt = 0; !signal.aborted && !this.#stopped; attempt += 1) {
      if (attempt > 0) this.#logReconnects += 1;
      try {
        follower.drained = false;
        const end = await streamPodLog({
          kc: this.#o.kc,
          namespace: this.#namespace,
          pod,
          container: RUNNER_CONTAINER,
          cursor,
          signal,
          onLine: (line) => this.#onLogLine(tracked, line),
        });
        follower.drained = end === 'ended';
        failures = 0;
      } catch (error) {
        if (error instanceof LogRequestError && error.status === 404) return;
        failures += 1;
        if (!(error instanceof LogRequestError && error.status === 400)) {
          this.#log('warn', `run ${tracked.runId}: log of ${pod}: ${describeError(error)}`);
        }
      }
      if (signal.aborted) return;
      const terminated = () =>
        tracked.gonePods.has(pod) ||
        runnerStatus(tracked.pods.get(pod) ?? {})?.state?.terminated !== undefined;
      if (follower.drained) {
        // The server ended the stream: the container stopped, its status follows shortly.
        // (A stream the server ends for another reason is opened again after 5 s.)
        for (let waited = 0; waited < 5000 && !terminated() && !signal.aborted; waited += 100) {
          await delay(100);
        }
        if (terminated()) return;
      } else if (terminated() && failures === 0) {
        // The container stopped while the stream was down: one last read from the cursor.
        try {
          await streamPodLog(
            {
              kc: this.#o.kc,
              namespace: this.#namespace,
              pod,
              container: RUNNER_CONTAINER,
              cursor,
              signal,
              onLine: (line) => this.#onLogLine(tracked, line),
            },
            false,
          );
        } catch {
          // The pod is gone: what was read is what there is.
        }
        return;
      }
      if (terminated() && failures > 3) return;
      await delay(Math.min(retryMs * 2 ** Math.min(failures, 5), 5000));
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

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** True when `a` is an older version of the same object than `b` (numeric resourceVersions). */
function olderThan(a: V1Job | V1Pod, b: V1Job | V1Pod): boolean {
  const va = a.metadata?.resourceVersion;
  const vb = b.metadata?.resourceVersion;
  if (!va || !vb || !/^\d+$/.test(va) || !/^\d+$/.test(vb)) return false;
  if (a.metadata?.uid !== b.metadata?.uid) return false;
  return BigInt(va) < BigInt(vb);
}

/**
 * The scheduler and a kubelet for one node: a new pod is scheduled (or marked Unschedulable),
 * its images "pulled" (or failing with ErrImagePull/ImagePullBackOff), its Secrets and
 * ConfigMaps resolved (or CreateContainerConfigError, retried every second), then each
 * container's command really runs as a local process (its own process group) with the container's environment
 * and paths mapped into a per-pod directory (container-env.ts). The pod's status (phase,
 * conditions, containerStatuses) follows what happens, as the real kubelet reports it;
 * stdout/stderr become the container log; the termination message file (or the log tail with
 * FallbackToLogsOnError) becomes `terminated.message`; a memory limit is enforced by sampling
 * the RSS of every process the container started (OOMKilled, exit 137). Init containers run in order first; a native sidecar
 * (an init container with restartPolicy Always) only has to start, runs beside the main
 * containers and is stopped once they are done. Deleting a pod sends SIGTERM to the container's main
 * process and SIGKILL to everything it started after the grace period, then removes the pod.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type {
  V1Container,
  V1ContainerState,
  V1ContainerStatus,
  V1Pod,
  V1PodCondition,
  V1PodStatus,
} from '@kubernetes/client-node';
import { parseQuantity } from '../../../services/nes-api/src/executors/kubernetes/quantity.ts';
import { timestamp } from './api.ts';
import { ContainerConfigError, containerEnv, prepareFiles } from './container-env.ts';
import { ContainerLog } from './container-log.ts';
import { type EventRecorder, NODE_NAME } from './events.ts';
import { ProcessTree, readProcessTable } from './process-tree.ts';
import type { KubeObject } from './selectors.ts';
import type { Change, ObjectStore } from './store.ts';

export interface ResolvedCommand {
  command: string;
  args: string[];
  env?: Record<string, string>;
}

/** What the kubelet prepared for a container, for a `resolveCommand` that runs it elsewhere. */
export interface ContainerContext {
  /** The container's environment as its spec resolves it (Secrets and ConfigMaps read, no path mapped). */
  env: Record<string, string>;
  /** The host file whose content becomes the termination message. */
  terminationFile: string;
  /** The host directory prepared for a mount path (Secret, ConfigMap and emptyDir volumes). */
  hostPathOf(mountPath: string): string | undefined;
}

export interface KubeletConfig {
  resolveCommand?: (
    pod: V1Pod,
    container: V1Container,
    context: ContainerContext,
  ) => ResolvedCommand | undefined;
  scheduleDelayMs: number;
  pullDelayMs: number;
  /** The node's allocatable CPU (a quantity): the scheduler fits pods' CPU requests into it. */
  allocatableCpu?: string;
  /** PATH for containers that set none. */
  path: string;
  /** Parent of the per-pod directories. */
  workDir: string;
}

export interface KubeletFaults {
  failImagePull: RegExp[];
  unschedulable: ((pod: V1Pod) => boolean)[];
}

const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const MAX_MESSAGE_BYTES = 4096;
const FALLBACK_LINES = 80;
const FALLBACK_BYTES = 2048;
const SAMPLE_MS = 200;
const CONFIG_RETRY_MS = 1000;
/** How long ErrImagePull shows before ImagePullBackOff, and the back-off between pulls. */
const PULL_ERROR_MS = 250;
const PULL_BACKOFF_START_MS = 1000;
const PULL_BACKOFF_MAX_MS = 16_000;
const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGABRT: 6,
  SIGKILL: 9,
  SIGSEGV: 11,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
};

export function defaultPath(repoRoot: string): string {
  return `${join(repoRoot, 'node_modules/.bin')}:${join(repoRoot, '.tools/py/bin')}:${SYSTEM_PATH}`;
}

interface ContainerRuntime {
  spec: V1Container;
  init: boolean;
  /** A native sidecar: an init container with restartPolicy Always. */
  sidecar: boolean;
  onStarted?: () => void;
  state: V1ContainerState;
  started: boolean;
  imageID?: string;
  containerID?: string;
  log: ContainerLog;
  child?: ChildProcess;
  /** Everything the container started (its cgroup). */
  tree?: ProcessTree;
  oomKilled: boolean;
  lastConfigError?: string;
}

interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  dir: string;
  containers: ContainerRuntime[];
  conditions: Map<string, V1PodCondition>;
  phase: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
  /** Bound to the node: its CPU request counts against the node until it ends. */
  bound: boolean;
  cpuRequestMillis: number;
  startTime?: string;
  podIP?: string;
  stopping: boolean;
  abort: AbortController;
  killTimers: NodeJS.Timeout[];
  finished: Promise<void>;
}

const CONDITION_ORDER = [
  'PodReadyToStartContainers',
  'Initialized',
  'Ready',
  'ContainersReady',
  'PodScheduled',
];

export class Kubelet {
  readonly #store: ObjectStore;
  readonly #events: EventRecorder;
  readonly #config: KubeletConfig;
  readonly faults: KubeletFaults = { failImagePull: [], unschedulable: [] };
  readonly #pods = new Map<string, PodRuntime>();
  readonly #pulled = new Set<string>();
  #nextIp = 10;
  #unsubscribe: () => void;
  /** Running containers and their memory limits (0: none), sampled together by one timer. */
  readonly #running = new Map<ContainerRuntime, number>();
  #sampler: NodeJS.Timeout | undefined;

  constructor(store: ObjectStore, events: EventRecorder, config: KubeletConfig) {
    this.#store = store;
    this.#events = events;
    this.#config = config;
    mkdirSync(config.workDir, { recursive: true });
    this.#unsubscribe = store.subscribe((change) => this.#observe(change));
    process.on('exit', this.#onExit);
  }

  /** A test process that ends without close() still takes its containers and files along. */
  readonly #onExit = (): void => {
    for (const pod of this.#pods.values()) {
      for (const container of pod.containers) killContainer(container, 'SIGKILL');
    }
    rmSync(this.#config.workDir, { recursive: true, force: true });
  };

  /** The log of a container of a pod this kubelet ran (or runs), by pod uid. */
  container(
    uid: string,
    name: string,
  ): { log: ContainerLog; state: V1ContainerState; started: boolean } | undefined {
    const container = this.#pods.get(uid)?.containers.find((c) => c.spec.name === name);
    return container && { log: container.log, state: container.state, started: container.started };
  }

  /** Every pod process this kubelet started and that still runs. */
  get runningProcesses(): number[] {
    const pids: number[] = [];
    for (const pod of this.#pods.values()) {
      for (const container of pod.containers) {
        if (
          container.child?.pid !== undefined &&
          container.child.exitCode === null &&
          container.child.signalCode === null
        ) {
          pids.push(container.child.pid);
        }
      }
    }
    return pids;
  }

  #cpuFits(runtime: PodRuntime): boolean {
    const allocatable = Math.round(
      (parseQuantity(this.#config.allocatableCpu ?? '16') ?? 16) * 1000,
    );
    let used = 0;
    for (const other of this.#pods.values()) {
      if (
        other !== runtime &&
        other.bound &&
        other.phase !== 'Succeeded' &&
        other.phase !== 'Failed'
      ) {
        used += other.cpuRequestMillis;
      }
    }
    return used + runtime.cpuRequestMillis <= allocatable;
  }

  /** The kernel's OOM killer: SIGKILL to the container's processes, reason OOMKilled. */
  oomKill(namespace: string | undefined, podName: string): boolean {
    const runtime = [...this.#pods.values()].find(
      (pod) => pod.name === podName && (namespace === undefined || pod.namespace === namespace),
    );
    const container = runtime?.containers.find(
      (c) => c.child && 'running' in c.state && c.state.running,
    );
    if (!container?.child?.pid) return false;
    container.oomKilled = true;
    killContainer(container, 'SIGKILL');
    return true;
  }

  /**
   * What the container's cgroup does: one pass over /proc every 200 ms for every running
   * container keeps its process tree current (so everything it started can be killed) and
   * enforces its memory limit on the tree's RSS.
   */
  #track(container: ContainerRuntime, limit: number): void {
    this.#running.set(container, limit);
    this.#sampler ??= setInterval(() => {
      if (this.#running.size === 0) {
        clearInterval(this.#sampler);
        this.#sampler = undefined;
        return;
      }
      const table = readProcessTable();
      for (const [tracked, bytes] of this.#running) {
        tracked.tree?.refresh(table);
        if (bytes > 0 && (tracked.tree?.rssBytes(table) ?? 0) > bytes) {
          // The cgroup's OOM killer picks the process using the most memory (a notebook's
          // kernel, not the runner that started it) and SIGKILLs it alone; the container goes
          // on, and ends OOMKilled with its main process's own exit code.
          tracked.oomKilled = true;
          const biggest = tracked.tree?.biggest(table);
          if (biggest === undefined || biggest === tracked.child?.pid)
            killContainer(tracked, 'SIGKILL');
          else {
            try {
              process.kill(biggest, 'SIGKILL');
            } catch {
              // Gone already.
            }
          }
        }
      }
    }, SAMPLE_MS);
  }

  async close(): Promise<void> {
    this.#unsubscribe();
    process.off('exit', this.#onExit);
    clearInterval(this.#sampler);
    this.#running.clear();
    const pods = [...this.#pods.values()];
    for (const pod of pods) {
      pod.stopping = true;
      pod.abort.abort();
      for (const timer of pod.killTimers) clearTimeout(timer);
      for (const container of pod.containers) {
        if (container.child?.pid) killContainer(container, 'SIGKILL');
      }
    }
    await Promise.all(pods.map((pod) => pod.finished));
    rmSync(this.#config.workDir, { recursive: true, force: true });
  }

  #observe(change: Change): void {
    if (change.kind !== 'Pod') return;
    const pod = change.object as unknown as V1Pod;
    const uid = pod.metadata?.uid ?? '';
    const runtime = this.#pods.get(uid);
    if (change.type === 'ADDED' && !runtime) {
      // The kubelet acts after the write that woke it, never inside it.
      setImmediate(() => this.#admit(pod));
      return;
    }
    if (!runtime) return;
    if (change.type === 'DELETED') {
      setImmediate(() => {
        this.#stop(runtime, 0);
        // Whether it ran to its end before or is killed now, the pod's files go with it.
        void runtime.finished.then(() => {
          rmSync(runtime.dir, { recursive: true, force: true });
          this.#pods.delete(runtime.uid);
        });
      });
    } else if (pod.metadata?.deletionTimestamp && !runtime.stopping) {
      const grace = Number(pod.metadata.deletionGracePeriodSeconds ?? 30);
      setImmediate(() => this.#stop(runtime, grace));
    }
  }

  #admit(pod: V1Pod): void {
    const uid = pod.metadata?.uid ?? '';
    if (
      this.#pods.has(uid) ||
      !this.#store.get('Pod', pod.metadata?.namespace, pod.metadata?.name ?? '')
    )
      return;
    const dir = join(this.#config.workDir, uid);
    const runtime: PodRuntime = {
      uid,
      namespace: pod.metadata?.namespace ?? 'default',
      name: pod.metadata?.name ?? '',
      dir,
      containers: [
        ...(pod.spec?.initContainers ?? []).map((spec) => newContainer(spec, true)),
        ...(pod.spec?.containers ?? []).map((spec) => newContainer(spec, false)),
      ],
      conditions: new Map(),
      phase: 'Pending',
      bound: false,
      cpuRequestMillis: 0,
      stopping: false,
      abort: new AbortController(),
      killTimers: [],
      finished: Promise.resolve(),
    };
    this.#pods.set(uid, runtime);
    runtime.finished = this.#run(runtime).catch((error: unknown) => {
      if (!runtime.stopping)
        console.error(`fake kubelet: pod ${runtime.namespace}/${runtime.name}:`, error);
    });
  }

  #current(runtime: PodRuntime): V1Pod | undefined {
    return this.#store.get('Pod', runtime.namespace, runtime.name) as unknown as V1Pod | undefined;
  }

  /** Waits, unless the pod is stopped first (then false). */
  async #wait(runtime: PodRuntime, ms: number): Promise<boolean> {
    if (runtime.stopping) return false;
    try {
      await delay(ms, undefined, { signal: runtime.abort.signal });
      return !runtime.stopping;
    } catch {
      return false;
    }
  }

  async #run(runtime: PodRuntime): Promise<void> {
    if (!(await this.#wait(runtime, this.#config.scheduleDelayMs))) return this.#finish(runtime);
    const pod = this.#current(runtime);
    if (!pod) return this.#finish(runtime);
    // The scheduler: CPU requests must fit what the node has left (kube-scheduler's
    // NodeResourcesFit); until then the pod stays Pending, retried as others end.
    runtime.cpuRequestMillis = cpuRequestMillis(pod);
    let waitedForCpu = false;
    while (!this.#cpuFits(runtime)) {
      if (!waitedForCpu) {
        const message =
          '0/1 nodes are available: 1 Insufficient cpu. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod..';
        this.#condition(runtime, 'PodScheduled', 'False', 'Unschedulable', message);
        this.#sync(runtime);
        this.#event(runtime, 'Warning', 'FailedScheduling', message, 'default-scheduler');
        waitedForCpu = true;
      }
      if (!(await this.#wait(runtime, 200))) return this.#finish(runtime);
    }
    runtime.bound = true;
    if (this.faults.unschedulable.some((matches) => matches(pod))) {
      const message = unschedulableMessage(pod);
      this.#condition(runtime, 'PodScheduled', 'False', 'Unschedulable', message);
      this.#sync(runtime);
      this.#event(runtime, 'Warning', 'FailedScheduling', message, 'default-scheduler');
      await this.#wait(runtime, 2 ** 31 - 1);
      return this.#finish(runtime);
    }
    // Binding.
    this.#store.mutate('Pod', runtime.namespace, runtime.name, (object) => {
      (object.spec as { nodeName?: string }).nodeName = NODE_NAME;
      return true;
    });
    this.#condition(runtime, 'PodScheduled', 'True');
    this.#sync(runtime);
    this.#event(
      runtime,
      'Normal',
      'Scheduled',
      `Successfully assigned ${runtime.namespace}/${runtime.name} to ${NODE_NAME}`,
      'default-scheduler',
    );

    // The kubelet takes the pod.
    runtime.startTime = timestamp();
    runtime.podIP = `10.244.0.${this.#nextIp++ % 250}`;
    mkdirSync(runtime.dir, { recursive: true });
    const hasInit = runtime.containers.some((c) => c.init);
    this.#condition(runtime, 'PodReadyToStartContainers', 'True');
    if (hasInit)
      this.#condition(
        runtime,
        'Initialized',
        'False',
        'ContainersNotInitialized',
        `containers with incomplete status: [${runtime.containers
          .filter((c) => c.init)
          .map((c) => c.spec.name)
          .join(' ')}]`,
      );
    else this.#condition(runtime, 'Initialized', 'True');
    this.#readiness(runtime);
    this.#sync(runtime);

    // Init containers in order; a sidecar (restartPolicy Always) only has to start.
    const sidecars: Promise<number | null>[] = [];
    for (const container of runtime.containers.filter((c) => c.init)) {
      if (container.sidecar) {
        const started = new Promise<'started'>((resolve) => {
          container.onStarted = () => resolve('started');
        });
        const exited = this.#runContainer(runtime, container);
        sidecars.push(exited);
        const first = await Promise.race([started, exited.then(() => 'exited' as const)]);
        if (first === 'exited') return this.#finish(runtime);
        continue;
      }
      const exitCode = await this.#runContainer(runtime, container);
      if (exitCode !== 0) {
        this.#stopSidecars(runtime);
        await Promise.all(sidecars);
        return this.#finish(runtime);
      }
    }
    if (hasInit) {
      this.#condition(runtime, 'Initialized', 'True');
      this.#sync(runtime);
    }
    await Promise.all(
      runtime.containers.filter((c) => !c.init).map((c) => this.#runContainer(runtime, c)),
    );
    // The main containers are done: sidecars are stopped, then the pod is.
    this.#stopSidecars(runtime);
    await Promise.all(sidecars);
    return this.#finish(runtime);
  }

  /** SIGTERM to every running sidecar, SIGKILL after the pod's grace period. */
  #stopSidecars(runtime: PodRuntime): void {
    const grace = Number(
      (this.#current(runtime)?.spec?.terminationGracePeriodSeconds ?? 30) as number,
    );
    for (const container of runtime.containers) {
      const pid = container.child?.pid;
      if (!container.sidecar || pid === undefined || !isRunning(container.child)) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // Already gone.
      }
      runtime.killTimers.push(setTimeout(() => killContainer(container, 'SIGKILL'), grace * 1000));
    }
  }

  /** Runs one container to its end; its exit code, or null when it never started. */
  async #runContainer(runtime: PodRuntime, container: ContainerRuntime): Promise<number | null> {
    const image = container.spec.image ?? '';
    const fieldPath = `spec.${container.init ? 'initContainers' : 'containers'}{${container.spec.name}}`;
    container.state = {
      waiting: { reason: container.init ? 'PodInitializing' : 'ContainerCreating' },
    };
    this.#sync(runtime);

    // Image.
    if (this.faults.failImagePull.some((pattern) => pattern.test(image))) {
      const error = `failed to pull and unpack image "${image}": failed to resolve reference "${image}": ${image}: not found`;
      // The kubelet retries with a doubling back-off (10 s to 5 min there, compressed here).
      let backOff = PULL_BACKOFF_START_MS;
      while (!runtime.stopping) {
        this.#event(runtime, 'Normal', 'Pulling', `Pulling image "${image}"`, 'kubelet', fieldPath);
        if (!(await this.#wait(runtime, this.#config.pullDelayMs))) break;
        container.state = { waiting: { reason: 'ErrImagePull', message: error } };
        this.#sync(runtime);
        this.#event(
          runtime,
          'Warning',
          'Failed',
          `Failed to pull image "${image}": ${error}`,
          'kubelet',
          fieldPath,
        );
        this.#event(runtime, 'Warning', 'Failed', 'Error: ErrImagePull', 'kubelet', fieldPath);
        if (!(await this.#wait(runtime, PULL_ERROR_MS))) break;
        container.state = {
          waiting: {
            reason: 'ImagePullBackOff',
            // The real kubelet's back-off message names no cause (that is only in the events).
            message: `Back-off pulling image "${image}"`,
          },
        };
        this.#sync(runtime);
        this.#event(
          runtime,
          'Normal',
          'BackOff',
          `Back-off pulling image "${image}"`,
          'kubelet',
          fieldPath,
        );
        this.#event(runtime, 'Warning', 'Failed', 'Error: ImagePullBackOff', 'kubelet', fieldPath);
        if (!(await this.#wait(runtime, backOff))) break;
        backOff = Math.min(backOff * 2, PULL_BACKOFF_MAX_MS);
      }
      return null;
    }
    const alreadyPresent = this.#pulled.has(image) && container.spec.imagePullPolicy !== 'Always';
    if (alreadyPresent) {
      this.#event(
        runtime,
        'Normal',
        'Pulled',
        `Container image "${image}" already present on machine`,
        'kubelet',
        fieldPath,
      );
    } else {
      this.#event(runtime, 'Normal', 'Pulling', `Pulling image "${image}"`, 'kubelet', fieldPath);
      const started = Date.now();
      if (!(await this.#wait(runtime, this.#config.pullDelayMs))) return null;
      const took = Date.now() - started;
      this.#pulled.add(image);
      this.#event(
        runtime,
        'Normal',
        'Pulled',
        `Successfully pulled image "${image}" in ${took}ms (${took}ms including waiting). Image size: 0 bytes.`,
        'kubelet',
        fieldPath,
      );
    }
    container.imageID = `${image.replace(/:[^/:]+$/, '')}@sha256:${createHash('sha256').update(image).digest('hex')}`;

    // Configuration: Secrets, ConfigMaps, volumes.
    let prepared:
      | {
          command: string;
          args: string[];
          env: Record<string, string>;
          cwd: string;
          terminationFile: string;
        }
      | undefined;
    while (!prepared) {
      const pod = this.#current(runtime);
      if (!pod || runtime.stopping) return null;
      try {
        prepared = this.#prepare(runtime, pod, container);
      } catch (error) {
        if (!(error instanceof ContainerConfigError)) throw error;
        container.state = {
          waiting: { reason: 'CreateContainerConfigError', message: error.message },
        };
        this.#sync(runtime);
        if (container.lastConfigError !== error.message) {
          this.#event(
            runtime,
            'Warning',
            'Failed',
            `Error: ${error.message}`,
            'kubelet',
            fieldPath,
          );
          container.lastConfigError = error.message;
        }
        if (!(await this.#wait(runtime, CONFIG_RETRY_MS))) return null;
      }
    }
    return this.#start(runtime, container, prepared, fieldPath);
  }

  #prepare(runtime: PodRuntime, pod: V1Pod, container: ContainerRuntime) {
    const spec = container.spec;
    const specEnv = containerEnv(this.#store, pod, spec);
    const { paths, terminationFile } = prepareFiles(this.#store, pod, spec, runtime.dir);
    const env: Record<string, string> = { HOSTNAME: runtime.name };
    for (const [name, value] of Object.entries(specEnv)) env[name] = paths.map(value);
    env.PATH ??= this.#config.path;
    const fallbackDir = (name: string) => {
      const dir = join(runtime.dir, 'containers', spec.name, name);
      mkdirSync(dir, { recursive: true });
      return dir;
    };
    env.HOME ??= paths.has('/root') ? paths.map('/root') : fallbackDir('home');
    env.TMPDIR ??= paths.has('/tmp') ? paths.map('/tmp') : fallbackDir('tmp');
    const words = [...(spec.command ?? []), ...(spec.args ?? [])].map((word) => paths.map(word));
    let command = words[0] ?? '';
    let args = words.slice(1);
    const override = this.#config.resolveCommand?.(pod, spec, {
      env: { ...specEnv },
      terminationFile,
      hostPathOf: (mountPath) => (paths.has(mountPath) ? paths.map(mountPath) : undefined),
    });
    if (override) {
      command = override.command;
      args = override.args;
      Object.assign(env, override.env ?? {});
    }
    const cwd = spec.workingDir ? paths.map(spec.workingDir) : fallbackDir('work');
    mkdirSync(cwd, { recursive: true });
    return { command, args, env, cwd, terminationFile };
  }

  async #start(
    runtime: PodRuntime,
    container: ContainerRuntime,
    prepared: {
      command: string;
      args: string[];
      env: Record<string, string>;
      cwd: string;
      terminationFile: string;
    },
    fieldPath: string,
  ): Promise<number> {
    container.containerID = `containerd://${randomBytes(32).toString('hex')}`;
    this.#event(
      runtime,
      'Normal',
      'Created',
      `Created container: ${container.spec.name}`,
      'kubelet',
      fieldPath,
    );
    const startedAt = wireTime();
    const child = prepared.command
      ? spawn(prepared.command, prepared.args, {
          cwd: prepared.cwd,
          env: prepared.env,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
        })
      : undefined;
    const spawnError = await new Promise<Error | null>((resolve) => {
      if (!child) return resolve(new Error('no command specified'));
      child.once('spawn', () => resolve(null));
      child.once('error', (error) => resolve(error));
    });
    if (spawnError || !child?.pid) {
      const message = `failed to create containerd task: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "${prepared.command}": ${spawnError?.message.includes('ENOENT') ? 'executable file not found in $PATH' : spawnError?.message}: unknown`;
      container.state = {
        terminated: {
          exitCode: 128,
          reason: 'StartError',
          message,
          startedAt: wireTime('1970-01-01T00:00:00Z'),
          finishedAt: wireTime(),
          containerID: container.containerID,
        },
      };
      container.log.end();
      this.#event(runtime, 'Warning', 'Failed', `Error: ${message}`, 'kubelet', fieldPath);
      this.#sync(runtime);
      return 128;
    }
    container.child = child;
    container.started = true;
    container.onStarted?.();
    child.stdout
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => container.log.write('stdout', chunk));
    child.stderr
      ?.setEncoding('utf8')
      .on('data', (chunk: string) => container.log.write('stderr', chunk));
    container.state = { running: { startedAt } };
    this.#event(
      runtime,
      'Normal',
      'Started',
      `Started container ${container.spec.name}`,
      'kubelet',
      fieldPath,
    );
    if (!container.init) runtime.phase = 'Running';
    this.#readiness(runtime);
    this.#sync(runtime);

    const limit = parseQuantity(String(container.spec.resources?.limits?.memory ?? '')) ?? 0;
    container.tree = new ProcessTree(child.pid);
    this.#track(container, limit);

    const { code, signal } = await new Promise<{
      code: number | null;
      signal: NodeJS.Signals | null;
    }>((resolve) => {
      child.once('exit', (exitCode, exitSignal) => {
        // The container ends with its main process: whatever it left behind goes too.
        killContainer(container, 'SIGKILL');
        resolve({ code: exitCode, signal: exitSignal });
      });
    });
    this.#running.delete(container);
    await Promise.race([new Promise((resolve) => child.once('close', resolve)), delay(2000)]);
    child.stdout?.destroy();
    child.stderr?.destroy();
    container.log.end();

    const exitCode = code ?? 128 + (SIGNALS[signal ?? ''] ?? 9);
    const reason = container.oomKilled ? 'OOMKilled' : exitCode === 0 ? 'Completed' : 'Error';
    let message = readMessage(prepared.terminationFile);
    if (
      !message &&
      exitCode !== 0 &&
      container.spec.terminationMessagePolicy === 'FallbackToLogsOnError'
    ) {
      message = container.log.tail(FALLBACK_LINES, FALLBACK_BYTES);
    }
    container.state = {
      terminated: {
        exitCode,
        reason,
        ...(message ? { message } : {}),
        startedAt,
        finishedAt: wireTime(),
        containerID: container.containerID,
      },
    };
    this.#readiness(runtime);
    this.#sync(runtime);
    return exitCode;
  }

  #readiness(runtime: PodRuntime): void {
    const main = runtime.containers.filter((c) => !c.init);
    const serving = runtime.containers.filter((c) => !c.init || c.sidecar);
    const unready = serving
      .filter((c) => !('running' in c.state && c.state.running))
      .map((c) => c.spec.name);
    if (unready.length === 0) {
      this.#condition(runtime, 'ContainersReady', 'True');
      this.#condition(runtime, 'Ready', 'True');
    } else if (main.every((c) => c.state.terminated)) {
      this.#condition(runtime, 'ContainersReady', 'False', 'PodCompleted');
      this.#condition(runtime, 'Ready', 'False', 'PodCompleted');
    } else {
      const message = `containers with unready status: [${unready.join(' ')}]`;
      this.#condition(runtime, 'ContainersReady', 'False', 'ContainersNotReady', message);
      this.#condition(runtime, 'Ready', 'False', 'ContainersNotReady', message);
    }
  }

  /** Deletion: SIGTERM to each running container's main process, SIGKILL to all it started after the grace period. */
  #stop(runtime: PodRuntime, graceSeconds: number): void {
    const first = !runtime.stopping;
    runtime.stopping = true;
    runtime.abort.abort();
    for (const container of runtime.containers) {
      const pid = container.child?.pid;
      if (
        pid === undefined ||
        container.child?.exitCode !== null ||
        container.child.signalCode !== null
      )
        continue;
      if (first) {
        const fieldPath = `spec.${container.init ? 'initContainers' : 'containers'}{${container.spec.name}}`;
        this.#event(
          runtime,
          'Normal',
          'Killing',
          `Stopping container ${container.spec.name}`,
          'kubelet',
          fieldPath,
        );
      }
      if (graceSeconds <= 0) killContainer(container, 'SIGKILL');
      else if (first) {
        try {
          process.kill(pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        runtime.killTimers.push(
          setTimeout(() => killContainer(container, 'SIGKILL'), graceSeconds * 1000),
        );
      }
    }
  }

  /** All containers are done: terminal phase, and the pod's removal when it is being deleted. */
  async #finish(runtime: PodRuntime): Promise<void> {
    for (const timer of runtime.killTimers) clearTimeout(timer);
    for (const container of runtime.containers) container.log.end();
    const main = runtime.containers.filter((c) => !c.init);
    const succeeded = main.every((c) => c.state.terminated?.exitCode === 0);
    const started = runtime.startTime !== undefined;
    if (started || runtime.stopping) {
      runtime.phase = succeeded ? 'Succeeded' : 'Failed';
      this.#condition(runtime, 'PodReadyToStartContainers', 'False');
      this.#condition(runtime, 'ContainersReady', 'False', 'PodCompleted');
      this.#condition(runtime, 'Ready', 'False', 'PodCompleted');
      this.#sync(runtime);
    }
    const pod = this.#current(runtime);
    if (!pod || pod.metadata?.deletionTimestamp) {
      // The kubelet's final delete: a pod with finalizers (the Job controller's job-tracking
      // one) stays, terminal, until they are removed.
      if (!(pod?.metadata?.finalizers as string[] | undefined)?.length) {
        this.#store.remove('Pod', runtime.namespace, runtime.name);
      }
      rmSync(runtime.dir, { recursive: true, force: true });
      this.#pods.delete(runtime.uid);
    }
  }

  #condition(
    runtime: PodRuntime,
    type: string,
    status: 'True' | 'False',
    reason?: string,
    message?: string,
  ): void {
    const existing = runtime.conditions.get(type);
    runtime.conditions.set(type, {
      type,
      status,
      ...(reason ? { reason } : {}),
      ...(message ? { message } : {}),
      lastTransitionTime:
        existing && existing.status === status
          ? existing.lastTransitionTime
          : (timestamp() as unknown as Date),
    } as V1PodCondition);
  }

  #event(
    runtime: PodRuntime,
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
    component: 'kubelet' | 'default-scheduler',
    fieldPath?: string,
  ): void {
    const pod = this.#store.get('Pod', runtime.namespace, runtime.name);
    if (pod) this.#events.record(pod, type, reason, message, component, fieldPath);
  }

  /** Writes the runtime's view into the pod's status (conditions others own are kept). */
  #sync(runtime: PodRuntime): void {
    this.#store.mutate('Pod', runtime.namespace, runtime.name, (object) => {
      const status = (object.status ?? {}) as V1PodStatus;
      const theirs = (status.conditions ?? []).filter((c) => !runtime.conditions.has(c.type));
      const ours = [...runtime.conditions.values()].sort(
        (a, b) => CONDITION_ORDER.indexOf(a.type) - CONDITION_ORDER.indexOf(b.type),
      );
      const next: V1PodStatus = {
        ...status,
        phase: runtime.phase,
        conditions: [...theirs, ...ours],
      };
      if (runtime.startTime) {
        next.hostIP = '192.168.49.2';
        next.hostIPs = [{ ip: '192.168.49.2' }];
        next.podIP = runtime.podIP;
        next.podIPs = [{ ip: runtime.podIP ?? '' }];
        next.startTime = runtime.startTime as unknown as Date;
        const statuses = (init: boolean) =>
          runtime.containers.filter((c) => c.init === init).map((c) => containerStatus(c));
        next.containerStatuses = statuses(false);
        if (runtime.containers.some((c) => c.init)) next.initContainerStatuses = statuses(true);
      }
      const before = JSON.stringify(object.status);
      object.status = next;
      return JSON.stringify(next) !== before;
    });
  }
}

function newContainer(spec: V1Container, init: boolean): ContainerRuntime {
  return {
    spec,
    init,
    sidecar: init && spec.restartPolicy === 'Always',
    state: { waiting: { reason: init ? 'PodInitializing' : 'ContainerCreating' } },
    started: false,
    log: new ContainerLog(),
    oomKilled: false,
  };
}

function containerStatus(container: ContainerRuntime): V1ContainerStatus {
  const running = 'running' in container.state && container.state.running !== undefined;
  return {
    name: container.spec.name,
    state: container.state,
    lastState: {},
    ready: running,
    restartCount: 0,
    image: container.spec.image ?? '',
    imageID: container.imageID ?? '',
    ...(container.containerID ? { containerID: container.containerID } : {}),
    started: running,
  };
}

/** A timestamp as the JSON carries it (the client's types say Date, the wire says string). */
function wireTime(text = timestamp()): Date {
  return text as unknown as Date;
}

function readMessage(file: string): string {
  try {
    const bytes = readFileSync(file);
    return bytes.subarray(0, MAX_MESSAGE_BYTES).toString('utf8');
  } catch {
    return '';
  }
}

function isRunning(child: ChildProcess | undefined): boolean {
  return !!child && child.exitCode === null && child.signalCode === null;
}

/** Signals the container's process group and every process of its tree. */
function killContainer(container: ContainerRuntime, signal: NodeJS.Signals): void {
  const pid = container.child?.pid;
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // The group is already gone.
  }
  container.tree?.kill(signal);
}

/** The pod's CPU request as the scheduler sums it: its containers, or its largest init container. */
function cpuRequestMillis(pod: V1Pod): number {
  const millis = (c: V1Container) =>
    Math.round((parseQuantity(String(c.resources?.requests?.cpu ?? '0')) ?? 0) * 1000);
  const main = (pod.spec?.containers ?? []).reduce((sum, c) => sum + millis(c), 0);
  const init = Math.max(0, ...(pod.spec?.initContainers ?? []).map(millis));
  return Math.max(main, init);
}

function unschedulableMessage(pod: V1Pod): string {
  const limits = pod.spec?.containers.flatMap((c) => Object.keys(c.resources?.limits ?? {})) ?? [];
  const extended = limits.find((name) => name.includes('/'));
  const why = extended ? `Insufficient ${extended}` : 'Insufficient memory';
  return `0/3 nodes are available: 3 ${why}. preemption: 0/3 nodes are available: 3 No preemption victims found for incoming pod.`;
}

export type { KubeObject };

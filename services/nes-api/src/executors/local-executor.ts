/**
 * The local executor (the embedded default): one runner worker process per run on this machine,
 * and for each run a sandbox of its own (sandbox/): a private directory with one kernel inside
 * bubblewrap, pre-started a few per kernelspec, so a claimed run starts executing in
 * milliseconds on a warm kernel that no other run can see or touch. The worker (outside the
 * sandbox, trusted) drives the kernel and writes the output store; the notebook's code never
 * sees the store, the data directory or the service's environment. An IPython kernel is driven
 * directly over ZeroMQ (`ipc` sockets in the run's directory, sandbox/kernel-sandbox.ts); other
 * kernels get a Jupyter Server of their own in the sandbox (sandbox/run-sandbox.ts).
 *
 * Progress comes back over each worker's IPC channel (only the parent can read it; a Kubernetes
 * pod has no such channel, and its executor will need a per-run token). When a worker dies
 * without a result, its exit code or signal is the truth: mapped to a failure class, with the
 * output notebook it autosaved kept.
 *
 * Workers die with this process: their IPC channel closes (and they watch their parent pid), so
 * they cancel, save the notebook and exit; sandboxes die with it too (bwrap --die-with-parent).
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringifyParametersJson } from '@nes/notebook';
import { failureFromExit } from '@nes/run-contract';
import {
  availableKernels,
  DEFAULT_KERNEL,
  findKernelSpec,
  type KernelSpec,
  kernelSpecName,
  locateJupyterServer,
  oomKilledSince,
  type ParentMessage,
  type RunEvent,
  readOomKillCount,
  WATCHED_RUN_AUTOSAVE_POLICY,
  WORKER_ENTRY,
  type WorkerMessage,
  type WorkerResult,
  type WorkerRunSpec,
} from '@nes/runner';
import type { Run, RunProgress } from '../runs/run-model.ts';
import { checkedResults } from '../runs/run-results.ts';
import type { ComponentLog, LogFields } from '../service-log.ts';
import type { Executor, ExecutorObservation, ExecutorUpdate } from './executor.ts';
import { runEnvironment, workerEnvironment } from './sandbox/environment.ts';
import { type ForkTemplate, startForkTemplate, withForkTemplate } from './sandbox/fork-template.ts';
import { KernelSandbox, socketPathsFit, startsWithoutServer } from './sandbox/kernel-sandbox.ts';
import { lowerPriority } from './sandbox/priority.ts';
import { RunSandbox, type RunSandboxOptions } from './sandbox/run-sandbox.ts';
import { planSandbox, type SandboxSettings, type SandboxStatus } from './sandbox/sandbox-plan.ts';
import { SandboxPool } from './sandbox/sandbox-pool.ts';
import { UpdateListeners } from './update-listeners.ts';

export interface LocalExecutorOptions {
  /** The output store every run writes to: `gs://bucket/prefix`, `file:///dir` or a directory. */
  store: string;
  /**
   * Where runs' private directories are made (one per run, `0700`, removed when it ends);
   * created `0711` if missing: others may pass through it to a directory they were given, never
   * list it.
   */
  workDir: string;
  /** Pre-started sandboxes (server and kernel) per kernelspec. Default: two of DEFAULT_KERNEL. */
  warmKernels?: Record<string, number>;
  /** Worker processes kept loaded and waiting. Default 1. */
  warmWorkers?: number;
  /** Directories local notebooks may come from (default: NES_NOTEBOOK_ROOTS in the workers). */
  localRoots?: string[];
  /** Extra environment for workers (never for kernels: see `runEnv`). */
  env?: Record<string, string>;
  /** The GitHub token workers read notebooks with (sent over IPC, in no environment). */
  githubToken?: string;
  /** Set in every run's environment (its Jupyter Server and kernel). */
  runEnv?: Record<string, string>;
  /** Names of the service's environment variables passed on to every run (NES_RUN_ENV). */
  passEnv?: string[];
  /**
   * Python kernels forked from a template that has imported these modules (sandbox/
   * fork-template.ts); false starts every kernel normally. Default `{ preload: ['numpy'] }`.
   */
  forkKernels?: { preload: string[] } | false;
  /**
   * How a run reaches an IPython kernel: `none` (default), directly over ZeroMQ inside its
   * sandbox; `per-run`, through a Jupyter Server of its own in the sandbox, as every other
   * kernel (NES_KERNEL_SERVER).
   */
  kernelServer?: 'none' | 'per-run';
  /**
   * CPU niceness of runs' processes (worker, server, kernel): when the machine is busy the
   * service is served first. Default 0 (as the service); `nes serve` sets NES_RUN_NICE (10).
   */
  nice?: number;
  /** The sandbox runs execute in (sandbox/sandbox-plan.ts). Default: bubblewrap when usable. */
  sandbox?: Partial<SandboxSettings>;
  /** Autosave policy of the runs. Default: WATCHED_RUN_AUTOSAVE_POLICY, as on Kubernetes. */
  autosave?: { minIntervalMs?: number; onCellComplete?: boolean; longCellEverySeconds?: number };
  /** After a cancel, time the worker has to save and exit before SIGTERM, then SIGKILL. */
  cancelGraceMs?: number;
  /** How long a finished run stays observable as 'finished'. Default 10 minutes. */
  keepFinishedMs?: number;
  log?: ComponentLog;
}

type RunState = 'pending' | 'running' | 'finished';

interface LocalRun {
  runId: string;
  state: RunState;
  child: ChildProcess | null;
  sandbox: RunSandbox | KernelSandbox | null;
  cancelRequested: boolean;
  result: WorkerResult | null;
  outputUri: string | null;
  progress: RunProgress;
  oomBaseline: number | null;
  stderrTail: string;
  exited: Promise<void>;
  markExited: () => void;
  killTimers: NodeJS.Timeout[];
}

interface Warm {
  child: ChildProcess;
  ready: Promise<void>;
  stderrTail: { text: string };
}

const STDERR_TAIL = 4096;
/** Longest wait, after a worker's exit, for the messages still in its channel. */
const IPC_DRAIN_MS = 5000;
/**
 * After a run whose worker finished cleanly (having asked its kernel to shut down), how long
 * the kernel has to exit by itself before its sandbox is ended (jupyter_client's
 * shutdown_wait_time).
 */
const KERNEL_EXIT_GRACE_MS = 5000;
/** How long the kernel names seen in a sandbox are trusted (see `kernels`). */
const KERNEL_NAMES_TTL_MS = 10_000;

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class LocalExecutor implements Executor {
  readonly name = 'local';
  readonly #options: LocalExecutorOptions;
  readonly #runs = new Map<string, LocalRun>();
  readonly #updates = new UpdateListeners((level, message, fields) =>
    this.#log(level, message, fields),
  );
  readonly #warm: Warm[] = [];
  /** Sandboxes of finished runs, ending (their kernels' graceful exits). */
  readonly #retiring = new Set<RunSandbox | KernelSandbox>();
  #kernelNames: { names: string[]; at: number } | null = null;
  #sandbox: RunSandboxOptions | null = null;
  #status: SandboxStatus | null = null;
  #pool: SandboxPool<RunSandbox | KernelSandbox> | null = null;
  /** Where kernelspecs are looked up as the runs' environment sees them. */
  #kernelEnv: NodeJS.ProcessEnv = {};
  #python: string | null = null;
  #template: ForkTemplate | null = null;
  #starting: Promise<void> | null = null;
  #stopping = false;

  constructor(options: LocalExecutorOptions) {
    this.#options = options;
  }

  #log(level: 'info' | 'warn' | 'error', message: string, fields?: LogFields): void {
    this.#options.log?.(level, message, fields);
  }

  /** Decides the sandbox, starts the warm sandboxes and the warm workers. Idempotent. */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const workDir = resolve(this.#options.workDir);
    mkdirSync(workDir, { recursive: true, mode: 0o711 });
    chmodSync(workDir, 0o711);
    // Directories of runs a killed service left behind (their sandboxes died with it).
    for (const entry of readdirSync(workDir)) {
      const owner = Number(entry.split('-')[0]);
      if (!Number.isInteger(owner) || !processAlive(owner)) {
        rmSync(join(workDir, entry), { recursive: true, force: true });
      }
    }
    const t0 = performance.now();
    const planned = await planSandbox(this.#options.sandbox ?? {}, {
      hidden: [...(this.#options.sandbox?.hiddenPaths ?? []), workDir],
    });
    this.#status = planned.status;
    if (planned.status.sandboxed) {
      this.#log('info', `runs execute in a sandbox: ${planned.status.detail}`);
    } else {
      this.#log('warn', planned.status.detail);
    }
    const fork = this.#options.forkKernels ?? { preload: ['numpy'] };
    this.#template =
      fork === false
        ? null
        : await startForkTemplate(
            planned.plan,
            planned.pathFirst,
            fork.preload,
            (level, message) => this.#log(level, message),
            this.#options.nice ?? 0,
          );
    this.#sandbox = withForkTemplate(
      {
        baseDir: workDir,
        plan: planned.plan,
        sourceEnv: process.env,
        pathFirst: planned.pathFirst,
        ...(this.#options.passEnv ? { passEnv: this.#options.passEnv } : {}),
        ...(this.#options.runEnv ? { env: this.#options.runEnv } : {}),
        ...(this.#options.nice ? { nice: this.#options.nice } : {}),
      },
      this.#template,
    );
    const binDir = locateJupyterServer().binDir;
    this.#python = binDir === null ? null : join(binDir, 'python');
    this.#kernelEnv = {
      ...runEnvironment(process.env, {
        home: '/nonexistent',
        pathFirst: planned.pathFirst,
        ...(this.#options.passEnv ? { passNames: this.#options.passEnv } : {}),
        ...(this.#options.runEnv ? { explicit: this.#options.runEnv } : {}),
      }),
      ...(process.env.NES_JUPYTER_BIN ? { NES_JUPYTER_BIN: process.env.NES_JUPYTER_BIN } : {}),
    };
    const direct = (this.#options.kernelServer ?? 'none') === 'none' && socketPathsFit(workDir);
    if (!direct && (this.#options.kernelServer ?? 'none') === 'none') {
      this.#log('warn', `${workDir} is too long a path for kernel sockets: runs use a server`);
    }
    const sandbox = this.#sandbox;
    this.#pool = new SandboxPool<RunSandbox | KernelSandbox>({
      launch: async (name) => {
        const spec = direct ? this.#directSpec(name) : null;
        if (spec !== null) return KernelSandbox.start(sandbox, spec, this.#python);
        return await (await RunSandbox.start(sandbox)).startKernelOrStop(name);
      },
      names: async () => availableKernels(this.#kernelEnv),
      sizes: this.#options.warmKernels ?? { [DEFAULT_KERNEL]: 2 },
      onError: (message) => this.#log('warn', message),
    });
    const names = await this.#pool.start();
    this.#kernelNames = { names, at: performance.now() };
    this.#refillWorkers();
    this.#log('info', `local executor ready in ${Math.round(performance.now() - t0)} ms`);
  }

  /** The spec of kernel `name` when it starts without a server (kernel-sandbox.ts). */
  #directSpec(name: string): KernelSpec | null {
    let spec: KernelSpec | null;
    try {
      spec = findKernelSpec(kernelSpecName(name), this.#kernelEnv);
    } catch {
      return null; // a malformed kernel.json: the server reports it
    }
    return spec !== null && startsWithoutServer(spec) ? spec : null;
  }

  /** Whether runs are sandboxed, and how (for the start-up banner, health and tests). */
  get sandboxStatus(): SandboxStatus | null {
    return this.#status;
  }

  get pool(): SandboxPool<RunSandbox | KernelSandbox> | null {
    return this.#pool;
  }

  /** The kernel fork server, when kernels are forked (tests and benchmarks look at it). */
  get forkTemplate(): ForkTemplate | null {
    return this.#template;
  }

  /** Workers loaded and waiting for a run. */
  get warmWorkerCount(): number {
    return this.#warm.length;
  }

  /**
   * Kernel names inside the sandbox. Every submit asks (to refuse an unknown kernel before
   * anything runs), so the answer is kept for a few seconds instead of costing an HTTP round trip
   * each time; a newly installed kernelspec shows up within that time (asked of a warm sandbox).
   */
  async kernels(): Promise<string[]> {
    const now = performance.now();
    if (this.#kernelNames !== null && now - this.#kernelNames.at < KERNEL_NAMES_TTL_MS) {
      return this.#kernelNames.names;
    }
    await this.start();
    const names = (await this.#pool?.refreshNames()) ?? this.#pool?.names ?? [];
    this.#kernelNames = { names, at: now };
    return names;
  }

  onUpdate(listener: (update: ExecutorUpdate) => void): void {
    this.#updates.add(listener);
  }

  // Workers ---------------------------------------------------------------------------------

  #spawnWorker(): Warm {
    const env = workerEnvironment(process.env, {
      ...this.#options.env,
      NES_STORE: this.#options.store,
      NODE_COMPILE_CACHE:
        process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'nes-node-compile-cache'),
    });
    const child = spawn(process.execPath, [WORKER_ENTRY], {
      cwd: resolve(this.#options.workDir),
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    if (this.#options.nice && child.pid !== undefined) lowerPriority(child.pid, this.#options.nice);
    const stderrTail = { text: '' };
    const keep = (chunk: Buffer) => {
      stderrTail.text = (stderrTail.text + chunk.toString('utf8')).slice(-STDERR_TAIL);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const ready = new Promise<void>((resolveReady, reject) => {
      const onMessage = (message: WorkerMessage) => {
        if (message.type === 'ready') {
          child.off('message', onMessage);
          resolveReady();
        }
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) =>
        reject(
          new Error(
            `runner worker ${signal ?? `exited with code ${code}`} before it was ready: ${stderrTail.text.trim()}`,
          ),
        ),
      );
      child.once('error', reject);
    });
    ready.catch(() => undefined);
    return { child, ready, stderrTail };
  }

  #refillWorkers(): void {
    const want = this.#options.warmWorkers ?? 1;
    while (!this.#stopping && this.#warm.length < want) {
      const warm = this.#spawnWorker();
      this.#warm.push(warm);
      warm.ready.catch((error: unknown) => {
        const at = this.#warm.indexOf(warm);
        if (at >= 0) this.#warm.splice(at, 1);
        if (!this.#stopping) this.#log('warn', String(error));
      });
    }
  }

  async #takeWorker(): Promise<Warm> {
    const warm = this.#warm.shift() ?? this.#spawnWorker();
    this.#refillWorkers();
    await warm.ready;
    return warm;
  }

  // Runs ------------------------------------------------------------------------------------

  #specFor(run: Run): WorkerRunSpec {
    return {
      runId: run.id,
      notebook: run.notebook,
      ref: run.ref,
      commitSha: run.commitSha,
      parametersJson: stringifyParametersJson(run.parameters),
      kernel: run.kernel,
      store: this.#options.store,
      ...(this.#options.githubToken ? { githubToken: this.#options.githubToken } : {}),
      timeoutSeconds: run.timeoutSeconds,
      autosave: this.#options.autosave ?? WATCHED_RUN_AUTOSAVE_POLICY,
      ...(this.#options.localRoots ? { localRoots: this.#options.localRoots } : {}),
      labels: run.labels,
      createdAt: run.createdAt,
    };
  }

  async launch(run: Run): Promise<void> {
    if (this.#runs.has(run.id)) return;
    if (this.#stopping) throw new Error('the local executor is shutting down');
    let markExited = () => {};
    const exited = new Promise<void>((r) => {
      markExited = r;
    });
    const local: LocalRun = {
      runId: run.id,
      state: 'pending',
      child: null,
      sandbox: null,
      cancelRequested: false,
      result: null,
      outputUri: null,
      progress: { cellsDone: 0, cellsTotal: 0, currentCell: null },
      oomBaseline: readOomKillCount(),
      stderrTail: '',
      exited,
      markExited,
      killTimers: [],
    };
    this.#runs.set(run.id, local);
    let warm: Warm;
    let spec: WorkerRunSpec;
    try {
      await this.start();
      // Built before a worker is taken: a spec that cannot be sent fails the launch, and no
      // worker is left waiting for it.
      spec = this.#specFor(run);
      warm = await this.#takeWorker();
    } catch (error) {
      this.#runs.delete(run.id);
      markExited();
      throw error;
    }
    const child = warm.child;
    local.child = child;
    child.on('message', (message: WorkerMessage) => this.#onMessage(local, message));
    child.once('exit', (code, signal) => {
      local.stderrTail = warm.stderrTail.text;
      // Its last messages (the result) can still be in the channel when its exit is seen: the
      // channel closes once they are read.
      const drained = child.connected
        ? new Promise<void>((resolve) => {
            child.once('disconnect', resolve);
            setTimeout(resolve, IPC_DRAIN_MS).unref();
          })
        : Promise.resolve();
      void drained.then(() => this.#onExit(local, code, signal));
    });
    this.#send(local, { type: 'run', spec });
    if (local.cancelRequested) this.#requestStop(local);
  }

  #send(local: LocalRun, message: ParentMessage): void {
    const child = local.child;
    // A message that cannot be delivered must not leave a worker waiting for it: end the
    // worker, and its exit settles the run.
    if (child?.connected) child.send(message, (error) => error && child.kill('SIGKILL'));
  }

  #onMessage(local: LocalRun, message: WorkerMessage): void {
    const runId = local.runId;
    switch (message.type) {
      case 'need_kernel': {
        void this.#giveSandbox(local, message.kernelName);
        return;
      }
      case 'stop_kernel':
        void local.sandbox?.stop();
        return;
      case 'event':
        this.#onRunEvent(local, message.event);
        return;
      case 'output':
        this.#updates.emit({
          type: 'log',
          runId,
          time: new Date().toISOString(),
          stream: message.stream,
          text: message.text,
        });
        return;
      case 'result':
        local.result = message.result;
        if (message.result.outputUri) local.outputUri = message.result.outputUri;
        return;
      case 'ready':
        return;
    }
  }

  /**
   * The run's sandbox: a warm one with the kernel, or (a kernel the pool does not keep) a fresh
   * one; without a kernel when the name is unknown, so the engine reports the kernels there are.
   */
  async #giveSandbox(local: LocalRun, kernelName: string): Promise<void> {
    let sandbox: RunSandbox | KernelSandbox | null = null;
    try {
      sandbox = (await this.#pool?.take(kernelName)) ?? null;
      if (sandbox === null && this.#sandbox !== null && !this.#stopping) {
        sandbox = await RunSandbox.start(this.#sandbox);
      }
    } catch (error) {
      this.#log(
        'warn',
        `run ${local.runId}: no sandbox for a ${kernelName} kernel: ${String(error)}`,
        { runId: local.runId },
      );
    }
    if (sandbox !== null && (local.state === 'finished' || this.#stopping)) {
      await sandbox.stop();
      sandbox = null;
    }
    local.sandbox = sandbox;
    if (sandbox !== null && this.#status?.sandboxed === false) {
      this.#updates.emit({
        type: 'log',
        runId: local.runId,
        time: new Date().toISOString(),
        stream: 'runner',
        text: `warn: ${this.#status.detail}`,
      });
    }
    if (sandbox instanceof KernelSandbox) {
      this.#send(local, { type: 'kernel', kernelId: null, direct: sandbox.direct });
      // The kernel's end is seen here (its sandbox's process), and only here.
      void sandbox.exited.then((exit) => this.#send(local, { type: 'kernel_exit', ...exit }));
      return;
    }
    this.#send(local, {
      type: 'kernel',
      kernelId: sandbox?.kernel?.id ?? null,
      ...(sandbox !== null ? { jupyter: sandbox.endpoint } : {}),
    });
  }

  #onRunEvent(local: LocalRun, event: RunEvent): void {
    const runId = local.runId;
    switch (event.type) {
      case 'started':
        local.state = 'running';
        local.progress = { cellsDone: 0, cellsTotal: event.cellsTotal, currentCell: null };
        this.#updates.emit({ type: 'running', runId, time: event.time });
        this.#updates.emit({ type: 'progress', runId, progress: { ...local.progress } });
        return;
      case 'cell_started':
        local.progress = { ...local.progress, currentCell: event.cellIndex };
        this.#updates.emit({ type: 'progress', runId, progress: { ...local.progress } });
        return;
      case 'cell_finished':
        local.progress = { ...local.progress, cellsDone: local.progress.cellsDone + 1 };
        this.#updates.emit({ type: 'progress', runId, progress: { ...local.progress } });
        return;
      case 'saved':
        if (local.outputUri !== event.uri) {
          local.outputUri = event.uri;
          this.#updates.emit({ type: 'saved', runId, outputUri: event.uri });
        }
        return;
      case 'log':
        this.#updates.emit({
          type: 'log',
          runId,
          time: event.time,
          stream: 'runner',
          text: `${event.level}: ${event.message}`,
        });
        return;
      default:
        return;
    }
  }

  async #onExit(
    local: LocalRun,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): Promise<void> {
    for (const timer of local.killTimers) clearTimeout(timer);
    local.state = 'finished';
    const sandbox = local.sandbox;
    if (sandbox instanceof RunSandbox) {
      // Everything the run's code started dies with its sandbox, and its directory goes.
      await sandbox.stop();
    } else if (sandbox !== null) {
      // The same, once the run is reported: a kernel asked to shut down exits in its own time
      // (its atexit handlers run), not the run's; within a grace, then it is killed.
      this.#retiring.add(sandbox);
      void sandbox
        .stop(local.result !== null && !this.#stopping ? KERNEL_EXIT_GRACE_MS : 0)
        .finally(() => this.#retiring.delete(sandbox));
    }
    const time = new Date().toISOString();
    const result = local.result;
    if (result) {
      this.#updates.emit({
        type: 'finished',
        runId: local.runId,
        time,
        status: result.status,
        error: result.error,
        outputUri: result.outputUri ?? local.outputUri,
        results: checkedResults(result.results),
      });
    } else {
      // Died without its result: the exit is all there is (the run contract reads it).
      const verdict = failureFromExit(
        {
          exitCode: code,
          signal,
          oomKilled: signal === 'SIGKILL' && oomKilledSince(local.oomBaseline),
          lastWords: local.stderrTail,
          resultMissing: true,
        },
        local.cancelRequested,
      );
      if (verdict.error && verdict.error.class !== 'cancelled') {
        this.#log('warn', `run ${local.runId}: ${verdict.error.evalue}`, { runId: local.runId });
      }
      this.#updates.emit({
        type: 'finished',
        runId: local.runId,
        time,
        status: verdict.status,
        error: verdict.error,
        outputUri: local.outputUri,
      });
    }
    local.markExited();
    const forget = setTimeout(
      () => this.#runs.delete(local.runId),
      this.#options.keepFinishedMs ?? 600_000,
    );
    forget.unref();
  }

  /** Cancel, then SIGTERM (the worker also saves on it), then SIGKILL. */
  #requestStop(local: LocalRun): void {
    const child = local.child;
    if (!child || local.state === 'finished') return;
    this.#send(local, { type: 'cancel' });
    const grace = this.#options.cancelGraceMs ?? 15_000;
    local.killTimers.push(
      setTimeout(() => child.kill('SIGTERM'), grace).unref(),
      setTimeout(() => child.kill('SIGKILL'), grace * 2).unref(),
    );
  }

  async cancel(runId: string): Promise<void> {
    const local = this.#runs.get(runId);
    if (!local || local.state === 'finished' || local.cancelRequested) return;
    local.cancelRequested = true;
    this.#requestStop(local);
  }

  async observe(runId: string): Promise<ExecutorObservation> {
    const local = this.#runs.get(runId);
    if (!local) return { runId, state: 'unknown' };
    return { runId, state: local.state };
  }

  /** The worker process of a run (tests kill it to check what a lost runner does). */
  pidOf(runId: string): number | null {
    return this.#runs.get(runId)?.child?.pid ?? null;
  }

  async shutdown(graceMs: number): Promise<void> {
    this.#stopping = true;
    const active = () => [...this.#runs.values()].filter((r) => r.state !== 'finished');
    const allExited = () => Promise.all(active().map((r) => r.exited));
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      allExited(),
      new Promise<void>((r) => {
        timer = setTimeout(r, graceMs);
      }),
    ]);
    clearTimeout(timer);
    for (const local of active()) {
      local.cancelRequested = true;
      this.#requestStop(local);
    }
    await allExited();
    for (const warm of this.#warm.splice(0)) {
      if (warm.child.connected) warm.child.disconnect();
      warm.child.kill('SIGTERM');
    }
    await Promise.all([...this.#retiring].map((sandbox) => sandbox.stop()));
    await this.#pool?.close();
    await this.#template?.stop();
  }
}

/**
 * One run's place to execute without a Jupyter Server: a private directory and one IPython
 * kernel inside the sandbox (bubblewrap, bubblewrap.ts), which the run's worker, outside the
 * sandbox, drives directly over ZeroMQ. The kernel's sockets are `ipc` sockets in the run's own
 * directory (`k-1` ... `k-5`): the worker reaches them through the file system, so the sandbox
 * needs no network (`NES_SANDBOX_NETWORK=none` works alike), and no other run can see them
 * (their directories are not in each other's sandboxes). They go with the directory.
 *
 * The kernel is forked from the template (fork-template.ts) when there is one: the sandbox's
 * only process is a bare Python (`launch.py`, no site imports) that asks the template over its
 * socket, so the kernel is forked into the sandbox's namespaces and user, and that process then
 * lives as long as the kernel and exits with its status. Without a template (or when it refuses)
 * the launcher becomes the kernel by a normal start. Either way the sandbox's end is the kernel's
 * end: the executor watches one process (bwrap) and tells the worker (`kernel_exit`).
 *
 * Why not a server per run: its start (a Python and jupyter_server's imports per run) was most of
 * a run's start on a small machine; see ARCHITECTURE.md ("Forked kernels without a server").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type DirectKernel, KERNEL_LAUNCHER, type KernelSpec } from '@nes/runner';
import { bubblewrapCommand } from './bubblewrap.ts';
import { lowerPriority, nicedCommand } from './priority.ts';
import { makeRunDirectory, type RunSandboxOptions } from './run-sandbox.ts';

/** Socket files `k-1` (shell) ... `k-5` (heartbeat) in the run's directory. */
const SOCKET_PREFIX = 'k';
const PORTS = { shell: 1, iopub: 2, stdin: 3, control: 4, hb: 5 } as const;
const CONNECTION_FILE = '.nes-kernel.json';
/** A Unix socket path holds 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;
const STDERR_TAIL = 8192;
/** Time an unsandboxed kernel has to end on SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 1000;

export interface KernelExit {
  how: string;
  stderrTail: string;
}

/**
 * Whether kernel `spec` runs without a server here: an IPython kernel (ipykernel answers
 * interrupt_request on its control channel, so no signal has to cross the sandbox) started by
 * its argv or by the fork provisioner. Any other provisioner needs a Jupyter Server.
 */
export function startsWithoutServer(spec: KernelSpec): boolean {
  if (spec.provisioner !== null && spec.provisioner !== 'nes-fork-provisioner') return false;
  return spec.argv.some((arg) => arg === 'ipykernel_launcher' || arg === 'ipykernel');
}

/** Whether run directories under `baseDir` are short enough for their sockets' paths. */
export function socketPathsFit(baseDir: string): boolean {
  // <baseDir>/<pid>-<16 hex>/k-5
  return `${baseDir}/${process.pid}-0123456789abcdef/${SOCKET_PREFIX}-5`.length < MAX_SOCKET_PATH;
}

export class KernelSandbox {
  readonly id: string;
  readonly dir: string;
  /** What the worker needs to reach the kernel. */
  readonly direct: DirectKernel;
  /** Settles when the kernel (and so the sandbox) is gone. */
  readonly exited: Promise<KernelExit>;
  readonly #child: ChildProcess;
  readonly #sandboxed: boolean;
  #exit: KernelExit | null = null;
  #stopped: Promise<void> | null = null;
  #endGrace: (() => void) | null = null;

  private constructor(
    id: string,
    dir: string,
    direct: DirectKernel,
    child: ChildProcess,
    sandboxed: boolean,
  ) {
    this.id = id;
    this.dir = dir;
    this.direct = direct;
    this.#child = child;
    this.#sandboxed = sandboxed;
    let tail = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      tail = (tail + chunk).slice(-STDERR_TAIL);
    });
    this.exited = new Promise<KernelExit>((resolve) => {
      const done = (how: string) => {
        this.#exit ??= { how, stderrTail: tail };
        resolve(this.#exit);
      };
      child.once('exit', (code, signal) => done(signal ? `signal ${signal}` : `exit code ${code}`));
      child.once('error', (error) => done(`could not be started: ${error.message}`));
    });
  }

  /**
   * Launches kernel `spec` in a new sandbox. Returns at once: the kernel becomes ready while the
   * sandbox waits in the pool (the worker's client waits for it, as for any kernel start).
   */
  static start(options: RunSandboxOptions, spec: KernelSpec, python: string | null): KernelSandbox {
    const { id, dir, inside, env, own } = makeRunDirectory(options);
    try {
      const key = randomUUID();
      const connectionFile = join(dir, CONNECTION_FILE);
      writeFileSync(
        connectionFile,
        JSON.stringify({
          transport: 'ipc',
          ip: join(inside, SOCKET_PREFIX),
          shell_port: PORTS.shell,
          iopub_port: PORTS.iopub,
          stdin_port: PORTS.stdin,
          control_port: PORTS.control,
          hb_port: PORTS.hb,
          key,
          signature_scheme: 'hmac-sha256',
          kernel_name: spec.name,
        }),
        { mode: 0o600 },
      );
      own(connectionFile);
      const argv = spec.argv.map((arg) =>
        arg
          .replaceAll('{connection_file}', join(inside, CONNECTION_FILE))
          .replaceAll('{resource_dir}', spec.resourceDir),
      );
      // jupyter_client's format_kernel_cmd: a bare `python` is the kernel environment's.
      if (python !== null && /^python(\d+(\.\d+)?)?$/.test(argv[0] ?? '')) argv[0] = python;
      for (const [name, value] of Object.entries(spec.env)) {
        env[name] = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, n) => env[n] ?? whole);
      }
      // With a template to fork from, a bare Python asks it (the socket is in NES_FORK_SERVER);
      // launch.py starts the kernel normally when it cannot.
      const forking = Boolean(env.NES_FORK_SERVER) && python !== null && argv[0] === python;
      const launch = forking
        ? { file: python as string, args: ['-I', '-S', KERNEL_LAUNCHER, '--', ...argv] }
        : { file: argv[0] as string, args: argv.slice(1) };
      if (!forking) delete env.NES_FORK_SERVER;
      const plan = options.plan;
      const nice = options.nice ?? 0;
      const command =
        plan === null ? launch : nicedCommand(nice, bubblewrapCommand(plan, { dir, ...launch }));
      const child = spawn(command.file, command.args, {
        cwd: dir,
        env,
        stdio: ['ignore', 'ignore', 'pipe'],
        // Unsandboxed, its own process group: stopping it reaches what it started.
        detached: plan === null,
      });
      if (plan === null && child.pid !== undefined) lowerPriority(child.pid, nice);
      const socket = (port: number) => `ipc://${join(dir, `${SOCKET_PREFIX}-${port}`)}`;
      const direct: DirectKernel = {
        spec: { ...spec, interruptMode: 'message' },
        endpoints: {
          shell: socket(PORTS.shell),
          iopub: socket(PORTS.iopub),
          control: socket(PORTS.control),
          key,
          signatureScheme: 'hmac-sha256',
        },
      };
      return new KernelSandbox(id, dir, direct, child, plan !== null);
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  /** The sandbox's outermost process (bwrap, or the kernel's launcher when unsandboxed). */
  get pid(): number {
    return this.#child.pid ?? -1;
  }

  /** Whether the kernel is still there (a pooled one may have died waiting). */
  async alive(): Promise<boolean> {
    return this.#exit === null && this.#stopped === null;
  }

  /**
   * Kills everything of the run and removes its files (its sockets with them): after up to
   * `graceMs` for a kernel that was asked to shut down to exit by itself. A later call without a
   * grace cuts a running one short.
   */
  stop(graceMs = 0): Promise<void> {
    if (graceMs === 0) this.#endGrace?.();
    this.#stopped ??= (async () => {
      if (this.#exit === null && graceMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => this.#endGrace?.(), graceMs);
          this.#endGrace = () => {
            clearTimeout(timer);
            this.#endGrace = null;
            resolve();
          };
          void this.exited.then(() => this.#endGrace?.());
        });
      }
      if (this.#exit === null) {
        if (this.#sandboxed) {
          // bwrap's init dies with it, and with the init every process of the sandbox's pid
          // namespace (a forked kernel too, though the template is its parent).
          this.#child.kill('SIGKILL');
        } else {
          this.#signalGroup('SIGTERM');
          const timer = setTimeout(() => this.#signalGroup('SIGKILL'), STOP_GRACE_MS);
          await this.exited;
          clearTimeout(timer);
        }
        await this.exited;
      }
      // In the thread pool: the service's event loop serves the API meanwhile. What cannot be
      // removed now is removed at the executor's next start (its pid is in the name).
      await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    })();
    return this.#stopped;
  }

  #signalGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-(this.#child.pid ?? 0), signal);
    } catch {
      // already gone
    }
  }
}

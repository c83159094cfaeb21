/**
 * One run's place to execute with a Jupyter Server: a private directory, a Jupyter Server of its
 * own started inside the sandbox (bubblewrap, see bubblewrap.ts) and one kernel on it. The local
 * executor uses it for kernels that need the server (kernelspecs with another provisioner,
 * non-IPython kernels); IPython kernels start without one (kernel-sandbox.ts). Each serves
 * exactly one run and is destroyed with it (processes killed, directory removed).
 *
 * A server per run, not one shared: a run's output is buffered by its own server, so a notebook
 * that floods its server exhausts only itself; and the server's token opens nothing but the run's
 * own kernel, which the notebook already controls.
 */
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, rmSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import {
  getKernel,
  listKernelSpecs,
  type PrivateJupyterServer,
  startJupyterServer,
  startKernel,
} from '@nes/runner';
import { bubblewrapCommand, RUN_DIR_INSIDE, type SandboxPlan } from './bubblewrap.ts';
import { runEnvironment } from './environment.ts';
import { lowerPriority, nicedCommand } from './priority.ts';

export interface RunSandboxOptions {
  /** Where run directories are made (each `0700`, owned by the sandbox user). */
  baseDir: string;
  /** The sandbox; null runs unsandboxed (private directory and clean environment only). */
  plan: SandboxPlan | null;
  /** The service's environment, filtered through the allow-list. */
  sourceEnv: NodeJS.ProcessEnv;
  /** Directories first on the run's PATH (the kernel environment's, Node's). */
  pathFirst: string[];
  passEnv?: readonly string[];
  env?: Record<string, string>;
  startTimeoutMs?: number;
  /** CPU niceness of the server and its kernel (priority.ts); default 0. */
  nice?: number;
}

/** A run's private directory, made and owned for the sandbox, and the environment of its code. */
export interface RunDirectory {
  id: string;
  /** On the host. */
  dir: string;
  /** As the run sees it: /home/run in the sandbox, the host path unsandboxed. */
  inside: string;
  env: Record<string, string>;
  /** Gives a path in it to the sandbox's user (when runs switch users). */
  own: (path: string) => void;
}

export function makeRunDirectory(options: RunSandboxOptions): RunDirectory {
  // The executor's pid first: a later start removes only directories whose executor is gone.
  const id = `${process.pid}-${randomBytes(8).toString('hex')}`;
  const dir = join(options.baseDir, id);
  mkdirSync(dir, { mode: 0o700 });
  const user = options.plan?.user ?? null;
  const own = (path: string) => {
    if (user !== null) chownSync(path, user.uid, user.gid);
  };
  own(dir);
  const plan = options.plan;
  const inside = plan === null ? dir : RUN_DIR_INSIDE;
  const env = runEnvironment(options.sourceEnv, {
    home: inside,
    pathFirst: options.pathFirst,
    ...(options.passEnv ? { passNames: options.passEnv } : {}),
    explicit: {
      // Unsandboxed, /tmp is the host's: keep the run's temporary files in its directory.
      ...(plan === null ? { TMPDIR: dir } : {}),
      ...options.env,
    },
  });
  return { id, dir, inside, env, own };
}

export interface SandboxEndpoint {
  url: string;
  token: string;
}

export class RunSandbox {
  readonly id: string;
  readonly dir: string;
  readonly #server: PrivateJupyterServer;
  #kernel: { id: string; name: string } | null = null;
  #stopped: Promise<void> | null = null;

  private constructor(id: string, dir: string, server: PrivateJupyterServer) {
    this.id = id;
    this.dir = dir;
    this.#server = server;
  }

  /** A private directory and a Jupyter Server inside the sandbox, ready for a kernel. */
  static async start(options: RunSandboxOptions): Promise<RunSandbox> {
    const { id, dir, inside, env, own } = makeRunDirectory(options);
    const plan = options.plan;
    const nice = options.nice ?? 0;
    let server: PrivateJupyterServer;
    try {
      server = await startJupyterServer({
        rootDir: inside,
        baseEnv: env,
        tokenDir: dir,
        prepareTokenFile: own,
        visiblePath: (path) => join(inside, basename(path)),
        // Without a network of its own the server is reached through a socket in its directory.
        ...(plan?.network === 'none'
          ? {
              unixSocket: {
                path: join(dir, '.jupyter-server.sock'),
                visiblePath: join(inside, '.jupyter-server.sock'),
              },
            }
          : {}),
        // Started niced (sandbox and all): it and its kernel yield the CPU to the service.
        ...(plan !== null
          ? { wrap: (launch) => nicedCommand(nice, bubblewrapCommand(plan, { dir, ...launch })) }
          : {}),
        ...(options.startTimeoutMs !== undefined ? { timeoutMs: options.startTimeoutMs } : {}),
      });
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    // Unsandboxed there is no wrapper (the server watches this process itself): lowered once
    // started, before its kernel is.
    if (plan === null) lowerPriority(server.pid, nice);
    return new RunSandbox(id, dir, server);
  }

  /** The server, for the run's worker (which starts kernels in the server's root). */
  get endpoint(): SandboxEndpoint {
    return { url: this.#server.url, token: this.#server.token };
  }

  /** The sandbox's outermost process (bwrap, or the server when unsandboxed). */
  get pid(): number {
    return this.#server.pid;
  }

  get kernel(): { id: string; name: string } | null {
    return this.#kernel;
  }

  async kernelNames(): Promise<string[]> {
    return (await listKernelSpecs(this.endpoint, AbortSignal.timeout(10_000))).names;
  }

  /** Starts the run's one kernel, in the run's directory. */
  async startKernel(name: string): Promise<string> {
    const model = await startKernel(this.endpoint, name, '', AbortSignal.timeout(60_000));
    this.#kernel = { id: model.id, name };
    return model.id;
  }

  /** Starts the run's one kernel; stops the sandbox when that fails. */
  async startKernelOrStop(name: string): Promise<this> {
    try {
      await this.startKernel(name);
    } catch (error) {
      await this.stop();
      throw error;
    }
    return this;
  }

  /** Whether the kernel is still there and not dead (a pooled one may have died waiting). */
  async alive(): Promise<boolean> {
    if (this.#kernel === null || this.#stopped !== null) return false;
    try {
      const model = await getKernel(this.endpoint, this.#kernel.id, AbortSignal.timeout(2000));
      return model.execution_state !== 'dead';
    } catch {
      return false;
    }
  }

  /** Kills everything of the run (the sandbox's processes die together) and removes its files. */
  stop(): Promise<void> {
    this.#stopped ??= (async () => {
      await this.#server.stop().catch(() => undefined);
      // In the thread pool: the service's event loop serves the API meanwhile. What cannot be
      // removed now is removed at the executor's next start (its pid is in the name).
      await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
    })();
    return this.#stopped;
  }
}

/**
 * A cold nes-run's time is mostly the Jupyter Server's start and the kernel's. Rather than start
 * them one after the other once everything else is ready (as the engine does on its own), nes-run
 * starts the private server as soon as it knows it will execute, while it fetches and prepares the
 * notebook and loads the engine's modules, then asks the server for the kernel as soon as it knows
 * the kernel's name and working directory. The engine then runs on that server and kernel (the
 * same path as a warm pool's pre-started kernel: it owns the kernel and shuts it down); nes-run
 * stops the server afterwards.
 *
 * Nothing here may change what a run does: when the early server or kernel fails, the engine
 * starts its own as before, and reports that failure the way it always has.
 */
import { resolve } from 'node:path';
import { startKernel } from '../jupyter-api.ts';
import type { PrivateJupyterServer } from '../jupyter-server.ts';
import { kernelSpecName } from '../kernel-names.ts';

export interface EarlyTarget {
  url: string;
  token: string;
  rootDir: string;
  kernelId?: string;
}

/**
 * Whether a command line may execute a notebook on a private server, read from argv alone (no
 * module loaded yet): the bin starts the server before it even loads the CLI when this says yes.
 * A wrong yes costs a server started and stopped; the options decide what actually runs.
 */
export function mayExecute(argv: readonly string[]): boolean {
  const positional = argv.some((arg) => !arg.startsWith('-'));
  const never = ['--help', '-h', '--version', '--prepare-only', '--help-notebook', '--jupyter-url'];
  return positional && !argv.some((arg) => never.includes(arg.split('=')[0] ?? arg));
}

export class EarlyStart {
  readonly #server: Promise<PrivateJupyterServer | null>;
  #log: ((message: string) => void) | null;
  readonly #pending: string[] = [];
  readonly #startTimeoutMs: number;
  #kernel: Promise<string | null> | null = null;

  private constructor(server: Promise<PrivateJupyterServer | null>, startTimeoutMs: number) {
    this.#server = server;
    this.#startTimeoutMs = startTimeoutMs;
    this.#log = null;
  }

  /** Starts the private server now. Never rejects: a failure leaves the engine to try itself. */
  static begin(startTimeoutMs: number): EarlyStart {
    const t0 = performance.now();
    let early: EarlyStart | null = null;
    const server = import('../jupyter-server.ts')
      .then(({ startJupyterServer }) => startJupyterServer({ timeoutMs: startTimeoutMs }))
      .then(
        (started) => {
          const message = `Jupyter Server ready in ${Math.round(performance.now() - t0)} ms`;
          if (early) early.#say(message);
          return started;
        },
        () => null,
      );
    early = new EarlyStart(server, startTimeoutMs);
    return early;
  }

  /** Where its log lines go (held until the CLI's reporter exists). */
  logTo(log: (message: string) => void): void {
    this.#log = log;
    for (const message of this.#pending.splice(0)) log(message);
  }

  #say(message: string): void {
    if (this.#log) this.#log(message);
    else this.#pending.push(message);
  }

  /** Asks for the kernel once the server is up, in `cwd` (the engine's rule for its path). */
  startKernel(kernelName: string, cwd: string | undefined): void {
    if (this.#kernel) return;
    this.#kernel = this.#server.then(async (server) => {
      if (server === null) return null;
      const t1 = performance.now();
      try {
        const path = resolve(cwd ?? process.cwd()).slice(1); // relative to the root, '/'
        const model = await startKernel(
          server,
          kernelSpecName(kernelName),
          path,
          AbortSignal.timeout(this.#startTimeoutMs),
        );
        this.#say(`Kernel ${kernelName} ready in ${Math.round(performance.now() - t1)} ms`);
        return model.id;
      } catch {
        return null; // the engine starts it and reports why it cannot
      }
    });
  }

  /**
   * What the engine runs on: the server (and kernel) started early, or null when the server did
   * not start, for the engine to start its own.
   */
  async target(): Promise<EarlyTarget | null> {
    const server = await this.#server;
    if (server === null) return null;
    const kernelId = this.#kernel ? await this.#kernel : null;
    return {
      url: server.url,
      token: server.token,
      rootDir: server.rootDir,
      ...(kernelId !== null ? { kernelId } : {}),
    };
  }

  /**
   * Stops the server. A kernel started early and never handed to the engine goes with it (the
   * server shuts its kernels down when it stops).
   */
  async stop(): Promise<void> {
    const server = await this.#server;
    if (this.#kernel) await this.#kernel;
    await server?.stop();
  }
}

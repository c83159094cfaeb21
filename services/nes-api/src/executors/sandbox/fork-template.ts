/**
 * The kernel environment's fork server (services/runner/python/nes_kernel_fork): one template
 * process, outside every sandbox, that has imported ipykernel, IPython and the configured modules
 * and forks each run's kernel into the sandbox of the Jupyter Server that asks. Its socket's
 * directory is bound read-only into every sandbox (`NES_FORK_SERVER` names it), and the kernels'
 * python3 kernelspec selects the fork provisioner, which falls back to a normal start whenever
 * the template is not there. The template is restarted when it dies (with a back-off); kernels
 * it forked live on.
 *
 * Why one template outside the sandboxes, and how a forked kernel still lands inside its run's
 * sandbox: docs/security.md ("Forked kernels").
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { locateJupyterServer } from '@nes/runner';
import type { SandboxPlan } from './bubblewrap.ts';
import { runEnvironment } from './environment.ts';
import { nicedCommand } from './priority.ts';
import type { RunSandboxOptions } from './run-sandbox.ts';

export interface ForkTemplateOptions {
  /** The kernel environment's Python (`.tools/py/bin/python`). */
  python: string;
  /** Modules imported besides ipykernel and IPython (NES_FORK_PRELOAD). */
  preload: string[];
  /** The template's environment: allow-listed like a run's, so it holds no secret. */
  env: Record<string, string>;
  /** CPU niceness (priority.ts): the kernels it forks inherit it. Default 0. */
  nice?: number;
  log?: (level: 'info' | 'warn', message: string) => void;
}

export interface ForkTemplateReport {
  pid: number;
  python: string;
  modules: Record<string, { ok: boolean; ms?: number; error?: string }>;
}

const RESTART_BACKOFF_MS = [100, 500, 2000, 10_000];

export class ForkTemplate {
  /** The directory bound into sandboxes; the socket inside it is `socketPath`. */
  readonly dir: string;
  readonly socketPath: string;
  readonly #options: ForkTemplateOptions;
  #child: ChildProcess | null = null;
  #report: ForkTemplateReport | null = null;
  #restarts = 0;
  #failures = 0;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  private constructor(options: ForkTemplateOptions) {
    this.#options = options;
    // Short and outside the data directory: a Unix socket path is limited to 107 bytes.
    this.dir = mkdtempSync(join(tmpdir(), 'nes-fork-'));
    chmodSync(this.dir, 0o755); // the sandbox's user must reach the socket
    this.socketPath = join(this.dir, 'kernels.sock');
  }

  /** Starts the template and waits until it serves (or refuses, with its reason). */
  static async start(options: ForkTemplateOptions): Promise<ForkTemplate> {
    const template = new ForkTemplate(options);
    try {
      await template.#spawn();
    } catch (error) {
      template.#stopped = true;
      rmSync(template.dir, { recursive: true, force: true });
      throw error;
    }
    return template;
  }

  /** What the running template imported (null while it restarts). */
  get report(): ForkTemplateReport | null {
    return this.#report;
  }

  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** How many times the template was restarted after dying. */
  get restarts(): number {
    return this.#restarts;
  }

  #spawn(): Promise<void> {
    // --exit-with-stdin: the template ends when this process does, even after a SIGKILL.
    const args = [
      '-m',
      'nes_kernel_fork.template',
      '--socket',
      this.socketPath,
      '--exit-with-stdin',
    ];
    args.push('--preload', this.#options.preload.join(','));
    const command = nicedCommand(this.#options.nice ?? 0, { file: this.#options.python, args });
    const child = spawn(command.file, command.args, {
      cwd: this.dir,
      // HOME is the template's own directory: nothing of a user's profile is read before a fork.
      env: { ...this.#options.env, HOME: this.dir },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.#child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    // After start-up the template writes only what went wrong (a refused or failed fork).
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
      if (this.#report !== null) this.#options.log?.('warn', line);
    });
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.once('line', (line) => {
        try {
          const report = JSON.parse(line) as ForkTemplateReport & { ready?: boolean };
          if (report.ready !== true) throw new Error(line);
          this.#report = { pid: report.pid, python: report.python, modules: report.modules };
          ready = true;
          this.#failures = 0;
          const failed = Object.entries(report.modules).filter(([, m]) => !m.ok);
          this.#options.log?.(
            failed.length > 0 ? 'warn' : 'info',
            `kernel fork server ready (pid ${report.pid}): imported ${Object.entries(report.modules)
              .filter(([, m]) => m.ok)
              .map(([name, m]) => `${name} ${m.ms} ms`)
              .join(', ')}${failed.map(([name, m]) => `; ${name} failed: ${m.error}`).join('')}`,
          );
          resolve();
        } catch (error) {
          reject(new Error(`the kernel fork server answered ${String(error)}`));
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        lines.close();
        this.#report = null;
        this.#child = null;
        const why = `${signal ?? `exit code ${code}`}${stderr ? `: ${stderr.trim()}` : ''}`;
        if (!ready) {
          reject(new Error(`the kernel fork server did not start (${why})`));
          return;
        }
        if (this.#stopped) return;
        // Kernels start normally meanwhile (the provisioner finds no socket).
        this.#options.log?.('warn', `kernel fork server died (${why}); restarting it`);
        this.#scheduleRestart();
      });
    });
  }

  #scheduleRestart(): void {
    const delay = RESTART_BACKOFF_MS[Math.min(this.#failures, RESTART_BACKOFF_MS.length - 1)];
    this.#timer = setTimeout(() => {
      this.#timer = null;
      if (this.#stopped) return;
      this.#spawn().then(
        () => {
          this.#restarts += 1;
        },
        (error: unknown) => {
          this.#failures += 1;
          this.#options.log?.('warn', String(error));
          if (!this.#stopped) this.#scheduleRestart();
        },
      );
    }, delay);
    this.#timer.unref();
  }

  /** Stops the template (kernels it forked are their sandboxes' business) and removes its socket. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    const child = this.#child;
    if (child !== null && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The template for the runs' kernel environment, or null (kernels then start normally) when
 * there is none to fork into this plan's sandboxes: a sandbox in a user namespace (the service
 * is not root) cannot be joined by a process outside it that is not its owner's namespace.
 */
export async function startForkTemplate(
  plan: SandboxPlan | null,
  pathFirst: string[],
  preload: string[],
  log: (level: 'info' | 'warn', message: string) => void,
  nice = 0,
): Promise<ForkTemplate | null> {
  if (plan !== null && plan.user === null) {
    log('info', 'kernels start normally: forking into a user-namespace sandbox is not supported');
    return null;
  }
  const binDir = locateJupyterServer().binDir;
  if (binDir === null || !existsSync(join(binDir, 'python'))) {
    log('info', 'kernels start normally: no kernel environment to fork from');
    return null;
  }
  try {
    return await ForkTemplate.start({
      python: join(binDir, 'python'),
      preload,
      env: runEnvironment(process.env, { home: '/nonexistent', pathFirst }),
      nice,
      log,
    });
  } catch (error) {
    log('warn', `kernels start normally: ${String(error)}`);
    return null;
  }
}

/** Sandbox options whose servers ask the template for their kernels. */
export function withForkTemplate(
  options: RunSandboxOptions,
  template: ForkTemplate | null,
): RunSandboxOptions {
  if (template === null) return options;
  return {
    ...options,
    plan:
      options.plan === null
        ? null
        : { ...options.plan, readOnly: [...options.plan.readOnly, template.dir] },
    env: { ...options.env, NES_FORK_SERVER: template.socketPath },
  };
}

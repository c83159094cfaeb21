/**
 * A cold nes-run's time is mostly the kernel's start. Rather than start it once everything else
 * is ready (as the engine does on its own), nes-run launches it as early as it can guess which
 * kernel the run needs: from the command line alone, before it even loads the CLI's modules (a
 * local notebook names its kernel; -k and --cwd are read from argv), and otherwise as soon as
 * the CLI knows the kernel's name and working directory. The engine then runs on that kernel
 * (and shuts it down).
 *
 * Nothing here may change what a run does: a kernel is only handed over when its kernelspec and
 * working directory are exactly the run's; a wrong guess is shut down and the right kernel
 * started; when the early kernel fails to start, the engine starts its own as before and reports
 * that failure the way it always has.
 */
import { readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KernelClient } from '../kernel-client.ts';
import { kernelSpecName } from '../kernel-names.ts';
import { mark } from './timings.ts';

/**
 * Whether a command line may execute a notebook on a kernel nes-run launches, read from argv
 * alone (no module loaded yet). A wrong yes costs nothing until a kernel is guessed.
 */
export function mayExecute(argv: readonly string[]): boolean {
  const positional = argv.some((arg) => !arg.startsWith('-'));
  const never = ['--help', '-h', '--version', '--prepare-only', '--help-notebook', '--jupyter-url'];
  return positional && !argv.some((arg) => never.includes(arg.split('=')[0] ?? arg));
}

/** What a kernel is started for: its kernelspec name (jupyter_client's alias applied) and cwd. */
interface KernelKey {
  specName: string;
  cwd: string;
}

/**
 * The kernel a command line will most likely run on, from argv and the notebook's metadata, or
 * null when it cannot be told cheaply (a remote notebook, a repository context).
 */
export function guessKernel(argv: readonly string[], baseCwd = process.cwd()): KernelKey | null {
  if (argv.some((arg) => arg === '--context' || arg.startsWith('--context='))) return null;
  let kernel = optionValue(argv, ['-k', '--kernel']);
  const cwd = resolve(baseCwd, optionValue(argv, ['--cwd']) ?? '.');
  if (kernel === undefined) {
    const input = argv.find((arg) => arg.endsWith('.ipynb') && !arg.includes('://'));
    if (input === undefined) return null;
    try {
      const path = resolve(baseCwd, input);
      // A huge notebook is left to the CLI: reading it twice would cost more than it saves.
      if (statSync(path).size > 4 * 1024 * 1024) return null;
      const nb = JSON.parse(readFileSync(path, 'utf8')) as {
        metadata?: { kernelspec?: { name?: unknown } };
      };
      const name = nb.metadata?.kernelspec?.name;
      if (typeof name !== 'string' || name === '') return null;
      kernel = name;
    } catch {
      return null;
    }
  }
  return { specName: specNameOf(kernel), cwd };
}

function optionValue(argv: readonly string[], names: string[]): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    for (const name of names) {
      if (arg === name && i + 1 < argv.length) value = argv[i + 1];
      else if (arg.startsWith(`${name}=`)) value = arg.slice(name.length + 1);
    }
  }
  return value;
}

/** The kernelspec a name starts (Jupyter's kernelspec names are case-insensitive). */
function specNameOf(name: string): string {
  return kernelSpecName(name).toLowerCase();
}

interface Started {
  key: KernelKey;
  kernel: Promise<KernelClient | null>;
}

export class EarlyStart {
  readonly #startTimeoutMs: number;
  #log: ((message: string) => void) | null = null;
  readonly #pending: string[] = [];
  #started: Started | null = null;

  private constructor(startTimeoutMs: number) {
    this.#startTimeoutMs = startTimeoutMs;
  }

  /** Launches the kernel the command line most likely needs, if it can tell which. */
  static begin(startTimeoutMs: number, argv: readonly string[] = []): EarlyStart {
    const early = new EarlyStart(startTimeoutMs);
    const guess = guessKernel(argv);
    if (guess !== null) early.#launch(guess);
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

  #launch(key: KernelKey): void {
    const t0 = performance.now();
    mark('kernel launched');
    const kernel = Promise.all([import('../local-kernel.ts'), import('../jupyter-server.ts')])
      .then(([{ LocalKernel }, { locateJupyterServer }]) =>
        LocalKernel.start({
          kernelName: key.specName,
          cwd: key.cwd,
          binDir: locateJupyterServer().binDir,
          signal: AbortSignal.timeout(this.#startTimeoutMs),
        }),
      )
      .then(
        (started) => {
          mark('kernel ready');
          this.#say(`Kernel ${key.specName} ready in ${Math.round(performance.now() - t0)} ms`);
          return started as KernelClient;
        },
        () => null, // the engine starts it and reports why it cannot
      );
    this.#started = { key, kernel };
  }

  /**
   * The run's kernel and working directory are known: keep the kernel started on a guess when
   * it is that one, otherwise (or when none was guessed) start the right one now.
   */
  startKernel(kernelName: string, cwd: string | undefined): void {
    const key = { specName: specNameOf(kernelName), cwd: resolve(cwd ?? process.cwd()) };
    const started = this.#started;
    if (started && started.key.specName === key.specName && started.key.cwd === key.cwd) return;
    if (started) void started.kernel.then((kernel) => kernel?.shutdown());
    this.#launch(key);
  }

  /** The kernel for the engine to take over (it shuts it down), or null to start its own. */
  kernel(): Promise<KernelClient | null> {
    return this.#started?.kernel ?? Promise.resolve(null);
  }

  /**
   * Shuts the early kernel down, whoever has it: called once the run is over (the engine has
   * shut down a kernel it took over; shutting down again is a no-op), or when nothing ran.
   */
  async stop(): Promise<void> {
    const kernel = await this.#started?.kernel;
    await kernel?.shutdown();
  }
}

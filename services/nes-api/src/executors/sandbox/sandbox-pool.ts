/**
 * Warm run sandboxes, a few per kernelspec, so a run attaches to a ready kernel (inside its own
 * sandbox and server) instead of waiting for both to start. Each sandbox serves one run: `take`
 * hands it over for good (the executor destroys it when the run ends) and a replacement starts
 * in the background. A sandbox whose kernel died while it waited is destroyed, never handed out.
 */
import { RunSandbox, type RunSandboxOptions } from './run-sandbox.ts';

export interface SandboxPoolOptions {
  sandbox: RunSandboxOptions;
  /** Ready sandboxes to keep per kernelspec name; names the environment lacks are ignored. */
  sizes: Record<string, number>;
  onError?: (message: string) => void;
}

export class SandboxPool {
  readonly #options: SandboxPoolOptions;
  readonly #ready = new Map<string, RunSandbox[]>();
  readonly #starting = new Map<string, number>();
  readonly #pending = new Set<Promise<unknown>>();
  #names: Set<string> | null = null;
  #closed = false;

  constructor(options: SandboxPoolOptions) {
    this.#options = options;
  }

  /**
   * Starts one sandbox to learn which kernelspecs exist inside it (what runs will see), keeps it
   * warm for the first configured kernel, and starts filling the rest.
   */
  async start(): Promise<string[]> {
    const first = await RunSandbox.start(this.#options.sandbox);
    let names: string[];
    try {
      names = await first.kernelNames();
    } catch (error) {
      await first.stop();
      throw error;
    }
    this.#names = new Set(names);
    const warmFirst = Object.entries(this.#options.sizes).find(
      ([name, size]) => size > 0 && this.#names?.has(name),
    )?.[0];
    if (warmFirst === undefined) {
      await first.stop();
    } else {
      this.#track(warmFirst, this.#warm(first, warmFirst));
    }
    for (const name of Object.keys(this.#options.sizes)) this.#refill(name);
    return names;
  }

  /** Kernelspec names inside the sandbox, as of the last look. */
  get names(): string[] {
    return [...(this.#names ?? [])].sort();
  }

  /** Asks a ready sandbox again (a kernelspec installed since shows up); null if none is ready. */
  async refreshNames(): Promise<string[] | null> {
    const any = [...this.#ready.values()].flat()[0];
    if (any === undefined) return null;
    try {
      const names = await any.kernelNames();
      this.#names = new Set(names);
      return names;
    } catch {
      return null;
    }
  }

  /** Sandboxes ready now, per kernel name (for tests and metrics). */
  readyCount(name: string): number {
    return this.#ready.get(name)?.length ?? 0;
  }

  /** The ready sandboxes of a kernel name, to look at (benchmarks measure their processes). */
  ready(name: string): readonly RunSandbox[] {
    return [...(this.#ready.get(name) ?? [])];
  }

  /**
   * A sandbox with a kernel of this name, now the caller's: a pooled one when one is ready and
   * alive, else one started for the caller. Null when no such kernelspec exists (the run then
   * fails with the engine's clear error) or the pool is closed.
   */
  async take(name: string): Promise<RunSandbox | null> {
    if (this.#closed) return null;
    if (this.#names !== null && !this.#names.has(name)) return null;
    const ready = this.#ready.get(name) ?? [];
    while (ready.length > 0) {
      const sandbox = ready.shift() as RunSandbox;
      this.#refill(name);
      if (await sandbox.alive()) return sandbox;
      void sandbox.stop();
    }
    this.#refill(name);
    const fresh = await RunSandbox.start(this.#options.sandbox);
    try {
      await fresh.startKernel(name);
    } catch (error) {
      await fresh.stop();
      throw error;
    }
    return fresh;
  }

  async #warm(sandbox: RunSandbox, name: string): Promise<void> {
    try {
      await sandbox.startKernel(name);
    } catch (error) {
      await sandbox.stop();
      throw error;
    }
    if (this.#closed) {
      await sandbox.stop();
      return;
    }
    const list = this.#ready.get(name) ?? [];
    list.push(sandbox);
    this.#ready.set(name, list);
  }

  #track(name: string, work: Promise<void>): void {
    this.#starting.set(name, (this.#starting.get(name) ?? 0) + 1);
    const done = work
      .catch((error: unknown) => {
        if (!this.#closed) {
          this.#options.onError?.(`could not pre-start a ${name} sandbox: ${String(error)}`);
        }
      })
      .finally(() => {
        this.#starting.set(name, (this.#starting.get(name) ?? 1) - 1);
        this.#pending.delete(done);
      });
    this.#pending.add(done);
  }

  #refill(name: string): void {
    const want = this.#options.sizes[name] ?? 0;
    if (this.#closed || want <= 0 || (this.#names !== null && !this.#names.has(name))) return;
    const have = (this.#ready.get(name)?.length ?? 0) + (this.#starting.get(name) ?? 0);
    for (let i = have; i < want; i += 1) {
      this.#track(
        name,
        RunSandbox.start(this.#options.sandbox).then((sandbox) => this.#warm(sandbox, name)),
      );
    }
  }

  /** Destroys every pooled sandbox (and waits for those still starting); later `take`s get null. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#pending]);
    const all = [...this.#ready.values()].flat();
    this.#ready.clear();
    await Promise.all(all.map((sandbox) => sandbox.stop()));
  }
}

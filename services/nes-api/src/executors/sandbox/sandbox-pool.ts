/**
 * Warm run sandboxes, a few per kernelspec, so a run gets a kernel already started (inside its
 * own sandbox) instead of waiting for one. Each sandbox serves one run: `take` hands it over for
 * good (the executor destroys it when the run ends) and a replacement starts in the background.
 * A sandbox whose kernel died while it waited is destroyed, never handed out.
 *
 * What a sandbox is (a kernel reached directly, kernel-sandbox.ts, or a Jupyter Server with its
 * kernel, run-sandbox.ts) is the launcher's business.
 */

export interface PooledSandbox {
  readonly id: string;
  readonly dir: string;
  /** The sandbox's outermost process. */
  readonly pid: number;
  alive(): Promise<boolean>;
  /** Ends it, after up to `graceMs` for its kernel to exit by itself. */
  stop(graceMs?: number): Promise<void>;
}

export interface SandboxPoolOptions<S extends PooledSandbox> {
  /** A new sandbox with a kernel of this name (started, or starting). */
  launch: (name: string) => Promise<S>;
  /** Kernelspec names the runs' kernel environment has (what runs will see). */
  names: () => Promise<string[]>;
  /** Ready sandboxes to keep per kernelspec name; names the environment lacks are ignored. */
  sizes: Record<string, number>;
  onError?: (message: string) => void;
}

export class SandboxPool<S extends PooledSandbox> {
  readonly #options: SandboxPoolOptions<S>;
  readonly #ready = new Map<string, S[]>();
  readonly #starting = new Map<string, number>();
  readonly #pending = new Set<Promise<unknown>>();
  #names: Set<string> | null = null;
  #closed = false;

  constructor(options: SandboxPoolOptions<S>) {
    this.#options = options;
  }

  /** Learns which kernelspecs exist and starts filling the pool. */
  async start(): Promise<string[]> {
    const names = await this.#options.names();
    this.#names = new Set(names);
    for (const name of Object.keys(this.#options.sizes)) this.#refill(name);
    return names;
  }

  /** Kernelspec names, as of the last look. */
  get names(): string[] {
    return [...(this.#names ?? [])].sort();
  }

  /** Looks again (a kernelspec installed since shows up); null if that fails. */
  async refreshNames(): Promise<string[] | null> {
    try {
      const names = await this.#options.names();
      this.#names = new Set(names);
      for (const name of Object.keys(this.#options.sizes)) this.#refill(name);
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
  ready(name: string): readonly S[] {
    return [...(this.#ready.get(name) ?? [])];
  }

  /**
   * A sandbox with a kernel of this name, now the caller's: a pooled one when one is ready and
   * alive, else one started for the caller. Null when no such kernelspec exists (the run then
   * fails with the engine's clear error) or the pool is closed.
   */
  async take(name: string): Promise<S | null> {
    if (this.#closed) return null;
    if (this.#names !== null && !this.#names.has(name)) return null;
    const ready = this.#ready.get(name) ?? [];
    // Replacements start after the caller has its sandbox (starting one costs a process spawn).
    const refillSoon = () => setImmediate(() => this.#refill(name));
    while (ready.length > 0) {
      const sandbox = ready.shift() as S;
      if (await sandbox.alive()) {
        refillSoon();
        return sandbox;
      }
      void sandbox.stop();
    }
    refillSoon();
    return await this.#options.launch(name);
  }

  async #warm(name: string): Promise<void> {
    const sandbox = await this.#options.launch(name);
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
    for (let i = have; i < want; i += 1) this.#track(name, this.#warm(name));
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

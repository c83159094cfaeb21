/**
 * Pre-started kernels on the local executor's shared Jupyter Server, a few per kernelspec, so a
 * run attaches to a ready kernel instead of waiting ~0.5 s for one. Each kernel serves one run:
 * `take` hands it over for good (the run shuts it down) and a replacement starts in the
 * background. A kernel that died while it waited is dropped, never handed out.
 */
import {
  getKernel,
  type KernelModel,
  listKernelSpecs,
  type ServerEndpoint,
  shutdownKernel,
  startKernel,
} from '@nes/runner';

export interface KernelPoolOptions {
  endpoint: ServerEndpoint;
  /** Ready kernels to keep per kernelspec name; names the server lacks are ignored. */
  sizes: Record<string, number>;
  /** Directory, relative to the server's root, the kernels start in. */
  path: string;
  onError?: (message: string) => void;
}

export class KernelPool {
  readonly #options: KernelPoolOptions;
  readonly #ready = new Map<string, string[]>();
  readonly #starting = new Map<string, number>();
  #names: Set<string> | null = null;
  #closed = false;

  constructor(options: KernelPoolOptions) {
    this.#options = options;
  }

  /** Learns which kernelspecs exist and starts filling. */
  async start(): Promise<void> {
    const specs = await listKernelSpecs(this.#options.endpoint);
    this.#names = new Set(specs.names);
    for (const name of Object.keys(this.#options.sizes)) this.#refill(name);
  }

  /** Kernels ready now, per name (for tests and metrics). */
  readyCount(name: string): number {
    return this.#ready.get(name)?.length ?? 0;
  }

  /**
   * A kernel of this name, now the caller's: a pooled one when one is ready and alive, else
   * one started for the caller. Null when the server has no such kernelspec (the run then
   * fails with the engine's clear error).
   */
  async take(name: string): Promise<string | null> {
    if (this.#closed) return null;
    if (this.#names !== null && !this.#names.has(name)) return null;
    const ready = this.#ready.get(name) ?? [];
    while (ready.length > 0) {
      const id = ready.shift() as string;
      this.#refill(name);
      if (await this.#alive(id)) return id;
      await shutdownKernel(this.#options.endpoint, id).catch(() => undefined);
    }
    this.#refill(name);
    const model = await startKernel(this.#options.endpoint, name, this.#options.path);
    return model.id;
  }

  async #alive(id: string): Promise<boolean> {
    let model: KernelModel;
    try {
      model = await getKernel(this.#options.endpoint, id, AbortSignal.timeout(2000));
    } catch {
      return false;
    }
    return model.execution_state !== 'dead';
  }

  #refill(name: string): void {
    const want = this.#options.sizes[name] ?? 0;
    if (this.#closed || want <= 0 || (this.#names !== null && !this.#names.has(name))) return;
    const have = (this.#ready.get(name)?.length ?? 0) + (this.#starting.get(name) ?? 0);
    for (let i = have; i < want; i += 1) {
      this.#starting.set(name, (this.#starting.get(name) ?? 0) + 1);
      void startKernel(this.#options.endpoint, name, this.#options.path)
        .then(async (model) => {
          if (this.#closed) {
            await shutdownKernel(this.#options.endpoint, model.id).catch(() => undefined);
            return;
          }
          const list = this.#ready.get(name) ?? [];
          list.push(model.id);
          this.#ready.set(name, list);
        })
        .catch((error: unknown) => {
          if (!this.#closed) {
            this.#options.onError?.(`could not pre-start a ${name} kernel: ${String(error)}`);
          }
        })
        .finally(() => {
          this.#starting.set(name, (this.#starting.get(name) ?? 1) - 1);
        });
    }
  }

  /** Shuts every pooled kernel down; later `take`s return null. */
  async close(): Promise<void> {
    this.#closed = true;
    const ids = [...this.#ready.values()].flat();
    this.#ready.clear();
    await Promise.all(
      ids.map((id) => shutdownKernel(this.#options.endpoint, id).catch(() => undefined)),
    );
  }
}

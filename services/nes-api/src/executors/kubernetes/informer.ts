/**
 * A client-node informer that keeps going. The library re-lists on 410 Gone, but any other
 * error stops it for good (and `stop()` itself reports an AbortError): this wrapper restarts it
 * with exponential back-off and jitter, never lets an error escape, and counts reconnects. Its
 * label selector is applied to the list call too (the library applies it to the watch only).
 */
import {
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  makeInformer,
} from '@kubernetes/client-node';

export interface InformerHandlers<T> {
  upsert(object: T): void;
  remove(object: T): void;
  /** A complete list arrived (start, re-list after 410, restart after an error). */
  listed?(objects: T[]): void;
}

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kc: KubeConfig;
  /** Watch path, e.g. /apis/batch/v1/namespaces/runs/jobs. */
  path: string;
  labelSelector: string;
  list(labelSelector: string): Promise<KubernetesListObject<T>>;
  handlers: InformerHandlers<T>;
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  minBackoffMs?: number;
  maxBackoffMs?: number;
}

export class ResilientInformer<T extends KubernetesObject> {
  readonly #o: ResilientInformerOptions<T>;
  readonly #informer: ReturnType<typeof makeInformer<T>>;
  #stopped = false;
  #restartTimer: NodeJS.Timeout | null = null;
  #backoffMs: number;
  #synced = false;
  #syncWaiters: Array<() => void> = [];
  /** Watch connections opened after the first one (drops, 410s, errors). */
  reconnects = 0;
  /** Errors that stopped the library's informer (each one restarted here). */
  errors = 0;
  #connects = 0;

  constructor(options: ResilientInformerOptions<T>) {
    this.#o = options;
    this.#backoffMs = options.minBackoffMs ?? 250;
    const list = async () => {
      const result = await options.list(options.labelSelector);
      this.#backoffMs = options.minBackoffMs ?? 250;
      this.lastError = null;
      try {
        options.handlers.listed?.(result.items);
      } catch (error) {
        options.log?.('error', `list ${options.path}: handler: ${String(error)}`);
      }
      if (!this.#synced) {
        this.#synced = true;
        for (const wake of this.#syncWaiters.splice(0)) wake();
      }
      return result;
    };
    this.#informer = makeInformer<T>(options.kc, options.path, list, options.labelSelector);
    // A handler that throws inside the library's watch callback would crash the process.
    const safely = (handler: (object: T) => void) => (object: T) => {
      // Events arriving: the watch works again, so the next failure starts from a short wait.
      this.#backoffMs = options.minBackoffMs ?? 250;
      try {
        handler(object);
      } catch (error) {
        options.log?.('error', `watch ${options.path}: handler: ${String(error)}`);
      }
    };
    this.#informer.on(
      'add',
      safely((object) => options.handlers.upsert(object)),
    );
    this.#informer.on(
      'update',
      safely((object) => options.handlers.upsert(object)),
    );
    this.#informer.on(
      'delete',
      safely((object) => options.handlers.remove(object)),
    );
    this.#informer.on('connect', () => {
      this.#connects += 1;
      if (this.#connects > 1) this.reconnects += 1;
    });
    this.#informer.on('error', (error) => this.#onError(error));
  }

  get synced(): boolean {
    return this.#synced;
  }

  /** Resolves after the first complete list (never rejects; errors are retried). */
  waitSynced(): Promise<void> {
    if (this.#synced) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  start(): void {
    this.#stopped = false;
    this.#run();
  }

  #run(): void {
    this.#informer.start().catch((error: unknown) => this.#onError(error));
  }

  /** The last error that stopped the watch or its list (null once a list succeeded). */
  lastError: string | null = null;

  #onError(error: unknown): void {
    if (this.#stopped) return; // stop() reports an AbortError: expected
    this.errors += 1;
    this.lastError = describeCause(error);
    const delay = this.#backoffMs * (0.5 + Math.random() / 2);
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#o.maxBackoffMs ?? 30_000);
    this.#o.log?.(
      'warn',
      `watch ${this.#o.path}: ${this.lastError}; restarting in ${Math.round(delay)} ms`,
    );
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = setTimeout(() => {
      this.#restartTimer = null;
      if (!this.#stopped) this.#run();
    }, delay);
    this.#restartTimer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#restartTimer) clearTimeout(this.#restartTimer);
    this.#restartTimer = null;
    await this.#informer.stop().catch(() => undefined);
    for (const wake of this.#syncWaiters.splice(0)) wake();
  }
}

/** An error's first line, with the network cause fetch hides behind "fetch failed". */
function describeCause(error: unknown): string {
  const first = String((error as Error)?.message ?? error).split('\n')[0] ?? 'error';
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  const detail = cause?.code ?? cause?.message;
  return detail && !first.includes(detail) ? `${first} (${detail})` : first;
}

/**
 * Long-lived answers (event streams, a followed log) outlive the request that authenticated
 * them. They end once their token is revoked or expires: the token of every open stream is read
 * again every interval (one query per distinct token), so revoking a token also cuts the streams
 * it opened, within one interval, not only its next request.
 */
import type { RunStore } from '../runs/run-store.ts';

export class StreamTokenWatch {
  readonly #store: RunStore;
  /** Each open stream's close function, by the id of the token that opened it. */
  readonly #streams = new Map<string, Set<() => void>>();
  readonly #timer: NodeJS.Timeout;
  #checking = false;

  constructor(store: RunStore, intervalMs: number) {
    this.#store = store;
    this.#timer = setInterval(() => void this.check(), intervalMs);
    this.#timer.unref();
  }

  /** Watches a stream opened with `tokenId`; returns what to call when the stream closes. */
  add(tokenId: string | undefined, close: () => void): () => void {
    if (tokenId === undefined) return () => {};
    let closers = this.#streams.get(tokenId);
    if (closers === undefined) {
      closers = new Set();
      this.#streams.set(tokenId, closers);
    }
    closers.add(close);
    return () => {
      closers.delete(close);
      if (closers.size === 0 && this.#streams.get(tokenId) === closers) {
        this.#streams.delete(tokenId);
      }
    };
  }

  /** Closes the streams whose token is no longer active. */
  async check(now = Date.now()): Promise<void> {
    if (this.#checking || this.#streams.size === 0) return;
    this.#checking = true;
    try {
      for (const [tokenId, closers] of [...this.#streams]) {
        const token = await this.#store.getToken(tokenId).catch(() => undefined);
        if (token === undefined) continue; // the store did not answer: look again next time
        const active =
          token !== null &&
          token.revokedAt === null &&
          (token.expiresAt === null || Date.parse(token.expiresAt) > now);
        if (!active) for (const close of [...closers]) close();
      }
    } finally {
      this.#checking = false;
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

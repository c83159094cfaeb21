/** Child processes that must not outlive this one. */
import type { ChildProcess } from 'node:child_process';

/**
 * Children started and not yet stopped, ended by `kill` if this process exits first (one 'exit'
 * listener, installed with the first child).
 */
export class KillOnExit {
  readonly #running = new Set<ChildProcess>();
  readonly #kill: (child: ChildProcess) => void;
  #hooked = false;

  constructor(kill: (child: ChildProcess) => void) {
    this.#kill = kill;
  }

  add(child: ChildProcess): void {
    this.#running.add(child);
    if (this.#hooked) return;
    this.#hooked = true;
    process.once('exit', () => {
      for (const running of this.#running) this.#kill(running);
    });
  }

  delete(child: ChildProcess): void {
    this.#running.delete(child);
  }
}

/**
 * Starting runs' sandboxes from a small helper process (spawner-process.ts) rather than from the
 * service itself. Node starts a child by forking the calling process: the service holds its
 * database's memory (PGlite's WebAssembly heap) and every fork copies its page tables, about
 * 45 ms of the service's event loop per sandbox measured on a 2-core machine under load, during
 * which no request is answered and no run event handled. The helper forks in a few milliseconds.
 * Without a helper (it could not start) processes are spawned directly, as before.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface ProcessExit {
  /** "exit code 0", "signal SIGKILL", "could not be started: ..." */
  how: string;
  stderrTail: string;
}

/** A process started for a sandbox, wherever it was started from. */
export interface SpawnedProcess {
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  /** Signals it (`group`: its whole process group, for a detached process). */
  kill(signal: NodeJS.Signals, group?: boolean): void;
}

export interface SpawnRequest {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Its own process group (unsandboxed runs, so a stop reaches what it started). */
  detached: boolean;
}

const ENTRY = fileURLToPath(new URL('./spawner-process.ts', import.meta.url));
const STDERR_TAIL = 8192;

type Reply =
  | { op: 'ready' }
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'exit'; id: number; how: string; tail: string };

interface Pending {
  spawned: (pid: number) => void;
  exited: (exit: ProcessExit) => void;
}

export class Spawner {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, Pending>();
  #next = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    child.on('message', (reply: Reply) => {
      if (reply.op === 'ready') return;
      const pending = this.#pending.get(reply.id);
      if (!pending) return;
      if (reply.op === 'spawned') {
        pending.spawned(reply.pid);
        return;
      }
      this.#pending.delete(reply.id);
      pending.spawned(-1);
      pending.exited({ how: reply.how, stderrTail: reply.tail });
    });
    child.once('exit', () => {
      // Its processes died with it (their parent): say so to whoever waits on them.
      for (const pending of this.#pending.values()) {
        pending.spawned(-1);
        pending.exited({ how: 'signal SIGKILL', stderrTail: 'the sandbox spawner exited' });
      }
      this.#pending.clear();
    });
  }

  /** The helper, ready; null when it cannot start (processes are then spawned directly). */
  static async start(): Promise<Spawner | null> {
    // Node's own flags only: nothing of the service's environment is needed to start processes
    // (each request carries its environment).
    const child = fork(ENTRY, [], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    const ready = await new Promise<boolean>((resolve) => {
      child.once('message', () => resolve(true));
      child.once('exit', () => resolve(false));
      child.once('error', () => resolve(false));
    });
    if (!ready) return null;
    child.unref();
    (child.channel as { unref?: () => void } | undefined)?.unref?.();
    return new Spawner(child);
  }

  /** Starts `request` from the helper; resolves once it has a pid. */
  async spawn(request: SpawnRequest): Promise<SpawnedProcess> {
    const id = this.#next++;
    let resolveExit!: (exit: ProcessExit) => void;
    const exited = new Promise<ProcessExit>((resolve) => {
      resolveExit = resolve;
    });
    const pid = await new Promise<number>((resolve) => {
      this.#pending.set(id, { spawned: resolve, exited: resolveExit });
      this.#child.send({ op: 'spawn', id, ...request }, (error) => {
        if (error) {
          this.#pending.delete(id);
          resolve(-1);
          resolveExit({ how: `could not be started: ${error.message}`, stderrTail: '' });
        }
      });
    });
    return {
      pid,
      exited,
      kill: (signal, group = false) => {
        if (this.#child.connected) this.#child.send({ op: 'kill', id, signal, group });
      },
    };
  }

  /** Ends the helper; what it started is killed with it. */
  close(): void {
    if (this.#child.connected) this.#child.disconnect();
  }
}

/** `request` spawned by this process itself (no helper). */
export function spawnHere(request: SpawnRequest): SpawnedProcess {
  const child = spawn(request.file, request.args, {
    cwd: request.cwd,
    env: request.env,
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: request.detached,
  });
  let tail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL);
  });
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) =>
      resolve({ how: signal ? `signal ${signal}` : `exit code ${code}`, stderrTail: tail }),
    );
    child.once('error', (error) =>
      resolve({ how: `could not be started: ${error.message}`, stderrTail: tail }),
    );
  });
  return {
    pid: child.pid ?? -1,
    exited,
    kill: (signal, group = false) => {
      try {
        if (group && child.pid !== undefined) process.kill(-child.pid, signal);
        else child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

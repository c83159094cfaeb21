/**
 * The spawner's own process (spawner.ts starts it with an IPC channel): it starts the processes
 * it is asked to, reports their pids and exits, and signals them on request. Only Node's own
 * modules are loaded, so it stays small, and forking it is cheap where forking the service (its
 * database's memory and all) costs tens of milliseconds of the service's event loop per process.
 *
 * It lives as long as the service: when the channel closes (the service is gone, however it went)
 * it kills what it started and exits; what it started with bubblewrap's --die-with-parent dies
 * with it even if it is killed itself.
 */
import { type ChildProcess, spawn } from 'node:child_process';

const STDERR_TAIL = 8192;

type Request =
  | {
      op: 'spawn';
      id: number;
      file: string;
      args: string[];
      env: Record<string, string>;
      cwd: string;
      detached: boolean;
    }
  | { op: 'kill'; id: number; signal: NodeJS.Signals; group: boolean };

/** What was started and not yet seen to exit; `group`: its own process group (detached). */
const children = new Map<number, { child: ChildProcess; group: boolean }>();

function send(message: object): void {
  if (process.connected) process.send?.(message);
}

function signalChild(child: ChildProcess, signal: NodeJS.Signals, group: boolean): void {
  try {
    if (group && child.pid !== undefined) process.kill(-child.pid, signal);
    else child.kill(signal);
  } catch {
    // already gone
  }
}

process.on('message', (request: Request) => {
  if (request.op === 'kill') {
    const started = children.get(request.id);
    if (started) signalChild(started.child, request.signal, request.group && started.group);
    return;
  }
  let tail = '';
  let child: ChildProcess;
  try {
    child = spawn(request.file, request.args, {
      cwd: request.cwd,
      env: request.env,
      stdio: ['ignore', 'ignore', 'pipe'],
      detached: request.detached,
    });
  } catch (error) {
    send({ op: 'exit', id: request.id, how: `could not be started: ${String(error)}`, tail });
    return;
  }
  children.set(request.id, { child, group: request.detached });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    tail = (tail + chunk).slice(-STDERR_TAIL);
  });
  child.once('spawn', () => send({ op: 'spawned', id: request.id, pid: child.pid }));
  let ended = false;
  const end = (how: string) => {
    if (ended) return;
    ended = true;
    children.delete(request.id);
    send({ op: 'exit', id: request.id, how, tail });
  };
  child.once('error', (error) => end(`could not be started: ${error.message}`));
  child.once('exit', (code, signal) => end(signal ? `signal ${signal}` : `exit code ${code}`));
});

process.on('disconnect', () => {
  for (const { child, group } of children.values()) signalChild(child, 'SIGKILL', group);
  process.exit(0);
});

send({ op: 'ready' });

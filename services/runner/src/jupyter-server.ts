/**
 * The runner's private Jupyter Server: loopback only, a free port, a random token, the tunings of
 * python/jupyter_server_config.py. It is stopped when the run ends, when this process exits, and
 * (by the config file) when this process dies without a chance to stop it.
 *
 * Which `jupyter-server`: `NES_JUPYTER_BIN` names the executable itself or the bin directory of
 * the Python environment that holds it; otherwise the repository's `.tools/py/bin` (made by
 * `npm run setup`); otherwise `jupyter-server` on PATH.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KillOnExit } from './exit-kill.ts';
import { getStatus, JupyterApiError, type ServerEndpoint } from './jupyter-api.ts';

export const CONFIG_FILE = fileURLToPath(
  new URL('../python/jupyter_server_config.py', import.meta.url),
);
const REPOSITORY_BIN_DIR = fileURLToPath(new URL('../../../.tools/py/bin', import.meta.url));

interface JupyterServerCommand {
  command: string;
  /** Directory of the Python environment's executables, put on the kernels' PATH. */
  binDir: string | null;
}

/**
 * Starts the server the way `jupyter-server` does, minus one import: jsonschema loads
 * `rfc3987_syntax` when present, which builds a grammar at import time (2 s of a 3 s start on
 * these machines) for a URI format Jupyter's event schemas never need checked.
 */
const FAST_START =
  "import sys; sys.modules['rfc3987_syntax'] = None; " +
  'from jupyter_server.serverapp import main; sys.exit(main())';

function launchArgs(server: JupyterServerCommand): { file: string; args: string[] } {
  const python = server.binDir ? join(server.binDir, 'python') : null;
  if (python && existsSync(python)) return { file: python, args: ['-c', FAST_START] };
  return { file: server.command, args: [] };
}

export function locateJupyterServer(env: NodeJS.ProcessEnv = process.env): JupyterServerCommand {
  const configured = env.NES_JUPYTER_BIN;
  if (configured) {
    const isDir = existsSync(configured) && statSync(configured).isDirectory();
    const command = isDir ? join(configured, 'jupyter-server') : configured;
    if (!existsSync(command)) {
      throw new Error(`NES_JUPYTER_BIN=${configured}: no jupyter-server executable at ${command}`);
    }
    return { command, binDir: dirname(command) };
  }
  const local = join(REPOSITORY_BIN_DIR, 'jupyter-server');
  if (existsSync(local)) return { command: local, binDir: REPOSITORY_BIN_DIR };
  return { command: 'jupyter-server', binDir: null };
}

export interface StartServerOptions {
  /** The server's root: kernels start in directories below it. Default `/`. */
  rootDir?: string;
  /** Extra environment for the server and so for its kernels. */
  env?: Record<string, string>;
  /**
   * The environment the server (and so every kernel) starts from. Default: this process's.
   * A service passes an allow-listed one so its own secrets never reach notebooks.
   */
  baseEnv?: NodeJS.ProcessEnv;
  /**
   * Where the one-use file carrying the access token is written; the server reads and deletes
   * it at start, so the token is in neither its environment (`/proc/PID/environ`) nor its
   * command line. The server must see it, at the same path or at `visiblePath`'s. Default: a
   * private temporary directory.
   */
  tokenDir?: string;
  /** Called with the token file before the server starts (a sandbox hands it to its user). */
  prepareTokenFile?: (path: string) => void;
  /** The path the server sees for a host path (a sandbox mounts `tokenDir` elsewhere). */
  visiblePath?: (hostPath: string) => string;
  /**
   * Wraps the launch (a sandbox: `bwrap ... -- python ...`). The server then cannot watch this
   * process as its parent; the wrapper must stop it when this process dies.
   */
  wrap?: (launch: { file: string; args: string[] }) => { file: string; args: string[] };
  /**
   * Listen on a Unix socket instead of a loopback port: the server binds `visiblePath` (its own
   * view, in a sandbox without network) and this process relays a loopback port of its own to
   * `path` (the same socket as the host sees it). The endpoint's URL is the relay's.
   */
  unixSocket?: { path: string; visiblePath: string };
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface PrivateJupyterServer extends ServerEndpoint {
  readonly rootDir: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period). Idempotent. */
  stop(): Promise<void>;
}

class ServerStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerStartError';
  }
}

const STDERR_TAIL_BYTES = 8192;
const STOP_GRACE_MS = 5000;
const POLL_MS = 25;

/** Servers started and not yet stopped: ended if this process exits without stopping them. */
const running = new KillOnExit((child) => child.kill('SIGTERM'));

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export async function startJupyterServer(
  options: StartServerOptions = {},
): Promise<PrivateJupyterServer> {
  if (options.unixSocket) return await startOnce(options, 0);
  // A free port can be taken between our probe and the server's bind: try a few.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options, await freePort());
    } catch (error) {
      const portTaken =
        error instanceof ServerStartError && /address already in use/i.test(error.message);
      if (!portTaken || attempt >= 3) throw error;
    }
  }
}

async function startOnce(options: StartServerOptions, port: number): Promise<PrivateJupyterServer> {
  const located = locateJupyterServer();
  const { command, binDir } = located;
  const launch = launchArgs(located);
  const token = randomBytes(24).toString('hex');
  const rootDir = options.rootDir ?? '/';
  const baseEnv = options.baseEnv ?? process.env;
  // The kernels' PATH is the caller's, as under papermill (`!python` and `%%bash` reach what the
  // user's shell would); Node's and the environment's directories only come after it, for
  // kernels launched through them (tslab's `#!/usr/bin/env node`).
  const pathEntries = [baseEnv.PATH, dirname(process.execPath), binDir].filter(Boolean);
  const tokenFile = writeTokenFile(token, options.tokenDir);
  options.prepareTokenFile?.(tokenFile.path);
  const server = {
    file: launch.file,
    args: [
      ...launch.args,
      `--config=${CONFIG_FILE}`,
      ...(options.unixSocket
        ? [`--ServerApp.sock=${options.unixSocket.visiblePath}`]
        : ['--ServerApp.ip=127.0.0.1', `--ServerApp.port=${port}`]),
      `--ServerApp.root_dir=${rootDir}`,
    ],
  };
  const relay = options.unixSocket ? await relayToSocket(options.unixSocket.path) : null;
  const wrapped = options.wrap ? options.wrap(server) : server;
  const child = spawn(wrapped.file, wrapped.args, {
    env: {
      ...baseEnv,
      ...options.env,
      PATH: pathEntries.join(delimiter),
      // Read (and the file deleted) by the config file: kernels never see them.
      NES_JUPYTER_TOKEN_FILE: options.visiblePath?.(tokenFile.path) ?? tokenFile.path,
      ...(options.wrap ? {} : { NES_PARENT_PID: String(process.pid) }),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
    // Its own process group: a terminal's Ctrl-C reaches the runner, which stops it in order.
    detached: true,
  });
  let stderrTail = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<string>((resolve) => {
    child.once('error', (error) => resolve(`could not start ${command}: ${error.message}`));
    child.once('exit', (code, signal) => resolve(`exited with ${signal ?? `code ${code}`}`));
  });
  let hasExited = false;
  void exited.then(() => {
    hasExited = true;
    running.delete(child);
    tokenFile.remove();
    relay?.server.close();
  });
  running.add(child);
  child.unref();
  (child.stderr as { unref?: () => void } | null)?.unref?.();

  const endpoint: ServerEndpoint = {
    url: `http://127.0.0.1:${relay ? relay.port : port}/`,
    token,
  };
  const stop = async (): Promise<void> => {
    if (hasExited) return;
    // Waiting for the exit must keep this process alive (the child is unref'd so that a
    // running server never holds the runner open): without a ref, a server slower to stop than
    // the grace timer left an await that nothing could settle.
    child.ref();
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  const timeoutMs = options.timeoutMs ?? 60_000;
  const giveUpAt = performance.now() + timeoutMs;
  try {
    for (;;) {
      options.signal?.throwIfAborted();
      if (hasExited) {
        throw new ServerStartError(
          `Jupyter Server (${command}) ${await exited} before it was ready${tail(stderrTail)}`,
        );
      }
      try {
        await getStatus(endpoint, AbortSignal.timeout(2000));
        break;
      } catch (error) {
        if (error instanceof JupyterApiError) {
          throw new ServerStartError(`Jupyter Server answered ${error.message}`);
        }
      }
      if (performance.now() > giveUpAt) {
        throw new ServerStartError(
          `Jupyter Server did not become ready within ${timeoutMs} ms${tail(stderrTail)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    // Read by now (or never will be): the token lives only in the server's memory.
    tokenFile.remove();
  }
  return { ...endpoint, rootDir, pid: child.pid ?? -1, stop };
}

/**
 * A loopback port whose connections are piped to a Unix socket (a server in a sandbox without
 * network). Closed when the server exits.
 */
async function relayToSocket(path: string): Promise<{ server: Server; port: number }> {
  const server = createServer((client) => {
    const upstream = connect(path);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream).pipe(client);
  });
  server.unref();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

/** The token in a file only this user can read, in a fresh private directory unless given one. */
function writeTokenFile(token: string, dir?: string): { path: string; remove(): void } {
  const own = dir === undefined ? mkdtempSync(join(tmpdir(), 'nes-jupyter-')) : null;
  const path = join(own ?? (dir as string), `.nes-jupyter-token-${randomBytes(6).toString('hex')}`);
  writeFileSync(path, token, { mode: 0o600 });
  chmodSync(path, 0o600);
  return {
    path,
    remove: () => rmSync(own ?? path, { recursive: true, force: true }),
  };
}

function tail(stderr: string): string {
  const text = stderr.trim();
  return text ? `:\n${text.split('\n').slice(-20).join('\n')}` : '';
}

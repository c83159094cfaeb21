/**
 * The embedded NES service as the benchmarks start it: bench/api-service.ts in its own process
 * (PGlite under a fresh data directory unless a database URL is given, the local executor),
 * with a fixed admin token and notebooks read from the benchmark's work directory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..');
const SERVICE = join(ROOT, 'bench/api-service.ts');

export interface EmbeddedService {
  url: string;
  /** The service process's pid (for memory readings). */
  pid: number;
  child: ChildProcess;
  /** SIGTERM (SIGKILL after a minute), then the data directory removed. */
  stop(): Promise<void>;
}

export interface EmbeddedServiceOptions {
  /** Notebook root and the parent of the data directory. */
  work: string;
  token: string;
  /** NES_* settings on top of the defaults (port 0, loopback, quiet log). */
  env?: Record<string, string>;
  databaseUrl?: string;
  /** Flags for node itself (e.g. --cpu-prof) and for bench/api-service.ts (e.g. --paused). */
  nodeArgs?: string[];
  serviceArgs?: string[];
}

export async function startEmbeddedService(
  options: EmbeddedServiceOptions,
): Promise<EmbeddedService> {
  const dataDir = mkdtempSync(join(options.work, 'nes-data-'));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NES_PORT: '0',
    NES_HOST: '127.0.0.1',
    NES_DATA_DIR: dataDir,
    NES_ADMIN_TOKEN: options.token,
    NES_NOTEBOOK_ROOTS: options.work,
    NES_LOG_LEVEL: 'error',
    ...options.env,
  };
  delete env.NES_DATABASE_URL;
  if (options.databaseUrl) env.NES_DATABASE_URL = options.databaseUrl;
  const child = spawn(
    process.execPath,
    [...(options.nodeArgs ?? []), SERVICE, ...(options.serviceArgs ?? [])],
    { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const first = await new Promise<string>((done, fail) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', done);
    child.once('exit', (code) => fail(new Error(`the service exited ${code}:\n${stderr}`)));
  });
  const { url, pid } = JSON.parse(first) as { url: string; pid: number };
  return {
    url,
    pid,
    child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Two trivial cells, the first tagged `parameters` (so `x` can be injected). */
export function trivialNotebook(): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
    },
    cells: ['x = 1', 'print(x * 2)'].map((source, i) => ({
      cell_type: 'code',
      id: `c${i}`,
      metadata: i === 0 ? { tags: ['parameters'] } : {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  return `${JSON.stringify(nb, null, 1)}\n`;
}

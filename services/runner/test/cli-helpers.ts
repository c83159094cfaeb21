/** Spawning the real nes-run (node bin) for the CLI tests. */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const NES_RUN = join(ROOT, 'services/runner/bin/nes-run.ts');
export const HELLO = join(ROOT, 'examples/hello.ipynb');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function startNesRun(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
) {
  const child = spawn(process.execPath, [NES_RUN, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  if (options.stdin !== undefined) child.stdin.end(options.stdin);
  else child.stdin.end();
  return child;
}

export function finished(child: ChildProcess): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  return new Promise((done) => {
    child.on('close', (code, signal) => done({ code, signal, stdout, stderr }));
  });
}

export function nesRun(
  args: string[],
  options: { stdin?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return finished(startNesRun(args, options));
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nes-cli-'));
}

/** A python3 notebook with one code cell per source; the first cell is tagged `parameters` if asked. */
export function writeNotebook(
  path: string,
  sources: string[],
  opts: { parameters?: boolean } = {},
): string {
  const nb = {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' },
      language_info: { name: 'python' },
    },
    cells: sources.map((source, i) => ({
      cell_type: 'code',
      id: `cell-${i}`,
      metadata: opts.parameters && i === 0 ? { tags: ['parameters'] } : {},
      execution_count: null,
      outputs: [],
      source,
    })),
  };
  writeFileSync(path, JSON.stringify(nb, null, 1));
  return path;
}

// biome-ignore lint/suspicious/noExplicitAny: notebooks read back in tests are plain JSON.
export type Json = any;

export function cellSource(cell: Json): string {
  return Array.isArray(cell.source) ? cell.source.join('') : cell.source;
}

/**
 * Which kernels a private Jupyter Server would offer: the kernelspec directories Jupyter searches
 * (JUPYTER_PATH, the user data dir, the project environment, the system prefixes). nes-run uses
 * it to reject an unknown --kernel before anything starts, listing the kernels it found.
 */
import { readdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { kernelSpecName } from '../kernel-names.ts';
import { usageError } from './cli-error.ts';

const PROJECT_ROOT = resolve(import.meta.dirname, '../../../..');

function kernelSearchPath(env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs: string[] = [];
  for (const p of (env.JUPYTER_PATH ?? '').split(':')) if (p) dirs.push(join(p, 'kernels'));
  dirs.push(join(env.JUPYTER_DATA_DIR ?? join(homedir(), '.local/share/jupyter'), 'kernels'));
  if (env.VIRTUAL_ENV) dirs.push(join(env.VIRTUAL_ENV, 'share/jupyter/kernels'));
  // The engine's NES_JUPYTER_BIN: a bin directory, or the jupyter-server executable inside one.
  const bin = env.NES_JUPYTER_BIN;
  if (bin) {
    const binDir = basename(bin).startsWith('jupyter') ? dirname(bin) : bin;
    dirs.push(join(dirname(binDir), 'share/jupyter/kernels'));
  }
  dirs.push(join(PROJECT_ROOT, '.tools/py/share/jupyter/kernels'));
  dirs.push('/usr/local/share/jupyter/kernels', '/usr/share/jupyter/kernels');
  return dirs;
}

/** Kernel names with a kernel.json in any search directory, sorted. */
export function availableKernels(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = new Set<string>();
  for (const dir of kernelSearchPath(env)) {
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of entries) {
      try {
        if (statSync(join(dir, name, 'kernel.json')).isFile()) names.add(name.toLowerCase());
      } catch {
        // not a kernelspec
      }
    }
  }
  return [...names].sort();
}

/** A usage error before anything starts when no kernelspec of that name is installed. */
export function checkKernel(kernelName: string | undefined): void {
  if (!kernelName) {
    throw usageError('the notebook names no kernel (metadata.kernelspec.name): pass -k/--kernel');
  }
  const kernels = availableKernels();
  const specName = kernelSpecName(kernelName);
  if (kernels.length > 0 && !kernels.includes(specName.toLowerCase())) {
    throw usageError(`no such kernel: ${kernelName}; available kernels: ${kernels.join(', ')}`);
  }
}

/**
 * Kernelspecs where Jupyter looks for them (JUPYTER_PATH, the user data dir, the project
 * environment, the system prefixes): which kernels there are (nes-run rejects an unknown
 * --kernel before anything starts, listing them) and the spec a kernel is launched from.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

const PROJECT_ROOT = resolve(import.meta.dirname, '../../..');

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

/** The names in `dir`; none when it is missing or unreadable (most search directories are). */
function dirEntries(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** Kernel names with a kernel.json in any search directory, sorted. */
export function availableKernels(env: NodeJS.ProcessEnv = process.env): string[] {
  const names = new Set<string>();
  for (const dir of kernelSearchPath(env)) {
    for (const name of dirEntries(dir)) {
      try {
        if (statSync(join(dir, name, 'kernel.json')).isFile()) names.add(name.toLowerCase());
      } catch {
        // not a kernelspec
      }
    }
  }
  return [...names].sort();
}

/** A kernel.json, as jupyter_client reads it. */
export interface KernelSpec {
  name: string;
  /** The directory holding kernel.json (`{resource_dir}` in argv). */
  resourceDir: string;
  argv: string[];
  displayName: string;
  language: string;
  env: Record<string, string>;
  interruptMode: 'signal' | 'message';
  /** metadata.kernel_provisioner.provisioner_name: jupyter_client's provisioner, if not local. */
  provisioner: string | null;
}

/**
 * The spec of kernel `name` (case-insensitive, as Jupyter's names are), from the first search
 * directory that has it; null when none does.
 */
export function findKernelSpec(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): KernelSpec | null {
  const wanted = name.toLowerCase();
  for (const dir of kernelSearchPath(env)) {
    const entry = dirEntries(dir).find((candidate) => candidate.toLowerCase() === wanted);
    if (entry === undefined) continue;
    const resourceDir = join(dir, entry);
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(join(resourceDir, 'kernel.json'), 'utf8'));
    } catch {
      continue;
    }
    const argv = raw.argv;
    if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
      throw new Error(`${join(resourceDir, 'kernel.json')}: argv must be a list of strings`);
    }
    const specEnv: Record<string, string> = {};
    if (raw.env && typeof raw.env === 'object') {
      for (const [key, value] of Object.entries(raw.env)) {
        if (typeof value === 'string') specEnv[key] = value;
      }
    }
    return {
      name: wanted,
      resourceDir,
      argv,
      displayName: typeof raw.display_name === 'string' ? raw.display_name : wanted,
      language: typeof raw.language === 'string' ? raw.language : '',
      env: specEnv,
      interruptMode: raw.interrupt_mode === 'message' ? 'message' : 'signal',
      provisioner: provisionerOf(raw.metadata),
    };
  }
  return null;
}

function provisionerOf(metadata: unknown): string | null {
  const provisioner = (metadata as { kernel_provisioner?: { provisioner_name?: unknown } } | null)
    ?.kernel_provisioner?.provisioner_name;
  return typeof provisioner === 'string' && provisioner !== 'local-provisioner'
    ? provisioner
    : null;
}

/**
 * Whether starting this kernel takes its jupyter_client provisioner (Python code, so a Jupyter
 * Server) rather than a plain launch of its argv. NES's own fork provisioner launches normally
 * unless NES_FORK_SERVER names a template to fork from.
 */
export function needsProvisioner(spec: KernelSpec, env: NodeJS.ProcessEnv = process.env): boolean {
  if (spec.provisioner === null) return false;
  if (spec.provisioner === 'nes-fork-provisioner') return Boolean(env.NES_FORK_SERVER);
  return true;
}

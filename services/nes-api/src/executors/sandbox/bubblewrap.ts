/**
 * The run sandbox: bubblewrap (https://github.com/containers/bubblewrap, Debian `bubblewrap`).
 * Everything a run executes (its Jupyter Server and its kernel) starts inside one `bwrap`:
 *
 * - new PID, IPC, UTS and cgroup namespaces: the run sees only its own processes, so it can
 *   neither signal nor inspect (/proc/PID/environ, cmdline) the service or other runs;
 * - optionally a new network namespace (`network: 'none'`: loopback only);
 * - a read-only view of the system (/usr, /etc, the libraries) and of the kernel environment
 *   (the Python environment and its interpreter, Node and node_modules for JavaScript kernels,
 *   the runner's Jupyter configuration); nothing else of the host's file system: not the data
 *   directory, the database, the admin token file, the output store, other runs' directories;
 * - a private /tmp and /dev, a fresh /proc, and only the run's own directory writable (at
 *   /home/run inside: the host's path, under the data directory, is not even named);
 * - `--die-with-parent` and `--new-session`: the sandbox dies with the executor that started it,
 *   and cannot push keystrokes into a terminal (TIOCSTI).
 *
 * When the service runs as root, bwrap (which then needs no user namespace) sets the mounts up
 * and `setpriv` drops to the dedicated unprivileged user before anything of the run starts: no
 * capabilities, no new privileges, no supplementary groups. Otherwise bwrap runs as the
 * service's user inside a user namespace.
 */
import { execFile } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, isAbsolute, relative, sep } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** System directories every program needs, bound read-only when they exist. */
const SYSTEM_DIRS = [
  '/usr',
  '/etc',
  '/bin',
  '/sbin',
  '/lib',
  '/lib32',
  '/lib64',
  '/libx32',
  '/opt',
];

export interface SandboxUser {
  name: string;
  uid: number;
  gid: number;
}

export interface SandboxPlan {
  bwrap: string;
  setpriv: string | null;
  /** The unprivileged user runs switch to (the service runs as root), else null. */
  user: SandboxUser | null;
  network: 'host' | 'none';
  /** Host paths bound read-only (besides the system directories). */
  readOnly: string[];
  /** Paths hidden behind an empty tmpfs even when they lie below a read-only path. */
  hidden: string[];
}

/** Where the run's directory appears inside the sandbox (its HOME and working directory). */
export const RUN_DIR_INSIDE = '/home/run';

export interface SandboxedLaunch {
  /** The run's directory on the host: bound read-write at RUN_DIR_INSIDE. */
  dir: string;
  file: string;
  args: string[];
}

function isInside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/** `bwrap ... -- [setpriv ...] file args` for one launch under the plan. */
export function bubblewrapCommand(
  plan: SandboxPlan,
  launch: SandboxedLaunch,
): { file: string; args: string[] } {
  const args = [
    '--die-with-parent',
    '--new-session',
    '--unshare-pid',
    '--unshare-ipc',
    '--unshare-uts',
    '--unshare-cgroup-try',
    ...(plan.user === null ? ['--unshare-user'] : []),
    ...(plan.network === 'none' ? ['--unshare-net'] : []),
    '--hostname',
    'nes-run',
  ];
  for (const dir of SYSTEM_DIRS) args.push('--ro-bind-try', dir, dir);
  const bound = [...SYSTEM_DIRS];
  // The private /tmp comes before the read-only paths, so a kernel environment that lies under
  // the host's /tmp (a checkout in a temporary directory) is bound on top of it, not hidden.
  args.push('--proc', '/proc', '--dev', '/dev', '--perms', '1777', '--tmpfs', '/tmp');
  // bwrap makes missing parents of a mount point 0700 (root's): the run's user could not get
  // through them, so they are made 0755 first (empty directories of the sandbox's own root).
  const made = new Set<string>(['/', '/tmp']);
  const parents = (path: string) => {
    const chain: string[] = [];
    for (let p = dirname(path); !made.has(p); p = dirname(p)) chain.unshift(p);
    for (const p of chain) {
      args.push('--perms', '0755', '--dir', p);
      made.add(p);
    }
  };
  for (const path of [...plan.readOnly].sort((a, b) => a.length - b.length)) {
    if (bound.some((b) => isInside(path, b))) continue;
    // Never the host's /tmp (or a parent of it) itself: that would undo the private /tmp.
    if (isInside('/tmp', path)) continue;
    parents(path);
    args.push('--ro-bind', path, path);
    bound.push(path);
    made.add(path);
  }
  // Secrets that happen to lie below a bound path (a data directory inside a bound checkout)
  // are covered by an empty tmpfs.
  for (const path of plan.hidden) {
    if (bound.some((b) => isInside(path, b))) {
      args.push('--perms', '0755', '--tmpfs', path);
      made.add(path);
    }
  }
  parents(RUN_DIR_INSIDE);
  args.push('--bind', launch.dir, RUN_DIR_INSIDE, '--chdir', RUN_DIR_INSIDE, '--');
  if (plan.user !== null && plan.setpriv !== null) {
    args.push(
      plan.setpriv,
      `--reuid=${plan.user.uid}`,
      `--regid=${plan.user.gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      '--bounding-set=-all',
      '--no-new-privs',
      '--',
    );
  }
  args.push(launch.file, ...launch.args);
  return { file: plan.bwrap, args };
}

/**
 * Directories a launch of `file` needs read-only: the file's own directory tree up to its
 * environment (a venv's `bin/python` links to an interpreter elsewhere, /root/.pyenv/...).
 */
export function pathsFor(file: string): string[] {
  if (!existsSync(file)) return [];
  // <prefix>/bin/python3.11 -> <prefix>
  return [dirname(dirname(realpathSync(file)))];
}

async function which(name: string): Promise<string | null> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    const candidate = `${dir}/${name}`;
    if (dir && existsSync(candidate)) return candidate;
  }
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) {
    if (existsSync(`${dir}/${name}`)) return `${dir}/${name}`;
  }
  return null;
}

export type SandboxProbe =
  | { ok: true; bwrap: string; setpriv: string | null; version: string }
  | { ok: false; reason: string };

/**
 * Whether bubblewrap can build the sandbox here: installed, and able to create the namespaces
 * (a container without user namespaces, or a kernel that forbids them, fails this). The probe
 * runs a real sandbox with the same namespaces, so a pass means runs can start.
 */
export async function probeBubblewrap(
  asRoot: boolean,
  network: 'host' | 'none' = 'host',
): Promise<SandboxProbe> {
  const bwrap = await which('bwrap');
  if (bwrap === null) {
    return {
      ok: false,
      reason: 'bubblewrap is not installed (Debian/Ubuntu: apt-get install bubblewrap)',
    };
  }
  const setpriv = asRoot ? await which('setpriv') : null;
  if (asRoot && setpriv === null) {
    return { ok: false, reason: 'setpriv (util-linux) is missing: runs cannot drop root' };
  }
  let version = 'bubblewrap';
  try {
    version = (await run(bwrap, ['--version'])).stdout.trim();
  } catch {
    // An old bwrap without --version still works.
  }
  const plan: SandboxPlan = {
    bwrap,
    setpriv,
    user: asRoot ? { name: 'nobody', uid: 65534, gid: 65534 } : null,
    network,
    readOnly: [],
    hidden: [],
  };
  const probe = bubblewrapCommand(plan, { dir: '/tmp', file: '/bin/true', args: [] });
  try {
    await run(probe.file, probe.args, { timeout: 10_000 });
  } catch (error) {
    const detail = ((error as { stderr?: string }).stderr ?? String(error)).trim();
    return { ok: false, reason: `bubblewrap cannot create a sandbox here: ${detail}` };
  }
  return { ok: true, bwrap, setpriv, version };
}

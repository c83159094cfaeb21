/**
 * Deciding, once at start, how runs are isolated on this machine:
 *
 * - `require`: bubblewrap must work, else the service refuses to start (fail closed). Choose it
 *   wherever people who do not own the machine can submit notebooks.
 * - `auto` (the default): bubblewrap when it works; otherwise runs execute unsandboxed (their own
 *   private directory and an allow-listed environment only) and the service says so loudly at
 *   start and in every run's log. The default serves the embedded service's usual
 *   case, one person running their own notebooks on a laptop or a CI box, where refusing to start
 *   on a machine without user namespaces (many containers, macOS) would only push people to turn
 *   the sandbox off altogether.
 * - `off`: unsandboxed on purpose (the same loud warning).
 *
 * When the service runs as root, runs also switch to a dedicated unprivileged user.
 */
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CONFIG_FILE, locateJupyterServer } from '@nes/runner';
import { pathsFor, probeBubblewrap, type SandboxPlan } from './bubblewrap.ts';
import { DEFAULT_SANDBOX_USER, ensureSandboxUser } from './sandbox-user.ts';

export type SandboxMode = 'auto' | 'require' | 'off';

export interface SandboxSettings {
  mode: SandboxMode;
  /** The unprivileged user runs execute as when the service runs as root. */
  user: string;
  /** `host`: runs share the host's network; `none`: a network namespace with loopback only. */
  network: 'host' | 'none';
  /** Extra host paths runs may read (kernels installed outside the usual places). */
  readOnlyPaths: string[];
  /** Paths kept out of the sandbox even when below a readable path (the data directory...). */
  hiddenPaths: string[];
}

export interface SandboxStatus {
  sandboxed: boolean;
  mode: SandboxMode;
  /** A sentence for the start-up banner and /healthz. */
  detail: string;
  user: string | null;
}

export class SandboxUnavailableError extends Error {
  override name = 'SandboxUnavailableError';
}

/** The repository's node_modules (JavaScript kernels such as tslab run from it). */
const NODE_MODULES = fileURLToPath(new URL('../../../../../node_modules', import.meta.url));

/** What a run needs to read: the kernel environment, Node, the runner's Jupyter configuration. */
function kernelEnvironmentPaths(extra: string[]): { readOnly: string[]; pathFirst: string[] } {
  const server = locateJupyterServer();
  const nodeBin = dirname(realpathSync(process.execPath));
  const readOnly = new Set<string>([dirname(nodeBin), dirname(CONFIG_FILE), ...extra]);
  if (existsSync(NODE_MODULES)) readOnly.add(realpathSync(NODE_MODULES));
  const pathFirst = [nodeBin];
  if (server.binDir !== null) {
    readOnly.add(dirname(server.binDir));
    for (const path of pathsFor(join(server.binDir, 'python'))) readOnly.add(path);
    pathFirst.push(server.binDir);
  }
  return { readOnly: [...readOnly], pathFirst };
}

export async function planSandbox(
  settings: Partial<SandboxSettings>,
  context: { hidden: string[]; probe?: typeof probeBubblewrap },
): Promise<{ plan: SandboxPlan | null; status: SandboxStatus; pathFirst: string[] }> {
  const mode = settings.mode ?? 'auto';
  const paths = kernelEnvironmentPaths(settings.readOnlyPaths ?? []);
  const unsandboxed = (why: string) => ({
    plan: null,
    pathFirst: paths.pathFirst,
    status: {
      sandboxed: false,
      mode,
      user: null,
      detail:
        `RUNS ARE NOT SANDBOXED (${why}): a notebook runs as this service's user and can read ` +
        'its files and signal its processes. Set NES_SANDBOX=require to refuse to start ' +
        'without the sandbox; see docs/security.md.',
    },
  });
  if (mode === 'off') return unsandboxed('NES_SANDBOX=off');
  const asRoot = process.getuid?.() === 0;
  const probe = await (context.probe ?? probeBubblewrap)(asRoot, settings.network ?? 'host');
  if (!probe.ok) {
    if (mode === 'require') {
      throw new SandboxUnavailableError(
        `NES_SANDBOX=require: ${probe.reason}. Install bubblewrap (scripts/setup.sh does as ` +
          'root) on a kernel with user namespaces, or set NES_SANDBOX=auto to run unsandboxed.',
      );
    }
    return unsandboxed(probe.reason);
  }
  const user = asRoot ? await ensureSandboxUser(settings.user ?? DEFAULT_SANDBOX_USER) : null;
  const plan: SandboxPlan = {
    bwrap: probe.bwrap,
    setpriv: probe.setpriv,
    user,
    network: settings.network ?? 'host',
    readOnly: paths.readOnly,
    hidden: [...context.hidden, ...(settings.hiddenPaths ?? [])],
  };
  return {
    plan,
    pathFirst: paths.pathFirst,
    status: {
      sandboxed: true,
      mode,
      user: user?.name ?? null,
      detail:
        `${probe.version}, new PID/IPC/UTS${plan.network === 'none' ? '/network' : ''} namespaces, read-only system, private /tmp` +
        (user ? `, user ${user.name} (uid ${user.uid})` : ', user namespace'),
    },
  };
}

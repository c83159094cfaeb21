/**
 * The dedicated unprivileged user runs execute as when the service runs as root. A root service
 * without one would hand every notebook root's powers (read any file, signal any process); with
 * it, a notebook that escaped its namespaces would still be a nobody-like user with no files.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { SandboxUser } from './bubblewrap.ts';

const run = promisify(execFile);

export const DEFAULT_SANDBOX_USER = 'nes-sandbox';

async function lookup(name: string): Promise<SandboxUser | null> {
  try {
    const { stdout } = await run('getent', ['passwd', name]);
    const fields = stdout.trim().split(':');
    const uid = Number(fields[2]);
    const gid = Number(fields[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) return null;
    return { name, uid, gid };
  } catch {
    return null;
  }
}

/**
 * The user, created as a system user (no home, no login shell) when it does not exist yet;
 * scripts/setup.sh creates it too. Refuses a user that is root or shares root's group.
 */
export async function ensureSandboxUser(name: string): Promise<SandboxUser> {
  let user = await lookup(name);
  if (user === null) {
    try {
      await run('useradd', [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/nonexistent',
        '--shell',
        '/usr/sbin/nologin',
        name,
      ]);
    } catch (error) {
      const detail = ((error as { stderr?: string }).stderr ?? String(error)).trim();
      throw new Error(`cannot create the sandbox user ${name}: ${detail}`);
    }
    user = await lookup(name);
  }
  if (user === null) throw new Error(`the sandbox user ${name} does not exist`);
  if (user.uid === 0 || user.gid === 0) {
    throw new Error(`the sandbox user ${name} must not be root (uid ${user.uid}, gid ${user.gid})`);
  }
  return user;
}

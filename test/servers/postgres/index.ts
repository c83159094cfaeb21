/**
 * A real PostgreSQL for tests. With NES_TEST_DATABASE_URL set, databases are created on that
 * server. Otherwise a throwaway cluster is made with the machine's binaries (Debian puts them in
 * /usr/lib/postgresql/<version>/bin; scripts/setup.sh installs them when missing): initdb into a
 * temporary directory, trust authentication, 127.0.0.1 on a free port, the unix socket inside the
 * directory, no fsync. PostgreSQL refuses to run as root, so as root the cluster runs as the
 * `postgres` OS user (which owns the directory). `stop()` stops it and removes everything.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const run = promisify(execFile);

/** runuser lives in sbin, which a non-login PATH (CI, cron) may not include. */
const RUNUSER =
  ['/usr/sbin/runuser', '/sbin/runuser'].find((path) => existsSync(path)) ?? 'runuser';

export interface PostgresServer {
  /** URL of the server's maintenance database (`postgres`). */
  readonly url: string;
  /** Creates a fresh, empty database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  /** Drops the databases this handle created; stops and removes a cluster it started. */
  stop(): Promise<void>;
}

export async function startPostgres(): Promise<PostgresServer> {
  const external = process.env.NES_TEST_DATABASE_URL;
  if (external) return onServer(external, async () => {});
  return startCluster();
}

function onServer(adminUrl: string, shutdown: () => Promise<void>): PostgresServer {
  const created: string[] = [];
  const admin = async <T>(fn: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  };
  return {
    url: adminUrl,
    async createDatabase(prefix = 'nes_test') {
      const name = `${prefix}_${randomBytes(6).toString('hex')}`.toLowerCase();
      await admin((client) => client.query(`CREATE DATABASE "${name}"`));
      created.push(name);
      const url = new URL(adminUrl);
      url.pathname = `/${name}`;
      return url.toString();
    },
    async stop() {
      if (created.length > 0)
        await admin(async (client) => {
          for (const name of created.splice(0))
            await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
        }).catch(() => {});
      await shutdown();
    },
  };
}

/** initdb, pg_ctl: the newest Debian install, else `pg_config --bindir`, else PATH. */
export async function findPostgresBin(): Promise<string | null> {
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian)
      .filter((v) => existsSync(join(debian, v, 'bin', 'initdb')))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0] !== undefined) return join(debian, versions[0], 'bin');
  }
  try {
    const { stdout } = await run('pg_config', ['--bindir']);
    const dir = stdout.trim();
    if (existsSync(join(dir, 'initdb'))) return dir;
  } catch {
    // no pg_config
  }
  for (const dir of (process.env.PATH ?? '').split(':'))
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  return null;
}

async function startCluster(): Promise<PostgresServer> {
  const bin = await findPostgresBin();
  if (bin === null)
    throw new Error(
      'PostgreSQL server binaries (initdb, pg_ctl) not found: run scripts/setup.sh, ' +
        'or set NES_TEST_DATABASE_URL to a server the tests may create databases on',
    );
  const asRoot = process.getuid?.() === 0;
  const dir = await mkdtemp(join(tmpdir(), 'nes-pg-'));
  const data = join(dir, 'data');
  // As root the cluster belongs to the unprivileged `postgres` user (the Debian package makes it).
  const exec = (file: string, args: string[]) =>
    asRoot
      ? run(RUNUSER, ['-u', 'postgres', '--', file, ...args], { cwd: dir })
      : run(file, args, { cwd: dir });
  const user = 'postgres';
  if (asRoot) {
    const { stdout } = await run('id', ['-u', user]);
    const { stdout: gid } = await run('id', ['-g', user]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const port = await freePort();
  try {
    await exec(join(bin, 'initdb'), [
      '-D',
      data,
      '-U',
      user,
      '--auth=trust',
      '--no-sync',
      '--no-instructions',
      '-E',
      'UTF8',
      '--locale=C',
    ]);
    await exec(join(bin, 'pg_ctl'), [
      '-D',
      data,
      '-l',
      join(dir, 'server.log'),
      '-w',
      '-t',
      '30',
      '-o',
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off ` +
        '-c synchronous_commit=off -c full_page_writes=off -c max_connections=200',
      'start',
    ]);
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const stopCluster = async () => {
    await exec(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  };
  return onServer(`postgres://${user}@127.0.0.1:${port}/postgres`, stopCluster);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port'));
      });
    });
  });
}

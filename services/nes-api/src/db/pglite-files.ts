/**
 * Opening a PGlite data directory (in whichever thread runs the database, see pglite-thread.ts),
 * with a shortcut for new ones: a new PGlite directory costs ~10 s of initdb written file by
 * file; initdb in memory costs ~4 s and loading its dump ~1.5 s. The dump of a fresh cluster (no
 * NES tables) is cached in the temporary directory per PGlite version, so only the first database
 * on a machine pays.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

type PGliteClass = typeof PGlite;

/** Opens (creating when absent) a PGlite database persisted in `dir`; in memory when undefined. */
export async function openPgliteDirectory(dir: string | undefined): Promise<PGlite> {
  const { PGlite } = await import('@electric-sql/pglite');
  if (dir === undefined) return PGlite.create();
  await mkdir(dir, { recursive: true });
  return (await readdir(dir)).length === 0
    ? await createFromTemplate(PGlite, dir)
    : await PGlite.create(dir);
}

async function createFromTemplate(PGlite: PGliteClass, dir: string): Promise<PGlite> {
  try {
    const template = await pgliteTemplate(PGlite);
    return await PGlite.create(dir, { loadDataDir: template });
  } catch {
    for (const entry of await readdir(dir))
      await rm(join(dir, entry), { recursive: true, force: true });
    return PGlite.create(dir);
  }
}

async function pgliteTemplate(PGlite: PGliteClass): Promise<Blob> {
  const pkg = JSON.parse(
    await readFile(new URL('../package.json', import.meta.resolve('@electric-sql/pglite')), 'utf8'),
  ) as { version: string };
  const path = join(
    tmpdir(),
    `nes-pglite-template-${pkg.version}-uid${process.getuid?.() ?? 0}.tar.gz`,
  );
  try {
    const info = await stat(path);
    // Only a template this user wrote and nobody else may change.
    if (info.uid === (process.getuid?.() ?? info.uid) && (info.mode & 0o022) === 0)
      return new Blob([await readFile(path)]);
  } catch {
    // not cached yet
  }
  const fresh = await PGlite.create();
  let dump: Blob;
  try {
    dump = await fresh.dumpDataDir('gzip');
  } finally {
    await fresh.close();
  }
  const partial = `${path}.${randomBytes(6).toString('hex')}`;
  await writeFile(partial, Buffer.from(await dump.arrayBuffer()), { mode: 0o644 });
  await rename(partial, path);
  return dump;
}

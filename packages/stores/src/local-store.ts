/**
 * The embedded default store: a directory whose files are the objects, so `output.ipynb` is a
 * real notebook a user can open.
 *
 * Writes are atomic: the bytes go to `.nes-tmp.<random>` in the target's directory, are fsynced,
 * then renamed over the target (or hard-linked, for create-only writes: `link` fails if the
 * target exists, atomically), and the directory is fsynced. Readers and concurrent writers see
 * one complete version or another, never a torn file; the last complete write wins. A crash
 * before the rename leaves the old file intact and a temp file that `list`/`stat` ignore and
 * `sweep` removes.
 *
 * Metadata (content type, custom metadata) lives in a JSON sidecar per file version,
 * `.nes-meta.<name>.<inode>.json`, written before the data is renamed into place. Keying the
 * sidecar by the data file's inode pairs them without a lock: `stat` reads the sidecar of the
 * inode it found, so it never shows one writer's metadata with another's bytes. A file with no
 * sidecar (copied in by hand, or a crash between the two writes) gets a content type guessed
 * from its extension and no metadata. The sidecar of a replaced version is deleted after the
 * rename; strays are removed by `sweep`.
 *
 * Keys are confined to the root: `checkKey` refuses `..`, absolute keys and NUL, and every
 * directory on the way is checked with lstat/realpath, so a symlink leading out of the root is
 * refused with `invalid_key` before anything is created through it. (A process that can swap
 * directories under the store while it runs can still race these checks; the root is assumed
 * to be writable by NES only.)
 */
import { randomBytes } from 'node:crypto';
import type { Dirent, Stats } from 'node:fs';
import {
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { StoreError } from './errors.ts';
import {
  checkKey,
  checkPrefix,
  compareKeys,
  guessContentType,
  RESERVED_SEGMENT_PREFIX,
} from './keys.ts';
import type {
  ListOptions,
  ListResult,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from './types.ts';

const TEMP_PREFIX = '.nes-tmp.';
const META_PREFIX = '.nes-meta.';
const META_NAME = /^\.nes-meta\.(.+)\.(\d+)\.json$/s;

interface Sidecar {
  contentType: string;
  metadata: Record<string, string>;
}

export interface LocalStoreOptions {
  /** File mode of new objects. Default 0o644. */
  fileMode?: number;
  /**
   * Keep content type and metadata in sidecar files. Default true. False writes nothing but the
   * objects themselves (a plain output file next to the user's own, as papermill writes it):
   * `stat` then guesses the content type from the extension and reports no metadata.
   */
  sidecars?: boolean;
}

export class LocalStore implements ObjectStore {
  readonly root: string;
  readonly uri: string;
  readonly #fileMode: number;
  readonly #sidecars: boolean;
  #realRoot: Promise<string> | null = null;

  constructor(root: string, options: LocalStoreOptions = {}) {
    this.root = resolve(root);
    this.uri = pathToFileURL(this.root + sep).href;
    this.#fileMode = options.fileMode ?? 0o644;
    this.#sidecars = options.sidecars ?? true;
  }

  uriOf(key: string): string {
    return pathToFileURL(this.#path(checkKey(key))).href;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo> {
    const path = this.#path(checkKey(key));
    const dir = dirname(path);
    await this.#prepareDirectory(key);
    const temp = join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let sidecarPath: string | null = null;
    try {
      const written = await writeDurably(temp, body, this.#fileMode);
      const sidecar: Sidecar = {
        contentType: options.contentType ?? guessContentType(key),
        metadata: { ...options.metadata },
      };
      if (this.#sidecars) {
        sidecarPath = metaPath(path, written.ino);
        await writeSidecar(sidecarPath, sidecar);
      }
      const previous = await lstatOrNull(path);
      if (previous?.isDirectory()) {
        throw new StoreError('invalid_key', `${this.uriOf(key)}: is a directory`, { key });
      }
      if (options.ifNotExists) {
        try {
          await link(temp, path);
        } catch (error) {
          if (errnoCode(error) === 'EEXIST') {
            throw new StoreError('already_exists', `${this.uriOf(key)}: already exists`, { key });
          }
          throw error;
        }
        await unlink(temp);
      } else {
        await rename(temp, path);
      }
      sidecarPath = null; // it now describes the live file
      await syncDirectory(dir);
      if (previous && previous.ino !== written.ino && !options.ifNotExists) {
        await rm(metaPath(path, previous.ino), { force: true });
      }
      return this.#info(key, written, this.#sidecars ? sidecar : null);
    } catch (error) {
      await rm(temp, { force: true });
      if (sidecarPath !== null) await rm(sidecarPath, { force: true });
      throw this.#mapError(error, key);
    }
  }

  async get(key: string): Promise<Buffer> {
    const path = await this.#existingPath(key);
    try {
      return await readFile(path);
    } catch (error) {
      throw this.#mapError(error, key);
    }
  }

  async getStream(key: string): Promise<Readable> {
    const path = await this.#existingPath(key);
    try {
      const handle = await open(path, 'r');
      return handle.createReadStream();
    } catch (error) {
      throw this.#mapError(error, key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    try {
      const path = await this.#existingPath(key);
      const stats = await stat(path);
      if (!stats.isFile()) return null;
      return this.#info(key, stats, await readSidecar(path, stats.ino));
    } catch (error) {
      if (error instanceof StoreError && error.code === 'not_found') return null;
      throw this.#mapError(error, key);
    }
  }

  async list(prefix: string, options: ListOptions = {}): Promise<ListResult> {
    checkPrefix(prefix);
    const delimiter = options.delimiter ?? '/';
    const cut = prefix.lastIndexOf('/') + 1;
    const dirKey = prefix.slice(0, cut);
    const namePrefix = prefix.slice(cut);
    const result: ListResult = { objects: [], prefixes: [] };
    const dir = dirKey === '' ? this.root : this.#path(dirKey.slice(0, -1));
    if (!(await this.#isConfinedDirectory(dir))) return result;
    const walk = async (dirPath: string, keyPrefix: string, filter: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dirPath, { withFileTypes: true });
      } catch (error) {
        if (['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '')) return;
        throw this.#mapError(error, keyPrefix);
      }
      for (const entry of entries) {
        const name = entry.name;
        if (name.startsWith(RESERVED_SEGMENT_PREFIX) || !name.startsWith(filter)) continue;
        const key = keyPrefix + name;
        const path = join(dirPath, name);
        let kind: 'file' | 'dir' | null = entry.isFile()
          ? 'file'
          : entry.isDirectory()
            ? 'dir'
            : null;
        if (entry.isSymbolicLink()) kind = await this.#confinedKind(path);
        if (kind === 'dir') {
          if (delimiter === '/') result.prefixes.push(`${key}/`);
          else await walk(path, `${key}/`, '');
        } else if (kind === 'file') {
          const stats = await stat(path).catch(() => null);
          if (stats?.isFile()) {
            result.objects.push(this.#info(key, stats, await readSidecar(path, stats.ino)));
          }
        }
      }
    };
    await walk(dir, dirKey, namePrefix);
    result.objects.sort((a, b) => compareKeys(a.key, b.key));
    result.prefixes.sort(compareKeys);
    return result;
  }

  async delete(key: string): Promise<void> {
    const path = this.#path(checkKey(key));
    try {
      if (!(await this.#isConfinedDirectory(dirname(path)))) return;
      const stats = await lstatOrNull(path);
      if (stats === null || stats.isDirectory()) return;
      await unlink(path);
      await rm(metaPath(path, stats.ino), { force: true });
      await syncDirectory(dirname(path));
      await this.#removeEmptyParents(dirname(path));
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return;
      throw this.#mapError(error, key);
    }
  }

  /**
   * Removes what interrupted writes left behind: temp files, and sidecars of versions that are
   * no longer the live file, both older than `maxAgeMs` (so writes in progress are left alone).
   * Returns the number of files removed.
   */
  async sweep(maxAgeMs = 15 * 60_000): Promise<number> {
    const cutoff = Date.now() - maxAgeMs;
    let removed = 0;
    const walk = async (dirPath: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dirPath, { withFileTypes: true });
      } catch {
        return;
      }
      for (const entry of entries) {
        const path = join(dirPath, entry.name);
        if (entry.isDirectory()) {
          await walk(path);
          continue;
        }
        if (!entry.isFile() || !entry.name.startsWith(RESERVED_SEGMENT_PREFIX)) continue;
        const stats = await lstatOrNull(path);
        if (stats === null || stats.mtimeMs > cutoff) continue;
        let stale = entry.name.startsWith(TEMP_PREFIX);
        const meta = META_NAME.exec(entry.name);
        if (meta) {
          const live = await lstatOrNull(join(dirPath, meta[1] ?? ''));
          stale = live === null || String(live.ino) !== meta[2];
        }
        if (stale) {
          await rm(path, { force: true });
          removed += 1;
        }
      }
    };
    await walk(this.root);
    return removed;
  }

  #path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  #info(
    key: string,
    stats: Stats | { size: number; ino: number; mtime: Date; mtimeMs: number },
    sidecar: Sidecar | null,
  ): ObjectInfo {
    return {
      key,
      size: stats.size,
      updated: stats.mtime,
      contentType: sidecar?.contentType ?? guessContentType(key),
      metadata: sidecar?.metadata ?? {},
      generation: `${stats.ino}.${Math.round(stats.mtimeMs * 1000)}`,
    };
  }

  async #realRootPath(): Promise<string> {
    this.#realRoot ??= (async () => {
      await mkdir(this.root, { recursive: true });
      return realpath(this.root);
    })();
    try {
      return await this.#realRoot;
    } catch (error) {
      this.#realRoot = null;
      throw new StoreError('store_unavailable', `${this.uri}: cannot open the store directory`, {
        cause: error,
      });
    }
  }

  async #isInsideRoot(path: string): Promise<boolean> {
    const realRoot = await this.#realRootPath();
    const real = await realpath(path);
    return real === realRoot || real.startsWith(realRoot + sep);
  }

  /** True for an existing directory inside the root, false when absent; refuses an escape. */
  async #isConfinedDirectory(dir: string): Promise<boolean> {
    await this.#realRootPath();
    try {
      if (!(await this.#isInsideRoot(dir))) {
        throw new StoreError(
          'invalid_key',
          `${pathToFileURL(dir).href}: leads out of the store root`,
        );
      }
      return (await stat(dir)).isDirectory();
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '')) return false;
      throw error;
    }
  }

  async #confinedKind(path: string): Promise<'file' | 'dir' | null> {
    try {
      if (!(await this.#isInsideRoot(path))) return null;
      const stats = await stat(path);
      return stats.isFile() ? 'file' : stats.isDirectory() ? 'dir' : null;
    } catch {
      return null;
    }
  }

  /** The path of an existing object whose directory and (if a symlink) target stay inside. */
  async #existingPath(key: string): Promise<string> {
    const path = this.#path(checkKey(key));
    const notFound = () => new StoreError('not_found', `${this.uriOf(key)}: not found`, { key });
    try {
      if (!(await this.#isConfinedDirectory(dirname(path)))) throw notFound();
      const stats = await lstat(path);
      if (stats.isSymbolicLink() && !(await this.#isInsideRoot(path))) {
        throw new StoreError('invalid_key', `${this.uriOf(key)}: leads out of the store root`, {
          key,
        });
      }
      if ((await stat(path)).isDirectory()) throw notFound();
      return path;
    } catch (error) {
      if (['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '')) throw notFound();
      throw this.#mapError(error, key);
    }
  }

  /** Creates the key's directories one by one, refusing any that is a symlink out of the root. */
  async #prepareDirectory(key: string): Promise<void> {
    const realRoot = await this.#realRootPath();
    const segments = key.split('/').slice(0, -1);
    let dir = this.root;
    for (const segment of segments) {
      dir = join(dir, segment);
      let stats = await lstatOrNull(dir);
      if (stats === null) {
        try {
          await mkdir(dir);
        } catch (error) {
          if (errnoCode(error) !== 'EEXIST') throw this.#mapError(error, key);
        }
        stats = await lstat(dir);
      }
      if (stats.isSymbolicLink()) {
        const real = await realpath(dir).catch(() => null);
        if (real === null || (real !== realRoot && !real.startsWith(realRoot + sep))) {
          throw new StoreError(
            'invalid_key',
            `${this.uriOf(key)}: "${segment}" is a symlink leading out of the store root`,
            { key },
          );
        }
        stats = await stat(dir);
      }
      if (!stats.isDirectory()) {
        throw new StoreError('invalid_key', `${this.uriOf(key)}: "${segment}" is a file`, { key });
      }
    }
  }

  async #removeEmptyParents(dir: string): Promise<void> {
    let current = dir;
    while (current !== this.root && current.startsWith(this.root + sep)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone, or busy): stop climbing
      }
      current = dirname(current);
    }
  }

  #mapError(error: unknown, key: string): Error {
    if (error instanceof StoreError) return error;
    const code = errnoCode(error);
    const where = `${this.uri}${key}`;
    if (code === 'ENOENT')
      return new StoreError('not_found', `${where}: not found`, { key, cause: error });
    if (code === 'EACCES' || code === 'EPERM') {
      return new StoreError('forbidden', `${where}: permission denied`, { key, cause: error });
    }
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'ENAMETOOLONG') {
      return new StoreError('invalid_key', `${where}: not a valid file path (${code})`, {
        key,
        cause: error,
      });
    }
    return new StoreError(
      'store_unavailable',
      `${where}: ${code ?? 'error'} (${errorText(error)})`,
      {
        key,
        cause: error,
      },
    );
  }
}

/** Writes the body to a new file, fsyncs it, and returns its size and inode. */
async function writeDurably(path: string, body: PutBody, mode: number): Promise<Stats> {
  const handle = await open(path, 'wx', mode);
  try {
    if (typeof body === 'string' || body instanceof Uint8Array) {
      await handle.writeFile(body);
    } else {
      for await (const chunk of body) {
        const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
        await handle.write(bytes);
      }
    }
    await handle.sync();
    return await handle.stat();
  } finally {
    await handle.close();
  }
}

function metaPath(path: string, ino: number): string {
  return join(dirname(path), `${META_PREFIX}${basename(path)}.${ino}.json`);
}

async function writeSidecar(path: string, sidecar: Sidecar): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  try {
    await writeDurably(temp, `${JSON.stringify(sidecar)}\n`, 0o644);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

async function readSidecar(path: string, ino: number): Promise<Sidecar | null> {
  try {
    const parsed = JSON.parse(await readFile(metaPath(path, ino), 'utf8')) as Partial<Sidecar>;
    if (typeof parsed.contentType !== 'string') return null;
    const metadata: Record<string, string> = {};
    for (const [k, v] of Object.entries(parsed.metadata ?? {})) {
      if (typeof v === 'string') metadata[k] = v;
    }
    return { contentType: parsed.contentType, metadata };
  } catch {
    return null; // no sidecar (or an unreadable one): defaults
  }
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes(errnoCode(error) ?? '')) return null;
    throw error;
  }
}

/** Makes a rename durable; best effort (some file systems refuse to fsync a directory). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // unsupported here; the rename itself still holds
  }
}

function errnoCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

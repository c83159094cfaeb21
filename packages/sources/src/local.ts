/**
 * Local notebooks, only under configured roots. The path is checked twice: as written (so `..`
 * and absolute paths elsewhere are refused before the file system is touched), then as resolved
 * (so a symbolic link out of a root is refused too). The file is opened without following a
 * final link and read through that one descriptor.
 */
import { constants, type Stats } from 'node:fs';
import { open, realpath } from 'node:fs/promises';
import { resolve } from 'node:path';
import { SourceError } from './errors.ts';
import { tooLarge } from './github.ts';
import { DEFAULT_MAX_NOTEBOOK_BYTES, type SourceOptions } from './options.ts';
import { isInside } from './paths.ts';

export interface LocalFile {
  /** The resolved absolute path that was read. */
  realPath: string;
  bytes: Uint8Array;
}

export async function readLocalNotebook(path: string, options: SourceOptions): Promise<LocalFile> {
  const roots = (options.localRoots ?? []).map((root) => resolve(root));
  if (roots.length === 0) {
    throw new SourceError(
      'local_path_outside_roots',
      `local notebook ${path} refused: no notebook roots are configured (set NES_NOTEBOOK_ROOTS to the directories notebooks may come from)`,
      { details: { path, roots: [] } },
    );
  }
  const absolute = resolve(options.cwd ?? process.cwd(), path);
  const realRoots = (
    await Promise.all(roots.map((root) => realpath(root).catch(() => undefined)))
  ).filter((root): root is string => root !== undefined);
  const outside = (why: string) =>
    new SourceError(
      'local_path_outside_roots',
      `local notebook ${path} refused: ${why}; notebooks must be under ${roots.join(', ')} (NES_NOTEBOOK_ROOTS)`,
      { details: { path, roots } },
    );
  if (
    !roots.some((root) => isInside(root, absolute)) &&
    !realRoots.some((root) => isInside(root, absolute))
  ) {
    throw outside('it is outside every notebook root');
  }
  let real: string;
  try {
    real = await realpath(absolute);
  } catch (error) {
    throw fsError(error, path);
  }
  if (!realRoots.some((root) => isInside(root, real))) {
    throw outside('it resolves (through a symbolic link) to a place outside every notebook root');
  }
  const maxBytes = options.maxNotebookBytes ?? DEFAULT_MAX_NOTEBOOK_BYTES;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise hold a libuv thread until one
    // comes (every other file read in the process waits behind four such opens). It has no
    // effect on a regular file, and anything else is refused below, before a read.
    handle = await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (error) {
    throw fsError(error, path);
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) {
      throw new SourceError('not_a_notebook', `${path} is a directory, not a notebook file`, {
        details: { path },
      });
    }
    if (!stat.isFile()) {
      throw new SourceError(
        'not_a_notebook',
        `${path} is not a regular file (it is a ${fileKind(stat)}); notebooks are read only from regular files`,
        { details: { path } },
      );
    }
    if (stat.size > maxBytes) throw tooLarge(path, stat.size, maxBytes);
    const timeoutMs = options.requestTimeoutMs ?? 30_000;
    let bytes: Buffer;
    try {
      bytes = await handle.readFile({ signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      if ((error as Error).name !== 'TimeoutError' && (error as Error).name !== 'AbortError') {
        throw fsError(error, path);
      }
      throw new SourceError(
        'source_unavailable',
        `local notebook ${path} could not be read within ${timeoutMs} ms`,
        { details: { path, timeoutMs } },
      );
    }
    if (bytes.byteLength > maxBytes) throw tooLarge(path, bytes.byteLength, maxBytes);
    return {
      realPath: real,
      bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
  } finally {
    await handle.close();
  }
}

function fileKind(stat: Stats): string {
  if (stat.isFIFO()) return 'FIFO';
  if (stat.isSocket()) return 'socket';
  if (stat.isCharacterDevice()) return 'character device';
  if (stat.isBlockDevice()) return 'block device';
  return 'special file';
}

function fsError(error: unknown, path: string): SourceError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new SourceError('path_not_found', `local notebook ${path} does not exist`, {
      details: { path },
    });
  }
  if (code === 'ENXIO') {
    // open(2) on a Unix socket.
    return new SourceError(
      'not_a_notebook',
      `${path} is not a regular file (it is a socket); notebooks are read only from regular files`,
      { details: { path } },
    );
  }
  if (code === 'EACCES' || code === 'EPERM') {
    return new SourceError(
      'access_denied',
      `local notebook ${path} cannot be read (permission denied)`,
      {
        details: { path },
      },
    );
  }
  if (code === 'ELOOP') {
    return new SourceError(
      'local_path_outside_roots',
      `local notebook ${path} is a symbolic link loop`,
      {
        details: { path },
      },
    );
  }
  return new SourceError(
    'source_unavailable',
    `local notebook ${path} cannot be read (${code ?? String(error)})`,
    {
      details: { path },
    },
  );
}

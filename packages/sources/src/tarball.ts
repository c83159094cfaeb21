/**
 * Safe extraction of a repository tarball into a fresh directory, while it streams in:
 * - size caps on the compressed stream and on the extracted bytes, and an entry count cap;
 * - no absolute paths, no `..`, nothing outside the directory: such entries are skipped and
 *   reported, never written;
 * - regular files and directories are written first; symbolic links are created last, only
 *   when they stay inside the directory (checked on the real path), so no file is ever written
 *   through a link; hard links, devices and FIFOs are never created;
 * - GitHub's top-level folder (`owner-repo-sha/`) is stripped; `include` keeps one subdirectory.
 * Extraction goes to a temporary sibling that is renamed into place, so a failure leaves nothing.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import {
  lstat,
  mkdir,
  readdir,
  realpath,
  rename,
  rm,
  rmdir,
  symlink,
  unlink,
} from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Parser, type ReadEntry } from 'tar';
import { SourceError } from './errors.ts';
import { isInside } from './paths.ts';

export interface ExtractOptions {
  /** Cap on the (compressed) bytes read from the stream. */
  maxArchiveBytes: number;
  /** Cap on the bytes of all extracted files together. */
  maxExtractedBytes: number;
  /** Cap on entries. Default 100,000. */
  maxEntries?: number;
  /** Leading path components to drop (GitHub's top-level folder: 1). Default 1. */
  stripComponents?: number;
  /** Keep only this subdirectory (repository-relative, e.g. `analysis/common`); paths stay repo-relative. */
  include?: string;
  /** What the archive is, for messages. */
  label?: string;
}

export interface ExtractResult {
  dir: string;
  files: number;
  bytes: number;
  symlinks: number;
  /** Entries not extracted and why (unsafe paths, links leaving the directory, hard links...). */
  skipped: { path: string; reason: string }[];
}

/** Extracts a tar (optionally gzipped) stream into `dir`, which must not exist or be empty. */
export async function extractTarball(
  source: AsyncIterable<Uint8Array>,
  dir: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const label = options.label ?? 'the archive';
  await ensureEmptyOrAbsent(dir);
  await mkdir(dirname(dir), { recursive: true });
  const staging = join(
    dirname(dir),
    `.${basename(dir)}.partial-${process.pid}-${Date.now().toString(36)}`,
  );
  await mkdir(staging);
  try {
    const result = await extractInto(source, staging, options, label);
    await rmdir(dir).catch(() => {});
    await rename(staging, dir);
    return { ...result, dir };
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
}

async function extractInto(
  source: AsyncIterable<Uint8Array>,
  root: string,
  options: ExtractOptions,
  label: string,
): Promise<Omit<ExtractResult, 'dir'>> {
  const strip = options.stripComponents ?? 1;
  const maxEntries = options.maxEntries ?? 100_000;
  const include = options.include === undefined ? undefined : normalizeInclude(options.include);
  const skipped: { path: string; reason: string }[] = [];
  const links: { rel: string; target: string }[] = [];
  const writes: Promise<void>[] = [];
  let entries = 0;
  let bytes = 0;
  let files = 0;
  let failure: unknown;

  const parser = new Parser({ strict: true });
  const fail = (error: unknown) => {
    failure ??= error;
    parser.abort(error instanceof Error ? error : new Error(String(error)));
  };
  parser.on('error', (error: unknown) => fail(error));
  parser.on('entry', (entry: ReadEntry) => {
    if (failure !== undefined) return entry.resume();
    entries++;
    if (entries > maxEntries) {
      entry.resume();
      return fail(tooLarge(`${label} has more than ${maxEntries} entries`, { maxEntries }));
    }
    const rel = safeRelative(entry.path, strip);
    if (typeof rel !== 'string') {
      entry.resume();
      if (rel.reason !== '') skipped.push({ path: entry.path, reason: rel.reason });
      return;
    }
    if (
      include !== undefined &&
      rel !== include &&
      !rel.startsWith(`${include}/`) &&
      !include.startsWith(`${rel}/`)
    ) {
      return entry.resume();
    }
    switch (entry.type) {
      case 'Directory':
        entry.resume();
        writes.push(mkdir(join(root, rel), { recursive: true }).then(() => undefined));
        return;
      case 'File':
      case 'OldFile':
      case 'ContiguousFile': {
        if (include?.startsWith(`${rel}/`)) return entry.resume();
        bytes += entry.size;
        if (bytes > options.maxExtractedBytes) {
          entry.resume();
          return fail(
            tooLarge(`${label} extracts to more than the ${options.maxExtractedBytes}-byte limit`, {
              maxBytes: options.maxExtractedBytes,
            }),
          );
        }
        files++;
        writes.push(writeFile(root, rel, entry).catch((error: unknown) => fail(error)));
        return;
      }
      case 'SymbolicLink':
        entry.resume();
        links.push({ rel, target: entry.linkpath ?? '' });
        return;
      default:
        entry.resume();
        skipped.push({ path: rel, reason: `${entry.type} entries are not extracted` });
    }
  });

  let archiveBytes = 0;
  try {
    for await (const chunk of source) {
      if (failure !== undefined) break;
      archiveBytes += chunk.byteLength;
      if (archiveBytes > options.maxArchiveBytes) {
        fail(
          tooLarge(`${label} is over the ${options.maxArchiveBytes}-byte download limit`, {
            maxBytes: options.maxArchiveBytes,
          }),
        );
        break;
      }
      if (!parser.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        await Promise.race([once(parser, 'drain'), once(parser, 'abort')]);
      }
    }
  } catch (error) {
    fail(error);
  }
  if (failure === undefined) {
    const ended = once(parser, 'end');
    parser.end();
    await Promise.race([ended, once(parser, 'abort')]);
  }
  await Promise.allSettled(writes);
  if (failure !== undefined) throw failure;

  let symlinks = 0;
  for (const link of links) {
    const reason = await createLink(root, link.rel, link.target);
    if (reason === undefined) symlinks++;
    else skipped.push({ path: link.rel, reason });
  }
  // A chain of links that each look inside can still lead out (a -> ., b -> a/..): check the
  // real path of every link now that all of them exist, and remove those that leave.
  for (const link of links) {
    const path = join(root, link.rel);
    const stat = await lstat(path).catch(() => undefined);
    if (stat === undefined || !stat.isSymbolicLink()) continue;
    const real = await realpath(path).catch(() => undefined);
    const realRoot = await realpath(root);
    if (real === undefined || !isInside(realRoot, real)) {
      await unlink(path);
      symlinks--;
      skipped.push({
        path: link.rel,
        reason:
          real === undefined
            ? 'symbolic link target does not exist'
            : 'symbolic link leads outside the directory',
      });
    }
  }
  return { files, bytes, symlinks, skipped };
}

async function writeFile(root: string, rel: string, entry: ReadEntry): Promise<void> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  const mode = (entry.mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
  // 'wx': never overwrite and never follow an existing link at the final component.
  await pipeline(entry, createWriteStream(path, { flags: 'wx', mode }));
}

async function createLink(root: string, rel: string, target: string): Promise<string | undefined> {
  if (target === '' || target.includes('\0')) return 'symbolic link without a target';
  if (posix.isAbsolute(target) || /^[a-zA-Z]:/.test(target) || target.includes('\\')) {
    return `symbolic link to an absolute path (${target})`;
  }
  const resolved = posix.normalize(posix.join(posix.dirname(rel), target));
  if (resolved === '..' || resolved.startsWith('../'))
    return `symbolic link leads outside the directory (${target})`;
  // The link's own directory must already be a real directory inside the root, not reached
  // through a link (nothing is created here but the link itself).
  const parent = join(root, dirname(rel));
  const realParent = await realpath(parent).catch(() => undefined);
  if (realParent === undefined) return 'symbolic link in a directory the archive does not have';
  const realRoot = await realpath(root);
  const expected = dirname(rel) === '.' ? realRoot : join(realRoot, dirname(rel));
  if (realParent !== expected) return 'symbolic link inside a linked directory';
  try {
    await symlink(target, join(root, rel));
  } catch (error) {
    return `symbolic link not created (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
  }
  return undefined;
}

/** The repository-relative path of an entry, or why it is skipped ('' = silently: the top folder). */
function safeRelative(raw: string, strip: number): string | { reason: string } {
  if (raw.includes('\0')) return { reason: 'path contains a NUL byte' };
  if (raw.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(raw) || raw.startsWith('\\'))
    return { reason: 'absolute path' };
  const parts = raw.split(/[\\/]/).filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) return { reason: 'path with ".." segments' };
  const rest = parts.slice(strip);
  if (rest.length === 0) return { reason: '' };
  return rest.join('/');
}

function normalizeInclude(include: string): string {
  const parts = include.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..') || parts.length === 0) {
    throw new SourceError('invalid_source', `invalid repository subdirectory "${include}"`);
  }
  return parts.join('/');
}

async function ensureEmptyOrAbsent(dir: string): Promise<void> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  if (names.length > 0) throw new Error(`context directory ${dir} is not empty`);
}

function tooLarge(message: string, details: Record<string, unknown>): SourceError {
  return new SourceError('too_large', message, { details });
}

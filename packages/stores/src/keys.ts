/**
 * Keys are portable between GCS and a local directory: slash-separated segments, each a valid
 * file name. Anything that could escape a directory or is ambiguous is refused with
 * `invalid_key`, in both stores, so a key that works locally also works on GCS and vice versa.
 */
import { extname } from 'node:path';
import { StoreError } from './errors.ts';

/** File names the local store uses for itself (temp files, metadata sidecars). */
export const RESERVED_SEGMENT_PREFIX = '.nes-';

const MAX_KEY_BYTES = 1024; // GCS's object name limit
/** Leaves room in a 255-byte file name for the local store's sidecar name around a segment. */
const MAX_SEGMENT_BYTES = 200;

export function checkKey(key: string): string {
  const problem = keyProblem(key);
  if (problem !== null) {
    throw new StoreError('invalid_key', `invalid key ${JSON.stringify(key)}: ${problem}`, { key });
  }
  return key;
}

/** A list prefix: `''`, or a key-like string that may end with `/` or in the middle of a name. */
export function checkPrefix(prefix: string): string {
  if (prefix === '') return prefix;
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  const problem = trimmed === '' ? 'starts with "/"' : keyProblem(trimmed);
  if (problem !== null) {
    throw new StoreError('invalid_key', `invalid prefix ${JSON.stringify(prefix)}: ${problem}`, {
      key: prefix,
    });
  }
  return prefix;
}

function keyProblem(key: string): string | null {
  if (typeof key !== 'string' || key === '') return 'empty';
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) return `longer than ${MAX_KEY_BYTES} bytes`;
  if (key.includes('\0')) return 'contains NUL';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are the point
  if (/[\u0000-\u001f\u007f]/.test(key)) return 'contains a control character';
  if (key.startsWith('/')) return 'absolute (starts with "/")';
  if (/^[A-Za-z]:/.test(key)) return 'absolute (drive letter)';
  if (key.includes('\\')) return 'contains "\\"';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segment (leading, trailing or double "/")';
    if (segment === '.' || segment === '..') return `"${segment}" segment`;
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
      return `segments starting with "${RESERVED_SEGMENT_PREFIX}" are reserved`;
    }
    if (Buffer.byteLength(segment) > MAX_SEGMENT_BYTES)
      return `a segment is longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}

const CONTENT_TYPES: Record<string, string> = {
  '.ipynb': 'application/x-ipynb+json',
  '.json': 'application/json',
  '.log': 'text/plain; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.md': 'text/markdown; charset=utf-8',
  '.html': 'text/html; charset=utf-8',
  '.csv': 'text/csv; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.pdf': 'application/pdf',
};

export function guessContentType(key: string): string {
  return CONTENT_TYPES[extname(key).toLowerCase()] ?? 'application/octet-stream';
}

/** `a/b/` from `a/b`, `''` from `''`. */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+|\/+$/g, '');
  if (trimmed === '') return '';
  checkKey(trimmed);
  return `${trimmed}/`;
}

/** GCS lists in UTF-8 byte order; so do we. */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

import { gzipSync } from 'node:zlib';
import type { RetryPolicy } from '../src/index.ts';

/** Fast retries for tests: the same attempt count as production, near-zero delays. */
export const fastRetry: RetryPolicy = { attempts: 4, baseDelayMs: 1, maxDelayMs: 4 };

export function notebookText(
  sources: string[],
  extraMetadata: Record<string, unknown> = {},
): string {
  return `${JSON.stringify(
    {
      cells: sources.map((source, i) => ({
        cell_type: 'code',
        execution_count: null,
        id: `cell-${i}`,
        metadata: {},
        outputs: [],
        source,
      })),
      metadata: {
        kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
        ...extraMetadata,
      },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  )}\n`;
}

export interface TarEntry {
  name: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'fifo';
  content?: string;
  linkname?: string;
}

/** A hand-made ustar archive (gzipped): it can hold what no honest tool writes. */
export function craftTarball(entries: TarEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const entry of entries) {
    const body = Buffer.from(entry.content ?? '');
    const header = Buffer.alloc(512);
    header.write(entry.name, 0, 100, 'utf8');
    const type = entry.type ?? 'file';
    header.write(type === 'dir' ? '0000755\0' : '0000644\0', 100, 'ascii');
    header.write('0000000\0', 108, 'ascii');
    header.write('0000000\0', 116, 'ascii');
    header.write(
      `${(type === 'file' ? body.byteLength : 0).toString(8).padStart(11, '0')}\0`,
      124,
      'ascii',
    );
    header.write('00000000000\0', 136, 'ascii');
    const flag = { file: '0', hardlink: '1', symlink: '2', dir: '5', fifo: '6' }[type];
    header.write(flag, 156, 'ascii');
    if (entry.linkname !== undefined) header.write(entry.linkname, 157, 100, 'utf8');
    header.write('ustar\0', 257, 'ascii');
    header.write('00', 263, 'ascii');
    header.fill(' ', 148, 156);
    let sum = 0;
    for (const byte of header) sum += byte;
    header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
    blocks.push(header);
    if (type === 'file' && body.byteLength > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.byteLength % 512)) % 512));
    }
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

export async function* chunks(bytes: Uint8Array, size = 4096): AsyncIterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size)
    yield bytes.subarray(offset, offset + size);
}

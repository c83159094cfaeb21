/**
 * A NotebookSink writing a local file atomically: the bytes go to a temporary file in the same
 * directory, are flushed to disk (fsync), then renamed over the target. A reader (the viewer, a
 * crash) sees the previous complete notebook or the new one, never half of one.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Notebook, serializeNotebook } from '@nes/notebook';
import type { NotebookSink } from './execution-types.ts';

export class LocalFileSink implements NotebookSink {
  readonly uri: string;
  readonly #serialize: (nb: Notebook) => string;

  constructor(path: string, options: { serialize?: (nb: Notebook) => string } = {}) {
    this.uri = resolve(path);
    this.#serialize = options.serialize ?? serializeNotebook;
  }

  async write(notebook: Notebook, _reason?: 'autosave' | 'final'): Promise<void> {
    const text = this.#serialize(notebook);
    const dir = dirname(this.uri);
    await mkdir(dir, { recursive: true });
    const temp = join(dir, `.${basename(this.uri)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      const handle = await open(temp, 'w', 0o644);
      try {
        await handle.writeFile(text, 'utf8');
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.uri);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await syncDirectory(dir);
  }
}

/** Makes the rename itself durable; best effort (not every file system allows it). */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // Directory fsync is unsupported on some platforms and file systems; the rename still holds.
  }
}

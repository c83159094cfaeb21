/**
 * gs:// notebooks through @nes/stores' GCS store (so credentials, STORAGE_EMULATOR_HOST and
 * retries on 429/5xx are the stores package's): stat for the size and generation, then get.
 * Loaded lazily: a process that never reads gs:// never loads the GCS client.
 */
import { SourceError } from './errors.ts';
import { tooLarge } from './github.ts';
import type { GcsObjectReader } from './options.ts';

export const storesGcsReader: GcsObjectReader = {
  async read(bucket, object, { generation, maxBytes }) {
    const { openStore, isStoreError } = await import('@nes/stores/local');
    const store = await openStore(`gs://${bucket}`);
    const where = `gs://${bucket}/${object}`;
    try {
      const info = await store.stat(object);
      if (info === null) throw notFound(where);
      if (generation !== null && info.generation !== null && info.generation !== generation) {
        throw new SourceError(
          'path_not_found',
          `${where} generation ${generation} is no longer the live version (now ${info.generation})`,
          { details: { generation, live: info.generation } },
        );
      }
      if (info.size > maxBytes) throw tooLarge(where, info.size, maxBytes);
      const bytes = await store.get(object);
      if (bytes.byteLength > maxBytes) throw tooLarge(where, bytes.byteLength, maxBytes);
      return {
        bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
        generation: info.generation,
      };
    } catch (error) {
      if (error instanceof SourceError) throw error;
      if (isStoreError(error, 'not_found')) throw notFound(where);
      if (isStoreError(error, 'forbidden')) {
        throw new SourceError(
          'access_denied',
          `${where} cannot be read: the service account lacks storage.objects.get on bucket ${bucket}`,
          { details: { status: error.status } },
        );
      }
      if (isStoreError(error, 'invalid_key')) {
        throw new SourceError('invalid_source', `${where}: ${error.message}`);
      }
      const message = error instanceof Error ? error.message : String(error);
      throw new SourceError('source_unavailable', `${where} cannot be read (${message})`, {
        transient: true,
      });
    }
  },
};

function notFound(where: string): SourceError {
  return new SourceError(
    'path_not_found',
    `${where} does not exist: check the bucket and object name`,
  );
}

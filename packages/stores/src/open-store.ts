import { fileURLToPath } from 'node:url';
import { StoreError } from './errors.ts';
import { GcsStore, type GcsStoreOptions } from './gcs-store.ts';
import { LocalStore } from './local-store.ts';
import type { ObjectStore } from './types.ts';

/**
 * A store from `NES_STORE`-style text: `gs://bucket/prefix` (GCS; `STORAGE_EMULATOR_HOST` is
 * honoured by the client), `file:///abs/dir`, or a directory path (relative to the working
 * directory). Nothing is contacted until the first call.
 */
export function openStore(
  uri: string,
  options: { gcs?: Omit<GcsStoreOptions, 'bucket' | 'prefix'> } = {},
): ObjectStore {
  if (uri.startsWith('gs://')) {
    const rest = uri.slice('gs://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1);
    return new GcsStore({ ...options.gcs, bucket, prefix });
  }
  if (uri.startsWith('file://')) return new LocalStore(fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new StoreError(
      'invalid_key',
      `unsupported store ${JSON.stringify(uri)}: use gs://bucket/prefix or a directory`,
    );
  }
  if (uri === '') throw new StoreError('invalid_key', 'empty store location');
  return new LocalStore(uri);
}

import { fileURLToPath } from 'node:url';
import { StoreError } from './errors.ts';
import type { GcsStoreOptions } from './gcs-store.ts';
import { LocalStore } from './local-store.ts';
import type { ObjectStore } from './types.ts';

/**
 * The one way to open a store from `NES_STORE`-style text: `gs://bucket/prefix` (GCS;
 * `STORAGE_EMULATOR_HOST` is honoured by the client), `file:///abs/dir`, or a directory path
 * (relative to the working directory). The scheme is matched without regard to case, as URI
 * schemes are. The GCS client library is loaded only for a gs:// store (it costs about 0.8 s of
 * start-up that a run writing local files need not pay). Nothing is contacted until the first
 * call; a location that is no store throws a StoreError naming it.
 */
export async function openStore(
  uri: string,
  options: { gcs?: Omit<GcsStoreOptions, 'bucket' | 'prefix'> } = {},
): Promise<ObjectStore> {
  if (/^gs:\/\//i.test(uri)) {
    const rest = uri.slice('gs://'.length);
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? '' : rest.slice(slash + 1);
    const { GcsStore } = await import('./gcs-store.ts');
    return new GcsStore({ ...options.gcs, bucket, prefix });
  }
  if (/^file:\/\//i.test(uri)) return new LocalStore(fileURLToPath(uri));
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    throw new StoreError(
      'invalid_key',
      `unsupported store ${JSON.stringify(uri)}: use gs://bucket/prefix, file:///dir or a directory`,
    );
  }
  if (uri === '') throw new StoreError('invalid_key', 'empty store location');
  return new LocalStore(uri);
}

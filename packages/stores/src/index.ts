export {
  type GcsRetryOptions,
  GcsStore,
  type GcsStoreOptions,
  isRetryableGcsError,
} from './gcs-store.ts';
export * from './local.ts';

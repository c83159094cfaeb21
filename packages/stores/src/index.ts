export { isStoreError, StoreError, type StoreErrorCode } from './errors.ts';
export {
  type GcsRetryOptions,
  GcsStore,
  type GcsStoreOptions,
  isRetryableGcsError,
} from './gcs-store.ts';
export { checkKey, checkPrefix, guessContentType } from './keys.ts';
export { LocalStore, type LocalStoreOptions } from './local-store.ts';
export {
  NOTEBOOK_CONTENT_TYPE,
  type NotebookSinkLike,
  StoreNotebookSink,
  type StoreNotebookSinkOptions,
} from './notebook-sink.ts';
export { openStore } from './open-store.ts';
export {
  checkRunId,
  MANIFEST_VERSION,
  outputKeyFromTemplate,
  RUNS_PREFIX,
  RunArtifacts,
  type RunKeys,
  type RunManifest,
  type RunManifestInput,
  runKeys,
} from './run-artifacts.ts';
export type {
  ListOptions,
  ListResult,
  ObjectInfo,
  ObjectStore,
  PutBody,
  PutOptions,
} from './types.ts';

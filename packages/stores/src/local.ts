/**
 * `@nes/stores/local`: everything but the GCS store class. Importing it loads no cloud client
 * library (about 0.8 s of start-up that a run writing only local files need not pay);
 * `openStore` loads it when a gs:// store is opened. `@nes/stores` has it all.
 */
export { isStoreError, StoreError, type StoreErrorCode } from './errors.ts';
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

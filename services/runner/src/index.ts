import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';

export { DEFAULT_AUTOSAVE_POLICY, WATCHED_RUN_AUTOSAVE_POLICY } from './autosave.ts';
export { DEFAULT_START_TIMEOUT_MS, executeNotebook } from './execute.ts';
export type * from './execution-types.ts';
export {
  getKernel,
  JupyterApiError,
  type KernelModel,
  listKernelSpecs,
  type ServerEndpoint,
  shutdownKernel,
  startKernel,
} from './jupyter-api.ts';
export type { PrivateJupyterServer, StartServerOptions } from './jupyter-server.ts';
export { CONFIG_FILE, locateJupyterServer, startJupyterServer } from './jupyter-server.ts';
export { KernelNotFoundError } from './kernel-client.ts';
export { DEFAULT_KERNEL, kernelSpecName } from './kernel-names.ts';
export {
  availableKernels,
  findKernelSpec,
  type KernelSpec,
  needsProvisioner,
} from './kernelspecs.ts';
export type { KernelEndpoints } from './local-kernel.ts';
export { DEFAULT_OUTPUT_LIMITS } from './output-limits.ts';
export type {
  DirectKernel,
  ParentMessage,
  WorkerMessage,
  WorkerResult,
  WorkerRunSpec,
} from './worker/protocol.ts';
export { MAX_FORWARDED_OUTPUT_BYTES } from './worker/protocol.ts';
/**
 * The runner worker's entry module, for `node WORKER_ENTRY` with an IPC channel: `.ts` in the
 * repository, `.js` in the built package (scripts/build-packages.ts), as this module is.
 */
export const WORKER_ENTRY = fileURLToPath(
  new URL(`./worker/main${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
/**
 * Starts a run's kernel inside its sandbox without a Jupyter Server, forked from the template
 * when there is one (python/nes_kernel_fork/nes_kernel_fork/launch.py, run by path: it needs no
 * installed package and imports no site).
 */
export const KERNEL_LAUNCHER = fileURLToPath(
  new URL('../python/nes_kernel_fork/nes_kernel_fork/launch.py', import.meta.url),
);
export { oomKilledSince, readOomKillCount } from './oom.ts';
export {
  collectResults,
  NO_RESULTS,
  RESULT_LIMITS,
  type ResultsDocument,
  type RunResult,
  type RunResults,
  resultsDocument,
  resultValues,
} from './results.ts';

/**
 * The runner worker's protocol: how an executor on the same machine drives one run in a child
 * process (`node services/runner/src/worker/main.ts`, see WORKER_ENTRY).
 *
 * The channel is Node's IPC pipe (stdio 'ipc'): only the parent that spawned the child can read or
 * write it, so no token is needed; stdout and stderr stay free for people. A Kubernetes pod has
 * no such private channel: there the same messages need a per-run token (see the executor).
 *
 *   child  -> parent  { type: 'ready' }                    modules loaded, waiting for a run
 *   parent -> child   { type: 'run', spec }                one run, once
 *   child  -> parent  { type: 'need_kernel', kernelName }  the notebook is fetched and prepared
 *   parent -> child   { type: 'kernel', kernelId, jupyter? } a pre-started kernel (null: start one),
 *                                                        on its own server when `jupyter` is given
 *                     { type: 'kernel', direct }         or a kernel in the run's sandbox, reached
 *                                                        over ZeroMQ at `direct.endpoints`
 *   parent -> child   { type: 'kernel_exit', how, stderrTail }  that direct kernel is gone
 *   child  -> parent  { type: 'stop_kernel' }              end the direct kernel now
 *   child  -> parent  { type: 'event', event }             the engine's RunEvents, in order
 *   child  -> parent  { type: 'output', stream, text }     cell stream output (capped)
 *   parent -> child   { type: 'cancel' }                   stop, save as cancelled
 *   child  -> parent  { type: 'result', result }           then the child exits with nes-run's code
 *
 * The parent going away (the IPC channel closes) cancels the run: the notebook is saved as
 * cancelled and the child exits. A child that dies without a result is judged by its exit code
 * and signal (the executor's observation).
 */
import type { WorkerResult as ContractWorkerResult } from '@nes/run-contract';
import type { AutosavePolicy, RunEvent } from '../execution-types.ts';
import type { KernelSpec } from '../kernelspecs.ts';
import type { KernelEndpoints } from '../local-kernel.ts';
import type { RunResults } from '../results.ts';

export interface WorkerRunSpec {
  runId: string;
  /** The notebook's source as submitted (github://, https://github.com/...blob..., gs://, a path). */
  notebook: string;
  ref: string | null;
  /** The commit resolved at submit time: every GitHub read uses it. */
  commitSha: string | null;
  /**
   * The run's parameters as exact JSON text (@nes/notebook stringifyParametersJson): the IPC
   * channel's own JSON would turn `1.0` into `1`, reorder dict keys like "1", and refuse big
   * integers. The worker reads it with parseParametersJson.
   */
  parametersJson: string;
  /** Kernel name; null: the notebook's kernelspec. */
  kernel: string | null;
  /** The output store: `gs://bucket/prefix`, `file:///dir` or a directory (NES_STORE). */
  store: string;
  /**
   * The Jupyter Server to use when the parent's `kernel` reply names none (the local executor
   * gives each run its own sandboxed server with the kernel instead).
   */
  jupyter?: JupyterEndpoint;
  /**
   * The GitHub token for reading the notebook: sent over the private channel so that it is in
   * no process's environment (NES_GITHUB_TOKEN otherwise).
   */
  githubToken?: string;
  /** The whole run's deadline (fetch included). */
  timeoutSeconds: number | null;
  /** Directories local notebook paths may come from (NES_NOTEBOOK_ROOTS otherwise). */
  localRoots?: string[];
  /** Autosave policy (the engine's defaults otherwise). */
  autosave?: Partial<AutosavePolicy>;
  /** Recorded in the manifest. */
  labels?: Record<string, string>;
  createdAt?: string;
}

export interface JupyterEndpoint {
  url: string;
  token: string;
  rootDir?: string;
}

/**
 * A kernel the executor launched inside the run's sandbox, with no Jupyter Server: its spec and
 * where its sockets are (`ipc://` paths in the run's directory, as the worker sees them). Its end
 * is reported by the executor (`kernel_exit`), which watches the sandbox.
 */
export interface DirectKernel {
  spec: KernelSpec;
  endpoints: KernelEndpoints;
}

/**
 * The run's end, as the run contract defines it, with what the notebook recorded (nes.record,
 * nes.exit, scrapbook; null when it never ran).
 */
export type WorkerResult = ContractWorkerResult & { results?: RunResults | null };

export type ParentMessage =
  | { type: 'run'; spec: WorkerRunSpec }
  | { type: 'kernel'; kernelId: string | null; jupyter?: JupyterEndpoint; direct?: DirectKernel }
  | { type: 'kernel_exit'; how: string; stderrTail: string }
  | { type: 'cancel' };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'need_kernel'; kernelName: string }
  | { type: 'stop_kernel' }
  | { type: 'event'; event: RunEvent }
  | { type: 'output'; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'result'; result: WorkerResult };

/** Cell stream output forwarded per run; past it one notice is sent and the rest dropped. */
export const MAX_FORWARDED_OUTPUT_BYTES = 1024 * 1024;

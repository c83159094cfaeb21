/**
 * The runner's public contract: what a caller (the nes-run CLI, the local executor, a pod
 * entry point) gives `executeNotebook`, what it gets back, and the events it can observe.
 */
import type { Notebook } from '@nes/notebook';
import type { RunFailure, RunOutcome } from '@nes/run-contract';
import type { KernelClient } from './kernel-client.ts';

/** How a run ends is @nes/run-contract's: the runner reports it in those terms. */
export type { FailureClass, RunFailure, RunOutcome } from '@nes/run-contract';

/**
 * Where the notebook goes while and after it runs. Implementations must write atomically.
 * The runner calls `write` one at a time and never changes a notebook it passed to `write`
 * (autosaves get a snapshot), so an implementation may serialize it at leisure.
 */
export interface NotebookSink {
  /** Human-readable location, e.g. a path or a gs:// URI. */
  readonly uri: string;
  write(notebook: Notebook, reason: 'autosave' | 'final'): Promise<void>;
}

export interface OutputLimits {
  /** Bytes one output may hold before it is truncated with a visible note. */
  perOutputBytes: number;
  /** Bytes all outputs of the notebook may hold; later outputs are replaced by a note. */
  perNotebookBytes: number;
}

export interface AutosavePolicy {
  /** Minimum time between two autosaves; never below 1000 (GCS allows one write/s/object). */
  minIntervalMs: number;
  /** papermill's --request-save-on-cell-execute: autosave after cells complete at all. */
  onCellComplete: boolean;
  /** papermill's --autosave-cell-every: also save a long-running cell every N seconds (0 = off). */
  longCellEverySeconds: number;
}

export interface JupyterServerTarget {
  /** Base URL of an existing Jupyter Server (remote kernels, gateways). */
  url?: string;
  token?: string;
  /**
   * With `url`: the server's root directory when it runs on this machine, so that `cwd` can be
   * sent relative to it. Without it, `cwd` must already be relative to the server's root.
   */
  rootDir?: string;
  /**
   * With `url`: run on this kernel, already started on the server (a warm pool), instead of
   * starting one. The run owns it from then on and shuts it down at the end; its working
   * directory is the one it was started in (`cwd` does not apply).
   */
  kernelId?: string;
}

export interface ExecuteOptions {
  /**
   * The notebook to run, as prepareRun (prepare-run.ts) leaves it: parameterized, report mode
   * applied, its papermill record (input_path, parameters, ...) in `metadata.papermill`, to which
   * the engine adds start_time, end_time, duration and exception.
   */
  notebook: Notebook;
  /** Where to save; autosaves and the final save go here. */
  sink: NotebookSink;
  /** Kernel name override; default is the notebook's kernelspec name. */
  kernelName?: string;
  /** Working directory of the kernel. Default: this process's working directory. */
  cwd?: string;
  /**
   * Run on a Jupyter Server (remote kernels, gateways, a warm pool). Absent: the kernel is
   * launched directly from its kernelspec and reached over ZeroMQ, as papermill does.
   */
  jupyter?: JupyterServerTarget;
  /**
   * Without `jupyter`: a kernel already being started for this run, which the run takes over
   * (and shuts down). Resolving to null, or absent: the run launches its own.
   */
  kernel?: Promise<KernelClient | null>;
  /** Time allowed for the server and kernel to become ready. */
  startTimeoutMs?: number;
  /** Time one cell may run (papermill's --execution-timeout). Absent: no limit. */
  cellTimeoutMs?: number;
  /** Time the whole run may take, start included. Absent: no limit. */
  deadlineMs?: number;
  /**
   * The run's time limit as its user set it, for the message when the deadline passes
   * (deadlineMs is what is left of it once the run reaches the engine).
   */
  timeLimitSeconds?: number;
  autosave?: Partial<AutosavePolicy>;
  limits?: Partial<OutputLimits>;
  /** Aborting cancels the run: interrupt, shut the kernel down, save as cancelled. */
  signal?: AbortSignal;
  /** Observe progress. Must not throw; must not block. */
  onEvent?: (event: RunEvent) => void;
  /** Receives cell output text as it arrives (papermill's --log-output). */
  onOutputText?: (text: string, stream: 'stdout' | 'stderr') => void;
  /** Receives the text/plain of each display and execute result (papermill's --log-output). */
  onOutputPlainText?: (text: string) => void;
  /**
   * Called as each cell, markdown included, starts and ends, with its index in the running
   * notebook (papermill's `Executing Cell N` / `Ending Cell N` markers count the same way).
   */
  onCellBoundary?: (phase: 'start' | 'end', cellIndex: number) => void;
  /** Extra environment for the kernel (not for one on a Jupyter Server). */
  env?: Record<string, string>;
}

export interface RunSummary {
  status: RunOutcome;
  error: RunFailure | null;
  /** Code cells in the notebook. */
  cellsTotal: number;
  /** Code cells that ran to an end (completed or failed). */
  cellsDone: number;
  durationMs: number;
  saves: number;
}

export interface ExecuteResult extends RunSummary {
  notebook: Notebook;
}

/** Machine-readable progress, one JSON object per line on the events channel. */
export type RunEvent =
  | { type: 'started'; time: string; kernel: string; cellsTotal: number }
  /** Cell events are for code cells; cellIndex is the cell's index in the input notebook. */
  | { type: 'cell_started'; time: string; cellIndex: number; codeCellNumber: number }
  | {
      type: 'cell_finished';
      time: string;
      cellIndex: number;
      status: 'completed' | 'failed';
      durationMs: number;
    }
  | { type: 'saved'; time: string; reason: 'autosave' | 'final'; uri: string; durationMs: number }
  | {
      type: 'save_failed';
      time: string;
      reason: 'autosave' | 'final';
      uri: string;
      message: string;
    }
  | { type: 'log'; time: string; level: 'info' | 'warn' | 'error'; message: string }
  | { type: 'finished'; time: string; summary: RunSummary };

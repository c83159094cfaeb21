/**
 * A run as the API stores and serves it (design.md, "Contract"). The run store, the routes, the
 * scheduler and the executors all speak this model; the HTTP shape adds `links`.
 */
import type { RunFailure, RunStatus } from '@nes/run-contract';

/** Statuses, failure classes and the failure shape are the run contract's. */
export type { RunFailure, RunStatus } from '@nes/run-contract';
export { TERMINAL_STATUSES } from '@nes/run-contract';

/** Which statuses each status may move to. Status moves forward only; terminal never changes. */
export const NEXT_STATUSES: Readonly<Record<RunStatus, readonly RunStatus[]>> = {
  queued: ['starting', 'cancelled', 'failed', 'timed_out'],
  starting: ['running', 'succeeded', 'failed', 'cancelled', 'timed_out'],
  running: ['succeeded', 'failed', 'cancelled', 'timed_out'],
  succeeded: [],
  failed: [],
  cancelled: [],
  timed_out: [],
};

export interface RunProgress {
  cellsDone: number;
  cellsTotal: number;
  currentCell: number | null;
}

/** What is fixed at submit time; a rerun copies it (with optional overrides). */
export interface RunSpec {
  notebook: string;
  ref: string | null;
  commitSha: string | null;
  parameters: Record<string, unknown>;
  kernel: string | null;
  labels: Record<string, string>;
  timeoutSeconds: number | null;
  resources: Record<string, unknown> | null;
  image: string | null;
  /** Concurrency queue (per-queue limits); default 'default'. */
  queue: string;
  sweepId: string | null;
}

export interface Run extends RunSpec {
  id: string;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: RunProgress;
  error: RunFailure | null;
  outputUri: string | null;
  cancelRequested: boolean;
}

export interface RunEventRecord {
  runId: string;
  seq: number;
  time: string;
  /** 'status' | 'progress' | 'log' | ...: the SSE event name. */
  type: string;
  data: Record<string, unknown>;
}

/**
 * A run as the API stores and serves it (design.md, "Contract"). The run store, the routes, the
 * scheduler and the executors all speak this model; its shape is the HTTP API's run
 * (@nes/client) without `links`.
 */
import type { Run as ApiRun } from '@nes/client';
import type { RunStatus } from '@nes/run-contract';

export type { RunProgress } from '@nes/client';
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

/** What is fixed at submit time; a rerun copies it (with optional overrides). */
export type RunSpec = Pick<
  ApiRun,
  | 'notebook'
  | 'ref'
  | 'commitSha'
  | 'parameters'
  | 'kernel'
  | 'labels'
  | 'timeoutSeconds'
  | 'resources'
  | 'image'
  | 'queue'
  | 'sweepId'
>;

/** A run as stored: the HTTP shape without its links, which depend on the public URL. */
export type Run = Omit<ApiRun, 'links'>;

export interface RunEventRecord {
  runId: string;
  seq: number;
  time: string;
  /** 'status' | 'progress' | 'log' | ...: the SSE event name. */
  type: string;
  data: Record<string, unknown>;
}

/**
 * Where runs execute. The local executor runs runner processes on this machine; a Kubernetes
 * executor (one Job per run) implements the same interface, so routes and the store never change.
 */
import type { RunResults } from '@nes/runner';
import type { Run, RunFailure, RunProgress } from '../runs/run-model.ts';

/** What an executor reports about a run it launched. The scheduler applies it to the store. */
export type ExecutorUpdate =
  | { type: 'running'; runId: string; time: string }
  | { type: 'progress'; runId: string; progress: RunProgress }
  | {
      type: 'log';
      runId: string;
      time: string;
      stream: 'stdout' | 'stderr' | 'runner';
      text: string;
    }
  | { type: 'saved'; runId: string; outputUri: string }
  | {
      type: 'finished';
      runId: string;
      time: string;
      status: 'succeeded' | 'failed' | 'cancelled' | 'timed_out';
      error: RunFailure | null;
      outputUri: string | null;
      /**
       * What the notebook recorded, when the executor has it at once (the local executor's
       * worker reports it); otherwise GET /v1/runs/{id}/results reads it from the manifest.
       */
      results?: RunResults | null;
    };

export interface ExecutorObservation {
  runId: string;
  /** 'unknown' means the executor has no trace of the run (lost). */
  state: 'pending' | 'running' | 'finished' | 'unknown';
}

export interface Executor {
  readonly name: string;
  /** Kernel names this executor can run, for submit-time validation. */
  kernels(): Promise<string[]>;
  /** Starts the run; idempotent for the same run id. Updates arrive through `onUpdate`. */
  launch(run: Run): Promise<void>;
  /** Asks the run to stop; it saves its notebook as cancelled and reports 'finished'. */
  cancel(runId: string): Promise<void>;
  /** Current executor-side truth for a run, used to reconcile after an API restart. */
  observe(runId: string): Promise<ExecutorObservation>;
  onUpdate(listener: (update: ExecutorUpdate) => void): void;
  /** Stops intake; lets runs finish up to `graceMs`, then cancels and saves them. */
  shutdown(graceMs: number): Promise<void>;
}

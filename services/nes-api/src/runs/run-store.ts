/**
 * Durable run state. Two implementations share the same SQL: PostgreSQL through `pg`
 * (production, several API replicas) and PGlite (the embedded default).
 */
import type {
  Run,
  RunEventRecord,
  RunFailure,
  RunProgress,
  RunSpec,
  RunStatus,
} from './run-model.ts';

export interface ListRunsFilter {
  status?: RunStatus[];
  notebook?: string;
  /** Every label must match exactly. */
  labels?: Record<string, string>;
  createdAfter?: string;
  createdBefore?: string;
  sweepId?: string;
  limit: number;
  /** Opaque cursor from a previous page. Pages are newest first. */
  cursor?: string;
}

export interface TransitionPatch {
  startedAt?: string;
  finishedAt?: string;
  error?: RunFailure | null;
  outputUri?: string | null;
  progress?: RunProgress;
}

export interface IdempotentCreate {
  key: string;
  /** Hash of the normalized request body: the same key with another body is a conflict. */
  requestHash: string;
}

export class IdempotencyConflictError extends Error {
  readonly code = 'idempotency_conflict';
}

/** A list cursor this store did not issue (or that was altered): a 400 for the caller. */
export class InvalidCursorError extends Error {
  readonly code = 'invalid_cursor';
}

export interface StoredToken {
  id: string;
  name: string;
  scopes: Array<'read' | 'submit' | 'admin'>;
}

export interface RunStore {
  /** Creates a queued run, or returns the run an earlier request with the same key created. */
  createRun(spec: RunSpec, idempotency?: IdempotentCreate): Promise<{ run: Run; created: boolean }>;
  getRun(id: string): Promise<Run | null>;
  listRuns(filter: ListRunsFilter): Promise<{ runs: Run[]; nextCursor: string | null }>;
  /**
   * Moves a run to `to` only if its current status is one that may precede it (NEXT_STATUSES).
   * Returns the updated run, or null when the transition did not apply (a conditional update:
   * safe with several replicas). Records a 'status' event.
   */
  transition(id: string, to: RunStatus, patch?: TransitionPatch): Promise<Run | null>;
  updateProgress(id: string, progress: RunProgress): Promise<void>;
  /** Where the run's notebook is being saved, known from its first autosave; unfinished runs only. */
  recordOutputUri(id: string, outputUri: string): Promise<void>;
  requestCancel(id: string): Promise<Run | null>;
  /**
   * Claims up to `limit` queued runs in submit order (FOR UPDATE SKIP LOCKED), honoring
   * per-queue limits against runs already starting/running, and moves them to 'starting'.
   */
  claimQueued(limit: number, queueLimits?: Record<string, number>): Promise<Run[]>;
  /** Runs that have not finished (queued, starting, running), or only those in `statuses`. */
  listActive(statuses?: RunStatus[]): Promise<Run[]>;
  appendEvent(runId: string, type: string, data: Record<string, unknown>): Promise<RunEventRecord>;
  listEvents(runId: string, afterSeq?: number): Promise<RunEventRecord[]>;
  createToken(
    name: string,
    scopes: StoredToken['scopes'],
    secret?: string,
  ): Promise<{ token: string; id: string }>;
  verifyToken(token: string): Promise<StoredToken | null>;
  close(): Promise<void>;
}

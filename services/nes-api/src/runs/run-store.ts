/**
 * Durable run state. Two implementations share the same SQL: PostgreSQL through `pg`
 * (production, several API replicas) and PGlite (the embedded default).
 */
import type { ApiToken, TokenScope } from '@nes/client';
import type { RunResults } from '@nes/runner';
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
  /** What the notebook recorded, collected by the runner (terminal transitions). */
  results?: RunResults | null;
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

/** What a token may do is the HTTP API's (@nes/client): read, submit, admin. */
export type { TokenScope } from '@nes/client';
export const TOKEN_SCOPES: readonly TokenScope[] = ['read', 'submit', 'admin'];

/**
 * An API token as stored: what the API lists of it but its state, which the clock decides (the
 * secret is never stored, only a hash).
 */
export type StoredToken = Omit<ApiToken, 'state'>;

export interface NewTokenOptions {
  /** A given secret (tests, migrations); default: a new random `nes_...` secret. */
  secret?: string;
  expiresAt?: string | null;
}

/** The service's admin token was revoked (or expired): it must not come back by a restart. */
export class RevokedTokenError extends Error {
  readonly code = 'token_revoked';
}

export interface RunStore {
  /** Creates a queued run, or returns the run an earlier request with the same key created. */
  createRun(spec: RunSpec, idempotency?: IdempotentCreate): Promise<{ run: Run; created: boolean }>;
  /** createRun for many keyed runs at once (fewer statements), results in the order given. */
  createRuns(
    items: ReadonlyArray<{ spec: RunSpec; idempotency: IdempotentCreate }>,
  ): Promise<Array<{ run: Run; created: boolean }>>;
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
  /** How many runs are in `status` (the submit route's queue bound). */
  countRuns(status: RunStatus): Promise<number>;
  /**
   * The number of queued runs, exact and without a query, when the store can know it (an
   * embedded database has one writer: this store); undefined when it must be counted.
   */
  queuedCount?(): number | undefined;
  appendEvent(runId: string, type: string, data: Record<string, unknown>): Promise<RunEventRecord>;
  /** A run's stored results (null: none stored), or undefined when there is no such run. */
  getResults(runId: string): Promise<RunResults | null | undefined>;
  /** Stores results learned after the run finished (read back from its manifest), once. */
  saveResults(runId: string, results: RunResults): Promise<void>;
  listEvents(runId: string, afterSeq?: number): Promise<RunEventRecord[]>;
  /** Stores a new token (only the sha256 of its secret) and returns the secret once. */
  createToken(
    name: string,
    scopes: TokenScope[],
    options?: NewTokenOptions,
  ): Promise<{ token: string; id: string; record: StoredToken }>;
  /** The token a secret belongs to, when it is neither revoked nor expired; else null. */
  verifyToken(token: string): Promise<StoredToken | null>;
  /** Every token, newest first (revoked and expired ones too). */
  listTokens(): Promise<StoredToken[]>;
  getToken(id: string): Promise<StoredToken | null>;
  /** Revokes a token (a no-op when it already is); null when there is no such token. */
  revokeToken(id: string): Promise<StoredToken | null>;
  /**
   * Makes `secret` the service's admin token and revokes every other service token, in one
   * transaction: changing NES_ADMIN_TOKEN retires the previous one. Throws RevokedTokenError when
   * that secret was revoked or has expired.
   */
  setServiceToken(secret: string): Promise<{ record: StoredToken; revoked: StoredToken[] }>;
  close(): Promise<void>;
}

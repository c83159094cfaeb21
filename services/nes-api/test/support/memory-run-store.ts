/**
 * An in-memory RunStore for route tests only (the real stores are PostgreSQL and PGlite). It
 * keeps the contract's semantics that routes rely on: idempotent create, forward-only
 * transitions with a 'status' event, newest-first pages with an opaque cursor, hashed tokens.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import {
  NEXT_STATUSES,
  type Run,
  type RunEventRecord,
  type RunProgress,
  type RunSpec,
  type RunStatus,
} from '../../src/runs/run-model.ts';
import {
  IdempotencyConflictError,
  type IdempotentCreate,
  type ListRunsFilter,
  type RunStore,
  type StoredToken,
  type TransitionPatch,
} from '../../src/runs/run-store.ts';

export class MemoryRunStore implements RunStore {
  readonly runs = new Map<string, Run>();
  readonly events = new Map<string, RunEventRecord[]>();
  readonly #keys = new Map<string, { hash: string; runId: string }>();
  readonly #tokens = new Map<string, StoredToken>();
  #counter = 0;

  async createRun(
    spec: RunSpec,
    idempotency?: IdempotentCreate,
  ): Promise<{ run: Run; created: boolean }> {
    await tick();
    if (idempotency !== undefined) {
      const known = this.#keys.get(idempotency.key);
      if (known !== undefined) {
        if (known.hash !== idempotency.requestHash) throw new IdempotencyConflictError('conflict');
        return { run: structuredClone(this.runs.get(known.runId) as Run), created: false };
      }
    }
    this.#counter += 1;
    const created = new Date(Date.UTC(2026, 0, 1) + this.#counter * 1000).toISOString();
    const run: Run = {
      ...structuredClone(spec),
      parameters: spec.parameters,
      id: `run-${String(this.#counter).padStart(6, '0')}-${randomUUID().slice(0, 8)}`,
      status: 'queued',
      createdAt: created,
      startedAt: null,
      finishedAt: null,
      progress: { cellsDone: 0, cellsTotal: 0, currentCell: null },
      error: null,
      outputUri: null,
      cancelRequested: false,
    };
    this.runs.set(run.id, run);
    if (idempotency !== undefined)
      this.#keys.set(idempotency.key, { hash: idempotency.requestHash, runId: run.id });
    await this.appendEvent(run.id, 'status', { status: 'queued' });
    return { run: { ...run }, created: true };
  }

  async getRun(id: string): Promise<Run | null> {
    const run = this.runs.get(id);
    return run === undefined ? null : { ...run };
  }

  async listRuns(filter: ListRunsFilter): Promise<{ runs: Run[]; nextCursor: string | null }> {
    let runs = [...this.runs.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1));
    if (filter.status !== undefined) runs = runs.filter((r) => filter.status?.includes(r.status));
    if (filter.notebook !== undefined) runs = runs.filter((r) => r.notebook === filter.notebook);
    for (const [k, v] of Object.entries(filter.labels ?? {}))
      runs = runs.filter((r) => r.labels[k] === v);
    if (filter.createdAfter !== undefined)
      runs = runs.filter((r) => r.createdAt > (filter.createdAfter as string));
    if (filter.createdBefore !== undefined)
      runs = runs.filter((r) => r.createdAt < (filter.createdBefore as string));
    if (filter.sweepId !== undefined) runs = runs.filter((r) => r.sweepId === filter.sweepId);
    if (filter.cursor !== undefined) {
      const after = Buffer.from(filter.cursor, 'base64url').toString('utf8');
      runs = runs.filter((r) => r.createdAt < after);
    }
    const page = runs.slice(0, filter.limit);
    const last = page.at(-1);
    const nextCursor =
      runs.length > filter.limit && last !== undefined
        ? Buffer.from(last.createdAt).toString('base64url')
        : null;
    return { runs: page.map((r) => ({ ...r })), nextCursor };
  }

  async transition(id: string, to: RunStatus, patch: TransitionPatch = {}): Promise<Run | null> {
    const run = this.runs.get(id);
    if (run === undefined || !NEXT_STATUSES[run.status].includes(to)) return null;
    Object.assign(run, patch, { status: to });
    await this.appendEvent(id, 'status', { status: to });
    return { ...run };
  }

  async updateProgress(id: string, progress: RunProgress): Promise<void> {
    const run = this.runs.get(id);
    if (run !== undefined) run.progress = progress;
  }

  async recordOutputUri(id: string, outputUri: string): Promise<void> {
    const run = this.runs.get(id);
    if (run !== undefined && NEXT_STATUSES[run.status].length > 0) run.outputUri = outputUri;
  }

  async requestCancel(id: string): Promise<Run | null> {
    const run = this.runs.get(id);
    if (run === undefined) return null;
    run.cancelRequested = true;
    return { ...run };
  }

  async claimQueued(limit: number): Promise<Run[]> {
    const queued = [...this.runs.values()].filter((r) => r.status === 'queued').slice(0, limit);
    for (const run of queued) run.status = 'starting';
    return queued.map((r) => ({ ...r }));
  }

  async listActive(statuses: RunStatus[] = ['queued', 'starting', 'running']): Promise<Run[]> {
    return [...this.runs.values()].filter((r) => statuses.includes(r.status));
  }

  async appendEvent(
    runId: string,
    type: string,
    data: Record<string, unknown>,
  ): Promise<RunEventRecord> {
    const list = this.events.get(runId) ?? [];
    const event: RunEventRecord = {
      runId,
      seq: list.length + 1,
      time: new Date().toISOString(),
      type,
      data,
    };
    list.push(event);
    this.events.set(runId, list);
    return event;
  }

  async listEvents(runId: string, afterSeq = 0): Promise<RunEventRecord[]> {
    return (this.events.get(runId) ?? []).filter((e) => e.seq > afterSeq);
  }

  async createToken(
    name: string,
    scopes: StoredToken['scopes'],
    secret?: string,
  ): Promise<{ token: string; id: string }> {
    const token = secret ?? `nes_${randomBytes(24).toString('base64url')}`;
    const id = randomUUID();
    this.#tokens.set(hash(token), { id, name, scopes });
    return { token, id };
  }

  async verifyToken(token: string): Promise<StoredToken | null> {
    return this.#tokens.get(hash(token)) ?? null;
  }

  async close(): Promise<void> {}
}

const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * An in-memory RunStore for route tests only (the real stores are PostgreSQL and PGlite). It
 * keeps the contract's semantics that routes rely on: idempotent create, forward-only
 * transitions with a 'status' event, newest-first pages with an opaque cursor, hashed tokens.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { RunResults } from '@nes/runner';
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
  type NewTokenOptions,
  RevokedTokenError,
  type RunStore,
  type StoredToken,
  type TokenScope,
  type TransitionPatch,
} from '../../src/runs/run-store.ts';

export class MemoryRunStore implements RunStore {
  readonly runs = new Map<string, Run>();
  readonly events = new Map<string, RunEventRecord[]>();
  readonly results = new Map<string, RunResults | null>();
  readonly #keys = new Map<string, { hash: string; runId: string }>();
  readonly #tokens = new Map<string, StoredToken>();
  #counter = 0;

  async createRuns(
    items: ReadonlyArray<{ spec: RunSpec; idempotency: IdempotentCreate }>,
  ): Promise<Array<{ run: Run; created: boolean }>> {
    const results: Array<{ run: Run; created: boolean }> = [];
    for (const item of items) results.push(await this.createRun(item.spec, item.idempotency));
    return results;
  }

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

  async getResults(id: string): Promise<RunResults | null | undefined> {
    if (!this.runs.has(id)) return undefined;
    return this.results.get(id) ?? null;
  }

  async saveResults(id: string, results: RunResults): Promise<void> {
    if (this.runs.has(id) && !this.results.get(id)) this.results.set(id, results);
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
    const { results, ...rest } = patch;
    if (results !== undefined) this.results.set(id, results);
    Object.assign(run, rest, { status: to });
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

  async countRuns(status: RunStatus): Promise<number> {
    return [...this.runs.values()].filter((r) => r.status === status).length;
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
    scopes: TokenScope[],
    options: NewTokenOptions = {},
  ): Promise<{ token: string; id: string; record: StoredToken }> {
    const token = options.secret ?? `nes_${randomBytes(24).toString('base64url')}`;
    const known = this.#tokens.get(hash(token));
    const record: StoredToken = {
      id: known?.id ?? randomUUID(),
      name,
      scopes,
      createdAt: known?.createdAt ?? new Date().toISOString(),
      expiresAt: options.expiresAt ?? null,
      revokedAt: known?.revokedAt ?? null,
      lastUsedAt: known?.lastUsedAt ?? null,
      service: known?.service ?? false,
    };
    this.#tokens.set(hash(token), record);
    return { token, id: record.id, record: { ...record } };
  }

  async verifyToken(token: string): Promise<StoredToken | null> {
    const record = this.#tokens.get(hash(token));
    if (record === undefined || !active(record)) return null;
    record.lastUsedAt = new Date().toISOString();
    return { ...record };
  }

  async listTokens(): Promise<StoredToken[]> {
    return [...this.#tokens.values()].reverse().map((record) => ({ ...record }));
  }

  async getToken(id: string): Promise<StoredToken | null> {
    const record = [...this.#tokens.values()].find((t) => t.id === id);
    return record === undefined ? null : { ...record };
  }

  async revokeToken(id: string): Promise<StoredToken | null> {
    const record = [...this.#tokens.values()].find((t) => t.id === id);
    if (record === undefined) return null;
    record.revokedAt ??= new Date().toISOString();
    return { ...record };
  }

  async setServiceToken(secret: string): Promise<{ record: StoredToken; revoked: StoredToken[] }> {
    const known = this.#tokens.get(hash(secret));
    if (known !== undefined && !active(known))
      throw new RevokedTokenError('the admin token was revoked');
    const { record } = await this.createToken('admin', ['admin'], { secret });
    const stored = this.#tokens.get(hash(secret)) as StoredToken;
    stored.service = true;
    const revoked: StoredToken[] = [];
    for (const other of this.#tokens.values()) {
      if (other.service && other.revokedAt === null && other.id !== record.id) {
        other.revokedAt = new Date().toISOString();
        revoked.push({ ...other });
      }
    }
    return { record: { ...stored }, revoked };
  }

  async close(): Promise<void> {}
}

const active = (t: StoredToken) =>
  t.revokedAt === null && (t.expiresAt === null || Date.parse(t.expiresAt) > Date.now());
const hash = (token: string) => createHash('sha256').update(token).digest('hex');
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The RunStore over SQL, the same statements on PostgreSQL and PGlite. Every state change is one
 * conditional statement (or one transaction) that also writes its event, so several API replicas
 * can share one database: a status only moves along NEXT_STATUSES, a terminal status never
 * changes, a queued run is claimed once, an idempotency key makes one run.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseParametersJson, stringifyParametersJson } from '@nes/notebook';
import type { RunResults } from '@nes/runner';
import {
  NEXT_STATUSES,
  type Run,
  type RunEventRecord,
  type RunProgress,
  type RunSpec,
  type RunStatus,
  TERMINAL_STATUSES,
} from '../runs/run-model.ts';
import {
  IdempotencyConflictError,
  type IdempotentCreate,
  InvalidCursorError,
  type ListRunsFilter,
  type NewTokenOptions,
  RevokedTokenError,
  type RunStore,
  type StoredToken,
  TOKEN_SCOPES,
  type TokenScope,
  type TransitionPatch,
} from '../runs/run-store.ts';
import type { Database, Row } from './database.ts';
import { iso, isoOrNull } from './row-values.ts';

const ACTIVE: RunStatus[] = ['queued', 'starting', 'running'];

/** Every column a Run is read from; parameters as their stored text (see toRun). */
const RUN_COLUMNS = `id, submit_seq, status, notebook, ref, commit_sha, parameters::text AS parameters,
  kernel, labels, timeout_seconds, resources, image, queue, sweep_id, created_at, started_at,
  finished_at, progress, error, output_uri, cancel_requested, request_hash`;

/**
 * The notifications a terminal transition owes, inserted in the same statement as the status
 * change (notifications/outbox-store.ts delivers them): one outbox row per matching enabled
 * subscription, its event id the same on every replica and retry.
 */
const ENQUEUE_RUN_NOTIFICATIONS = `
         INSERT INTO notification_outbox (event_id, subscription_id, event_type, run_id, order_key)
         SELECT 'run-' || upd.id || '-' || upd.status, s.id, upd.status, upd.id, upd.id
         FROM upd JOIN notification_subscriptions s
           ON s.enabled AND s.events ? upd.status
          AND (s.notebook IS NULL OR s.notebook = upd.notebook)
          AND upd.labels @> s.labels
          AND (s.sweep_id IS NULL OR s.sweep_id = upd.sweep_id)
          AND (s.schedule_id IS NULL OR upd.labels ->> 'nes/schedule' = s.schedule_id)
         WHERE upd.status IN ('succeeded', 'failed', 'cancelled', 'timed_out')
         ON CONFLICT (event_id, subscription_id) DO NOTHING`;

/**
 * The `sweep_finished` event a sweep's last terminal transition owes, in the same statement (and
 * so the same transaction) as that transition: when no other run of the sweep is left to finish,
 * one outbox row per matching subscription, with the sweep's runs by status. The statement sees
 * the other runs as committed because finishing runs of one sweep take SWEEP_LOCK first (below):
 * two last runs ending at once cannot both miss the event, and its id makes a second one a no-op.
 * `upd` is not visible to the runs scan of its own statement, so its new status is added apart.
 */
const ENQUEUE_SWEEP_FINISHED = `
         INSERT INTO notification_outbox (event_id, subscription_id, event_type, run_id, order_key, payload)
         SELECT 'sweep-' || upd.sweep_id || '-finished', s.id, 'sweep_finished', NULL, upd.sweep_id,
                jsonb_build_object(
                  'sweep', jsonb_build_object('id', upd.sweep_id, 'notebook', upd.notebook, 'runs', counts.runs),
                  'summary', 'Sweep ' || upd.sweep_id || ' of ' || upd.notebook || ' finished: ' || counts.text)
         FROM upd
         CROSS JOIN LATERAL (
           SELECT jsonb_object_agg(status, n) AS runs,
                  string_agg(n || ' ' || status, ', ' ORDER BY status) AS text
           FROM (SELECT status, count(*) AS n FROM (
                   SELECT o.status FROM runs o WHERE o.sweep_id = upd.sweep_id AND o.id <> upd.id
                   UNION ALL SELECT upd.status) AS every_run
                 GROUP BY status) AS by_status) AS counts
         JOIN notification_subscriptions s
           ON s.enabled AND s.events ? 'sweep_finished'
          AND (s.notebook IS NULL OR s.notebook = upd.notebook)
          AND upd.labels @> s.labels
          AND (s.sweep_id IS NULL OR s.sweep_id = upd.sweep_id)
          AND s.schedule_id IS NULL
         WHERE upd.sweep_id IS NOT NULL
           AND upd.status IN ('succeeded', 'failed', 'cancelled', 'timed_out')
           AND NOT EXISTS (
             SELECT 1 FROM runs o WHERE o.sweep_id = upd.sweep_id AND o.id <> upd.id
                AND o.status NOT IN ('succeeded', 'failed', 'cancelled', 'timed_out'))
         ON CONFLICT (event_id, subscription_id) DO NOTHING`;

/** Arbitrary constant shared by every NES process: "NES sweep" (with the sweep id's hash). */
const SWEEP_LOCK = 0x4e45_5303;

/** Arbitrary constant shared by every NES process: "NES claim". */
const CLAIM_LOCK = 0x4e45_5302;

/** Statuses from which `to` may be reached. */
function allowedFrom(to: RunStatus): RunStatus[] {
  return (Object.keys(NEXT_STATUSES) as RunStatus[]).filter((from) =>
    NEXT_STATUSES[from].includes(to),
  );
}

const CROCKFORD = '0123456789abcdefghjkmnpqrstvwxyz';

/**
 * A lowercase ULID: 10 characters of milliseconds then 16 random ones. Sorts by creation time
 * and is a valid DNS label, so executors can name their objects after it.
 */
function newRunId(now: number = Date.now()): string {
  let time = '';
  for (let t = now, i = 0; i < 10; i++, t = Math.floor(t / 32)) time = CROCKFORD[t % 32] + time;
  let random = '';
  for (const byte of randomBytes(16)) random += CROCKFORD[byte % 32];
  return time + random;
}

const hashSecret = (secret: string): string =>
  createHash('sha256').update(secret, 'utf8').digest('hex');

const TOKEN_COLUMNS = 'id, name, scopes, created_at, expires_at, revoked_at, last_used_at, service';

/** How often a token's last use is written (it is shown to the minute). */
const LAST_USE_STEP_MS = 60_000;
const TOKEN_CACHE_MAX = 1000;

/** Arbitrary constant shared by every NES process: "NES admin token". */
const SERVICE_TOKEN_LOCK = 0x4e45_5303;

const newTokenSecret = () => `nes_${randomBytes(32).toString('base64url')}`;
const newTokenId = () => `tok_${randomBytes(9).toString('base64url')}`;

function checkScopes(scopes: readonly string[]): void {
  if (scopes.length === 0) throw new Error('a token needs at least one scope');
  for (const scope of scopes) {
    if (!TOKEN_SCOPES.includes(scope as TokenScope)) {
      throw new Error(`unknown token scope ${String(scope)}`);
    }
  }
}

function toToken(row: Row): StoredToken {
  return {
    id: String(row.id),
    name: String(row.name),
    scopes: row.scopes as TokenScope[],
    createdAt: iso(row.created_at),
    expiresAt: isoOrNull(row.expires_at),
    revokedAt: isoOrNull(row.revoked_at),
    lastUsedAt: isoOrNull(row.last_used_at),
    service: row.service === true,
  };
}

/** How many finished runs `getRun` keeps in memory. */
const FINISHED_RUNS_CACHED = 10_000;

export class SqlRunStore implements RunStore {
  readonly db: Database;
  /**
   * Finished runs, by id. A terminal status is final and nothing else of a finished run changes,
   * so every replica may serve them from memory: dashboards and orchestrators poll finished runs
   * far more than they create them. Oldest entries go first (Map keeps insertion order).
   */
  readonly #finished = new Map<string, Run>();

  /**
   * Verified tokens by secret hash, on PGlite only. An embedded database has one process, this
   * one, so every change to a token goes through this store, which clears the cache: a revoked
   * token still fails on its next request, and a busy client costs no query (expiry is checked
   * on each hit; the last use is written at most once a minute). PostgreSQL may be shared by
   * replicas that revoke on their own: there every check is a query.
   */
  readonly #verified = new Map<string, StoredToken>();
  readonly #cacheTokens: boolean;
  /** Bumped around every token write: a check that overlapped one does not fill the cache. */
  #tokenWrites = 0;

  /**
   * Queued runs, on PGlite only: this store is the one writer of an embedded database, so the
   * count is kept exact by the statements that move a run into or out of 'queued' (create, claim,
   * transition), and the submit route's queue bound costs no query. Null until counted once
   * (primeQueuedCount) and on PostgreSQL, where other replicas submit and claim too.
   */
  #queued: number | null = null;

  constructor(db: Database) {
    this.db = db;
    this.#cacheTokens = db.driver === 'pglite';
  }

  async createRun(
    spec: RunSpec,
    idempotency?: IdempotentCreate,
  ): Promise<{ run: Run; created: boolean }> {
    // One statement: the run and its first event, or nothing when the key is taken. A concurrent
    // insert of the same key waits for the first to commit, then does nothing.
    const rows = await this.db.query(
      `WITH ins AS (
         INSERT INTO runs (id, status, notebook, ref, commit_sha, parameters, kernel, labels,
                           timeout_seconds, resources, image, queue, sweep_id, event_seq,
                           idempotency_key, request_hash)
         VALUES ($1, 'queued', $2, $3, $4, $5::json, $6, $7::jsonb, $8, $9::jsonb, $10, $11, $12,
                 1, $13, $14)
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING *
       ), ev AS (
         INSERT INTO run_events (run_id, seq, type, data)
         SELECT id, 1, 'status', '{"status": "queued"}'::jsonb FROM ins
       )
       SELECT ${RUN_COLUMNS} FROM ins`,
      [
        newRunId(),
        spec.notebook,
        spec.ref,
        spec.commitSha,
        stringifyParametersJson(spec.parameters ?? {}),
        spec.kernel,
        JSON.stringify(spec.labels ?? {}),
        spec.timeoutSeconds,
        jsonOrNull(spec.resources),
        spec.image,
        spec.queue || 'default',
        spec.sweepId,
        idempotency?.key ?? null,
        idempotency?.requestHash ?? null,
      ],
    );
    const inserted = rows[0];
    if (inserted !== undefined) {
      this.#queuedChanged(1);
      return { run: toRun(inserted), created: true };
    }
    const existing = (
      await this.db.query(`SELECT ${RUN_COLUMNS} FROM runs WHERE idempotency_key = $1`, [
        idempotency?.key,
      ])
    )[0];
    if (existing === undefined || idempotency === undefined)
      throw new Error('run insert did nothing and no run holds its idempotency key');
    if (existing.request_hash !== idempotency.requestHash)
      throw new IdempotencyConflictError(
        'this Idempotency-Key was already used with a different request',
      );
    return { run: toRun(existing), created: false };
  }

  /**
   * Creates many keyed runs in one statement (the schedule ticker's batch): each is created, or
   * the run its key already names is returned, as createRun would; results in the order given.
   * One statement instead of one per run keeps a batch from holding the embedded database for
   * long. Rows go in in key order, so two replicas inserting overlapping batches wait for each
   * other in one order and never deadlock.
   */
  async createRuns(
    items: ReadonlyArray<{ spec: RunSpec; idempotency: IdempotentCreate }>,
  ): Promise<Array<{ run: Run; created: boolean }>> {
    if (items.length === 0) return [];
    const rows = items.map(({ spec, idempotency }) => ({
      id: newRunId(),
      notebook: spec.notebook,
      ref: spec.ref,
      commit_sha: spec.commitSha,
      parameters: stringifyParametersJson(spec.parameters ?? {}),
      kernel: spec.kernel,
      labels: spec.labels ?? {},
      timeout_seconds: spec.timeoutSeconds,
      resources: spec.resources ?? null,
      image: spec.image,
      queue: spec.queue || 'default',
      sweep_id: spec.sweepId,
      idempotency_key: idempotency.key,
      request_hash: idempotency.requestHash,
    }));
    // Parameters travel as text and are cast at the end, so their exact JSON text is kept.
    const inserted = await this.db.query(
      `WITH ins AS (
         INSERT INTO runs (id, status, notebook, ref, commit_sha, parameters, kernel, labels,
                           timeout_seconds, resources, image, queue, sweep_id, event_seq,
                           idempotency_key, request_hash)
         SELECT x.id, 'queued', x.notebook, x.ref, x.commit_sha, x.parameters::json, x.kernel,
                x.labels, x.timeout_seconds, x.resources, x.image, x.queue, x.sweep_id, 1,
                x.idempotency_key, x.request_hash
         FROM json_to_recordset($1::json) AS x(id text, notebook text, ref text,
           commit_sha text, parameters text, kernel text, labels jsonb, timeout_seconds int,
           resources jsonb, image text, queue text, sweep_id text, idempotency_key text,
           request_hash text)
         ORDER BY x.idempotency_key
         ON CONFLICT (idempotency_key) DO NOTHING
         RETURNING *
       ), ev AS (
         INSERT INTO run_events (run_id, seq, type, data)
         SELECT id, 1, 'status', '{"status": "queued"}'::jsonb FROM ins
       )
       SELECT ${RUN_COLUMNS}, idempotency_key FROM ins`,
      [JSON.stringify(rows)],
    );
    const byKey = new Map<string, { run: Run; created: boolean }>();
    for (const row of inserted)
      byKey.set(row.idempotency_key as string, { run: toRun(row), created: true });
    this.#queuedChanged(inserted.length);
    const missing = items.filter((item) => !byKey.has(item.idempotency.key));
    if (missing.length > 0) {
      const existing = await this.db.query(
        `SELECT ${RUN_COLUMNS}, idempotency_key FROM runs
         WHERE idempotency_key IN (SELECT json_array_elements_text($1::json))`,
        [JSON.stringify(missing.map((item) => item.idempotency.key))],
      );
      const hashes = new Map(missing.map((item) => [item.idempotency.key, item.idempotency]));
      for (const row of existing) {
        const key = row.idempotency_key as string;
        if (row.request_hash !== hashes.get(key)?.requestHash)
          throw new IdempotencyConflictError(
            `the idempotency key ${key} was already used with a different request`,
          );
        byKey.set(key, { run: toRun(row), created: false });
      }
    }
    return items.map((item) => {
      const result = byKey.get(item.idempotency.key);
      if (result === undefined)
        throw new Error('run insert did nothing and no run holds its idempotency key');
      return result;
    });
  }

  /** The run, or null. Callers must treat it as read-only: finished runs are shared. */
  async getRun(id: string): Promise<Run | null> {
    const finished = this.#finished.get(id);
    if (finished !== undefined) return finished;
    const row = (await this.db.query(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [id]))[0];
    if (row === undefined) return null;
    const run = toRun(row);
    if (TERMINAL_STATUSES.includes(run.status)) {
      if (this.#finished.size >= FINISHED_RUNS_CACHED) {
        const oldest = this.#finished.keys().next().value;
        if (oldest !== undefined) this.#finished.delete(oldest);
      }
      this.#finished.set(id, run);
    }
    return run;
  }

  /**
   * Newest first (submit order). `createdAfter` and `createdBefore` are exclusive bounds. The
   * cursor is the submit sequence of the last run of the page, so pages stay stable while runs
   * are added or change status.
   */
  async listRuns(filter: ListRunsFilter): Promise<{ runs: Run[]; nextCursor: string | null }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const param = (value: unknown, cast = '') => {
      params.push(value);
      return `$${params.length}${cast}`;
    };
    if (filter.status !== undefined && filter.status.length > 0)
      where.push(`status = ANY(${param(filter.status, '::text[]')})`);
    if (filter.notebook !== undefined) where.push(`notebook = ${param(filter.notebook)}`);
    if (filter.labels !== undefined && Object.keys(filter.labels).length > 0)
      where.push(`labels @> ${param(JSON.stringify(filter.labels), '::jsonb')}`);
    if (filter.createdAfter !== undefined)
      where.push(`created_at > ${param(filter.createdAfter, '::timestamptz')}`);
    if (filter.createdBefore !== undefined)
      where.push(`created_at < ${param(filter.createdBefore, '::timestamptz')}`);
    if (filter.sweepId !== undefined) where.push(`sweep_id = ${param(filter.sweepId)}`);
    if (filter.cursor !== undefined)
      where.push(`submit_seq < ${param(decodeCursor(filter.cursor), '::bigint')}`);
    const limit = Math.max(1, Math.floor(filter.limit));
    const rows = await this.db.query(
      `SELECT ${RUN_COLUMNS} FROM runs ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY submit_seq DESC LIMIT ${param(limit + 1, '::int')}`,
      params,
    );
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      runs: page.map(toRun),
      nextCursor: rows.length > limit && last !== undefined ? encodeCursor(last) : null,
    };
  }

  async transition(id: string, to: RunStatus, patch: TransitionPatch = {}): Promise<Run | null> {
    const from = allowedFrom(to);
    if (from.length === 0) return null;
    const params: unknown[] = [id, to, from];
    const param = (value: unknown, cast = '') => {
      params.push(value);
      return `$${params.length}${cast}`;
    };
    const sets = ['status = $2', 'event_seq = r.event_seq + 1', 'updated_at = now()'];
    if (patch.startedAt !== undefined)
      sets.push(`started_at = ${param(patch.startedAt, '::timestamptz')}`);
    else if (to === 'running') sets.push('started_at = coalesce(r.started_at, now())');
    if (TERMINAL_STATUSES.includes(to))
      sets.push(
        `finished_at = coalesce(${param(patch.finishedAt ?? null, '::timestamptz')}, now())`,
      );
    else if (patch.finishedAt !== undefined)
      sets.push(`finished_at = ${param(patch.finishedAt, '::timestamptz')}`);
    if (patch.error !== undefined)
      sets.push(`error = ${param(jsonOrNull(patch.error), '::jsonb')}`);
    if (patch.outputUri !== undefined) sets.push(`output_uri = ${param(patch.outputUri)}`);
    if (patch.progress !== undefined)
      sets.push(`progress = ${param(JSON.stringify(patch.progress), '::jsonb')}`);
    if (patch.results !== undefined)
      sets.push(`results = ${param(jsonOrNull(patch.results), '::jsonb')}`);
    const data: Record<string, unknown> = {};
    if (patch.error) data.error = patch.error;
    if (patch.outputUri) data.outputUri = patch.outputUri;
    const statement = `WITH prev AS (
         SELECT id, status FROM runs WHERE id = $1 FOR UPDATE
       ), upd AS (
         UPDATE runs r SET ${sets.join(', ')}
         FROM prev
         WHERE r.id = prev.id AND prev.status = ANY($3::text[])
         RETURNING r.*, prev.status AS previous_status
       ), ev AS (
         INSERT INTO run_events (run_id, seq, type, data)
         SELECT id, event_seq, 'status',
                jsonb_build_object('status', status, 'from', previous_status)
                  || ${param(JSON.stringify(data), '::jsonb')}
         FROM upd
       ), notify AS (${ENQUEUE_RUN_NOTIFICATIONS}
       ), sweep_finished AS (${ENQUEUE_SWEEP_FINISHED}
       )
       SELECT ${RUN_COLUMNS}, previous_status FROM upd`;
    // A sweep's run ending: serialized with its sweep's other endings (ENQUEUE_SWEEP_FINISHED).
    const sweepId = TERMINAL_STATUSES.includes(to)
      ? ((await this.db.query('SELECT sweep_id FROM runs WHERE id = $1', [id]))[0]?.sweep_id as
          | string
          | null
          | undefined)
      : null;
    const rows = sweepId
      ? await this.db.transaction(async (tx) => {
          await tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [SWEEP_LOCK, sweepId]);
          return tx.query(statement, params);
        })
      : await this.db.query(statement, params);
    const row = rows[0];
    if (row === undefined) return null;
    if (row.previous_status === 'queued') this.#queuedChanged(-1);
    return toRun(row);
  }

  async getResults(runId: string): Promise<RunResults | null | undefined> {
    const rows = await this.db.query('SELECT results FROM runs WHERE id = $1', [runId]);
    if (rows[0] === undefined) return undefined;
    return (rows[0].results as RunResults | null) ?? null;
  }

  async saveResults(runId: string, results: RunResults): Promise<void> {
    await this.db.query(
      `UPDATE runs SET results = $2::jsonb WHERE id = $1 AND results IS NULL
         AND status = ANY($3::text[])`,
      [runId, JSON.stringify(results), TERMINAL_STATUSES],
    );
  }

  /** Records progress of a run that has not finished (a late report never edits a finished run). */
  async updateProgress(id: string, progress: RunProgress): Promise<void> {
    await this.db.query(
      `UPDATE runs SET progress = $2::jsonb, updated_at = now()
       WHERE id = $1 AND status = ANY($3::text[])`,
      [id, JSON.stringify(progress), ACTIVE],
    );
  }

  async recordOutputUri(id: string, outputUri: string): Promise<void> {
    await this.db.query(
      `UPDATE runs SET output_uri = $2, updated_at = now()
       WHERE id = $1 AND status = ANY($3::text[]) AND output_uri IS DISTINCT FROM $2`,
      [id, outputUri, ACTIVE],
    );
  }

  /** Flags a run that has not finished; a finished run is returned unchanged, an unknown one null. */
  async requestCancel(id: string): Promise<Run | null> {
    const updated = await this.db.query(
      `UPDATE runs SET cancel_requested = true, updated_at = now()
       WHERE id = $1 AND status = ANY($2::text[]) RETURNING ${RUN_COLUMNS}`,
      [id, ACTIVE],
    );
    const row = updated[0];
    return row === undefined ? this.getRun(id) : toRun(row);
  }

  /**
   * Without queue limits, claimers never wait on each other: each locks the oldest queued rows
   * nobody else holds (FOR UPDATE SKIP LOCKED). With limits, claimers take turns (an advisory
   * lock for the transaction) so two replicas cannot both fill the last slot of a queue.
   */
  async claimQueued(limit: number, queueLimits: Record<string, number> = {}): Promise<Run[]> {
    const n = Math.floor(limit);
    if (n <= 0) return [];
    const claim = (picked: string) =>
      `WITH picked AS (${picked}),
       upd AS (
         UPDATE runs r SET status = 'starting', event_seq = r.event_seq + 1, updated_at = now()
         FROM picked WHERE r.id = picked.id AND r.status = 'queued'
         RETURNING r.*
       ), ev AS (
         INSERT INTO run_events (run_id, seq, type, data)
         SELECT id, event_seq, 'status', '{"status": "starting", "from": "queued"}'::jsonb FROM upd
       )
       SELECT ${RUN_COLUMNS} FROM upd ORDER BY submit_seq`;
    if (Object.keys(queueLimits).length === 0) {
      const rows = await this.db.query(
        claim(
          `SELECT id FROM runs WHERE status = 'queued' ORDER BY submit_seq LIMIT $1
           FOR UPDATE SKIP LOCKED`,
        ),
        [n],
      );
      this.#queuedChanged(-rows.length);
      return rows.map(toRun);
    }
    const claimed = await this.db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [CLAIM_LOCK]);
      const rows = await tx.query(
        claim(
          `SELECT q.id FROM (
             SELECT id, queue, submit_seq,
                    row_number() OVER (PARTITION BY queue ORDER BY submit_seq) AS rank
             FROM runs WHERE status = 'queued'
           ) q
           LEFT JOIN (
             SELECT queue, count(*) AS n FROM runs
             WHERE status IN ('starting', 'running') GROUP BY queue
           ) a ON a.queue = q.queue
           WHERE ($2::jsonb -> q.queue) IS NULL
              OR q.rank + coalesce(a.n, 0) <= ($2::jsonb ->> q.queue)::int
           ORDER BY q.submit_seq LIMIT $1`,
        ),
        [n, JSON.stringify(queueLimits)],
      );
      return rows.map(toRun);
    });
    this.#queuedChanged(-claimed.length);
    return claimed;
  }

  /** Unfinished runs (queued, starting, running), or only those in `statuses`, in submit order. */
  async listActive(statuses: RunStatus[] = ACTIVE): Promise<Run[]> {
    const rows = await this.db.query(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE status = ANY($1::text[]) ORDER BY submit_seq`,
      [statuses],
    );
    return rows.map(toRun);
  }

  /**
   * The number of queued runs without a query, when this store keeps it (PGlite, after a first
   * `primeQueuedCount`); undefined when it must be counted.
   */
  queuedCount(): number | undefined {
    return this.#queued ?? undefined;
  }

  /** Counts the queued runs once; from then on an embedded store keeps the count itself. */
  async primeQueuedCount(): Promise<void> {
    if (this.db.driver !== 'pglite') return;
    this.#queued = await this.countRuns('queued');
  }

  #queuedChanged(by: number): void {
    if (this.#queued !== null) this.#queued = Math.max(0, this.#queued + by);
  }

  async countRuns(status: RunStatus): Promise<number> {
    const rows = await this.db.query('SELECT count(*)::int AS n FROM runs WHERE status = $1', [
      status,
    ]);
    return Number(rows[0]?.n ?? 0);
  }

  async appendEvent(
    runId: string,
    type: string,
    data: Record<string, unknown>,
  ): Promise<RunEventRecord> {
    // The run row is the per-run counter: bumping it takes its lock, so seqs never collide.
    const rows = await this.db.query(
      `WITH bump AS (
         UPDATE runs SET event_seq = event_seq + 1 WHERE id = $1 RETURNING id, event_seq
       )
       INSERT INTO run_events (run_id, seq, type, data)
       SELECT id, event_seq, $2, $3::jsonb FROM bump
       RETURNING run_id, seq, time, type, data`,
      [runId, type, JSON.stringify(data)],
    );
    const row = rows[0];
    if (row === undefined) throw new Error(`no run ${runId} to append an event to`);
    return toEvent(row);
  }

  async listEvents(runId: string, afterSeq = 0): Promise<RunEventRecord[]> {
    const rows = await this.db.query(
      `SELECT run_id, seq, time, type, data FROM run_events
       WHERE run_id = $1 AND seq > $2 ORDER BY seq`,
      [runId, afterSeq],
    );
    return rows.map(toEvent);
  }

  /**
   * Stores the sha256 of the secret, never the secret. A given secret that is already stored
   * keeps its id and takes the new name, scopes and expiry (never un-revoking it).
   */
  async createToken(
    name: string,
    scopes: TokenScope[],
    options: NewTokenOptions = {},
  ): Promise<{ token: string; id: string; record: StoredToken }> {
    checkScopes(scopes);
    const { secret } = options;
    if (secret !== undefined && secret.length === 0) throw new Error('a token secret is empty');
    const token = secret ?? newTokenSecret();
    const rows = await this.#tokenWrite(() =>
      this.db.query(
        `INSERT INTO api_tokens (id, name, scopes, secret_hash, expires_at)
       VALUES ($1, $2, $3::jsonb, $4, $5)
       ON CONFLICT (secret_hash) DO UPDATE
         SET name = EXCLUDED.name, scopes = EXCLUDED.scopes, expires_at = EXCLUDED.expires_at
       RETURNING ${TOKEN_COLUMNS}`,
        [newTokenId(), name, JSON.stringify(scopes), hashSecret(token), options.expiresAt ?? null],
      ),
    );
    const record = toToken(rows[0] as Row);
    return { token, id: record.id, record };
  }

  /**
   * No cache: a revoked or expired token fails on its very next request, on every replica.
   * Marks the token used at most once a minute (one small write), so listings can show it.
   */
  async verifyToken(token: string): Promise<StoredToken | null> {
    if (token.length === 0 || token.length > 1024) return null;
    const digest = hashSecret(token);
    const generation = this.#tokenWrites;
    const cached = this.#verified.get(digest);
    if (cached !== undefined) {
      const now = Date.now();
      if (cached.expiresAt !== null && Date.parse(cached.expiresAt) <= now) {
        this.#verified.delete(digest);
        return null;
      }
      if (cached.lastUsedAt !== null && now - Date.parse(cached.lastUsedAt) < LAST_USE_STEP_MS) {
        return { ...cached, scopes: [...cached.scopes] };
      }
    }
    const row = (
      await this.db.query(
        `SELECT ${TOKEN_COLUMNS}, secret_hash,
           (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
         FROM api_tokens
         WHERE secret_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())`,
        [digest],
      )
    )[0];
    if (row === undefined) return null;
    const stored = Buffer.from(String(row.secret_hash), 'hex');
    const given = Buffer.from(digest, 'hex');
    if (stored.length !== given.length || !timingSafeEqual(stored, given)) return null;
    const record = toToken(row);
    if (row.stale === true) {
      const used = await this.db.query(
        'UPDATE api_tokens SET last_used_at = now() WHERE id = $1 RETURNING last_used_at',
        [record.id],
      );
      record.lastUsedAt = isoOrNull(used[0]?.last_used_at);
    }
    if (this.#cacheTokens && generation === this.#tokenWrites) {
      if (this.#verified.size >= TOKEN_CACHE_MAX) this.#verified.clear();
      this.#verified.set(digest, { ...record, scopes: [...record.scopes] });
    }
    return record;
  }

  async listTokens(): Promise<StoredToken[]> {
    const rows = await this.db.query(
      `SELECT ${TOKEN_COLUMNS} FROM api_tokens ORDER BY created_at DESC, id DESC`,
    );
    return rows.map(toToken);
  }

  async getToken(id: string): Promise<StoredToken | null> {
    const rows = await this.db.query(`SELECT ${TOKEN_COLUMNS} FROM api_tokens WHERE id = $1`, [id]);
    return rows[0] === undefined ? null : toToken(rows[0]);
  }

  async revokeToken(id: string): Promise<StoredToken | null> {
    return this.#tokenWrite(() => this.#revokeToken(id));
  }

  async #revokeToken(id: string): Promise<StoredToken | null> {
    const rows = await this.db.query(
      `UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1
       RETURNING ${TOKEN_COLUMNS}`,
      [id],
    );
    return rows[0] === undefined ? null : toToken(rows[0]);
  }

  async setServiceToken(secret: string): Promise<{ record: StoredToken; revoked: StoredToken[] }> {
    if (secret.length === 0) throw new Error('a token secret is empty');
    const digest = hashSecret(secret);
    return this.#tokenWrite(() =>
      this.db.transaction(async (tx) => {
        // Replicas starting together take turns (the same lock key space as migrations).
        await tx.query('SELECT pg_advisory_xact_lock($1)', [SERVICE_TOKEN_LOCK]);
        const existing = (
          await tx.query(
            `SELECT ${TOKEN_COLUMNS}, (expires_at IS NOT NULL AND expires_at <= now()) AS expired
           FROM api_tokens WHERE secret_hash = $1`,
            [digest],
          )
        )[0];
        if (existing !== undefined && (existing.revoked_at !== null || existing.expired === true)) {
          const what = existing.revoked_at !== null ? 'was revoked' : 'has expired';
          throw new RevokedTokenError(
            `the admin token ${what} (token ${String(existing.id)}); set a new one`,
          );
        }
        const rows =
          existing === undefined
            ? await tx.query(
                `INSERT INTO api_tokens (id, name, scopes, secret_hash, service)
               VALUES ($1, 'admin', '["admin"]'::jsonb, $2, true) RETURNING ${TOKEN_COLUMNS}`,
                [newTokenId(), digest],
              )
            : await tx.query(
                `UPDATE api_tokens SET scopes = '["admin"]'::jsonb, service = true WHERE id = $1
               RETURNING ${TOKEN_COLUMNS}`,
                [existing.id],
              );
        const record = toToken(rows[0] as Row);
        const revoked = await tx.query(
          `UPDATE api_tokens SET revoked_at = now()
         WHERE service AND revoked_at IS NULL AND id <> $1 RETURNING ${TOKEN_COLUMNS}`,
          [record.id],
        );
        return { record, revoked: revoked.map(toToken) };
      }),
    );
  }

  /** A write to the tokens table: the verified-token cache is dropped before and after it. */
  async #tokenWrite<T>(write: () => Promise<T>): Promise<T> {
    this.#tokenWrites++;
    this.#verified.clear();
    try {
      return await write();
    } finally {
      this.#tokenWrites++;
      this.#verified.clear();
    }
  }

  close(): Promise<void> {
    return this.db.close();
  }
}

function encodeCursor(row: Row): string {
  return Buffer.from(JSON.stringify({ s: String(row.submit_seq) })).toString('base64url');
}

function decodeCursor(cursor: string): string {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { s?: unknown };
    if (typeof value.s === 'string' && /^\d{1,18}$/.test(value.s)) return value.s;
  } catch {
    // falls through to the error below
  }
  throw new InvalidCursorError('the cursor is not one this server issued');
}

function jsonOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : JSON.stringify(value);
}

function toRun(row: Row): Run {
  return {
    id: row.id as string,
    status: row.status as RunStatus,
    notebook: row.notebook as string,
    ref: (row.ref as string | null) ?? null,
    commitSha: (row.commit_sha as string | null) ?? null,
    // Floats stay FloatValue (`1.0`), big integers bigint: the run injects what was submitted.
    parameters: parseParametersJson(String(row.parameters ?? '{}')) as Record<string, unknown>,
    kernel: (row.kernel as string | null) ?? null,
    labels: (row.labels as Record<string, string>) ?? {},
    timeoutSeconds: row.timeout_seconds === null ? null : Number(row.timeout_seconds),
    resources: (row.resources as Record<string, unknown> | null) ?? null,
    image: (row.image as string | null) ?? null,
    queue: row.queue as string,
    sweepId: (row.sweep_id as string | null) ?? null,
    createdAt: iso(row.created_at),
    startedAt: isoOrNull(row.started_at),
    finishedAt: isoOrNull(row.finished_at),
    progress: row.progress as RunProgress,
    error: (row.error as Run['error']) ?? null,
    outputUri: (row.output_uri as string | null) ?? null,
    cancelRequested: row.cancel_requested === true,
  };
}

function toEvent(row: Row): RunEventRecord {
  return {
    runId: row.run_id as string,
    seq: Number(row.seq),
    time: iso(row.time),
    type: row.type as string,
    data: row.data as Record<string, unknown>,
  };
}

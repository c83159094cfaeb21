/**
 * NesClient: typed calls to the NES HTTP API (design.md, "Contract").
 *
 * Retries: only connection errors, 429 and 503, with exponential back-off (Retry-After honoured).
 * A 429 is retried on every call (the API refuses before it creates anything); the others only
 * for calls that are safe to repeat: reads, cancel, and submit/rerun when they carry an
 * Idempotency-Key. Event streams resume with Last-Event-ID after a drop.
 */
import { isAbortError, NesApiError, NesConnectionError } from './errors.ts';
import type {
  CreatedSubscription,
  CreateSubscriptionRequest,
  Delivery,
  ListDeliveriesFilter,
  Subscription,
} from './notification-types.ts';
import { type SseMessage, SseParser } from './sse.ts';
import {
  type ApiToken,
  type Backfill,
  type BackfillRequest,
  type BrowseListing,
  type BrowseResult,
  type CreatedToken,
  type CreateTokenRequest,
  type Health,
  type InspectRequest,
  type InspectResult,
  isTerminal,
  type ListRunsFilter,
  type NotebookHistory,
  type RerunRequest,
  type ResultTrend,
  type Run,
  type RunEvent,
  type RunListEvent,
  type RunPage,
  type RunResults,
  type Schedule,
  type ScheduleDate,
  type ScheduleDates,
  type ScheduleRequest,
  type SubmitRunRequest,
  type SubmitSweepRequest,
  type Sweep,
} from './types.ts';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface RetryPolicy {
  /** Total attempts for a retryable call (1 = no retry). Default 4. */
  attempts: number;
  /** First back-off delay; doubles each attempt, with jitter. Default 250 ms. */
  baseDelayMs: number;
  /** Longest single delay, Retry-After included. Default 10 s. */
  maxDelayMs: number;
}

export interface NesClientOptions {
  /** Base URL of the API, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  url: string;
  token?: string | undefined;
  fetch?: FetchLike;
  retry?: Partial<RetryPolicy>;
  /** Attempts to reconnect an event stream without receiving anything in between. Default 8. */
  streamReconnects?: number;
  userAgent?: string;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface SubmitOptions extends CallOptions {
  /** Same key and body returns the same run; also makes the call safe to retry. */
  idempotencyKey?: string;
}

export interface StreamOptions extends CallOptions {
  /** Resume after this event id (sent as Last-Event-ID). */
  lastEventId?: string;
}

interface RequestOptions extends CallOptions {
  query?: URLSearchParams;
  body?: unknown;
  headers?: Record<string, string>;
  /** Safe to send again after a connection error, 429 or 503. */
  retryable: boolean;
  accept?: string;
}

const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 10_000 };

// JSON.rawJSON (Node 21+) is not in the TypeScript lib this repository targets.
const rawJson = (JSON as unknown as { rawJSON: (text: string) => unknown }).rawJSON;

/** JSON with exact bigints; @nes/notebook's FloatValue serializes itself as `1.0`. */
export function toJsonBody(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'bigint' ? rawJson(item.toString()) : item,
  );
}

export class NesClient {
  readonly url: string;
  readonly #base: string;
  readonly #token: string | undefined;
  readonly #fetch: FetchLike;
  readonly #retry: RetryPolicy;
  readonly #streamReconnects: number;
  readonly #userAgent: string | undefined;

  constructor(options: NesClientOptions) {
    let parsed: URL;
    try {
      parsed = new URL(options.url);
    } catch {
      throw new TypeError(`invalid NES API URL: ${safeUrl(options.url)}`);
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
      throw new TypeError(
        `invalid NES API URL: ${safeUrl(options.url)} (expected http:// or https://)`,
      );
    }
    parsed.username = '';
    parsed.password = '';
    parsed.search = '';
    parsed.hash = '';
    this.#base = parsed.toString().replace(/\/+$/, '');
    this.url = this.#base;
    this.#token = options.token || undefined;
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#retry = { ...DEFAULT_RETRY, ...options.retry };
    this.#streamReconnects = options.streamReconnects ?? 8;
    this.#userAgent = options.userAgent;
  }

  // Runs

  async submitRun(request: SubmitRunRequest, options: SubmitOptions = {}): Promise<Run> {
    return this.#create<Run>('/v1/runs', request, options);
  }

  async getRun(id: string, options: CallOptions = {}): Promise<Run> {
    return this.#json<Run>('GET', `/v1/runs/${seg(id)}`, { retryable: true, ...options });
  }

  /** One page of runs, newest first. */
  async listRuns(filter: ListRunsFilter = {}, options: CallOptions = {}): Promise<RunPage> {
    const page = await this.#json<RunPage>('GET', '/v1/runs', {
      query: listQuery(filter),
      retryable: true,
      ...options,
    });
    return { runs: page.runs ?? [], nextCursor: page.nextCursor ?? null };
  }

  /** Every page from `filter.cursor` on. */
  async *pages(filter: ListRunsFilter = {}, options: CallOptions = {}): AsyncGenerator<RunPage> {
    let cursor = filter.cursor;
    do {
      const page = await this.listRuns({ ...filter, cursor }, options);
      yield page;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  /** Every run matching `filter`, across pages. */
  async *runs(filter: ListRunsFilter = {}, options: CallOptions = {}): AsyncGenerator<Run> {
    for await (const page of this.pages(filter, options)) yield* page.runs;
  }

  /** Asks the run to stop. Safe to repeat; a finished run is returned as it is. */
  async cancelRun(id: string, options: CallOptions = {}): Promise<Run> {
    return this.#json<Run>('POST', `/v1/runs/${seg(id)}/cancel`, { retryable: true, ...options });
  }

  /** Creates a token (admin scope); the answer holds its secret, which is never shown again. */
  async createToken(request: CreateTokenRequest, options: CallOptions = {}): Promise<CreatedToken> {
    // Not retried: a lost answer would leave a token whose secret nobody saw.
    return this.#json<CreatedToken>('POST', '/v1/tokens', {
      body: request,
      retryable: false,
      ...options,
    });
  }

  /** Every token, newest first, revoked and expired ones included (admin scope). */
  async listTokens(options: CallOptions = {}): Promise<ApiToken[]> {
    const page = await this.#json<{ tokens: ApiToken[] }>('GET', '/v1/tokens', {
      retryable: true,
      ...options,
    });
    return page.tokens;
  }

  async getToken(id: string, options: CallOptions = {}): Promise<ApiToken> {
    return this.#json<ApiToken>('GET', `/v1/tokens/${seg(id)}`, { retryable: true, ...options });
  }

  /** Revokes a token (admin scope): its next request fails, its viewer sessions end. */
  async revokeToken(id: string, options: CallOptions = {}): Promise<ApiToken> {
    return this.#json<ApiToken>('POST', `/v1/tokens/${seg(id)}/revoke`, {
      retryable: true,
      ...options,
    });
  }

  /** Subscribes a webhook or Slack to run events (admin scope); a webhook's secret is in this answer only. */
  async createSubscription(
    request: CreateSubscriptionRequest,
    options: CallOptions = {},
  ): Promise<CreatedSubscription> {
    // Not retried: a lost answer would leave a subscription whose secret nobody saw.
    return this.#json<CreatedSubscription>('POST', '/v1/notifications/subscriptions', {
      body: request,
      retryable: false,
      ...options,
    });
  }

  async listSubscriptions(options: CallOptions = {}): Promise<Subscription[]> {
    const page = await this.#json<{ subscriptions: Subscription[] }>(
      'GET',
      '/v1/notifications/subscriptions',
      { retryable: true, ...options },
    );
    return page.subscriptions;
  }

  async getSubscription(id: string, options: CallOptions = {}): Promise<Subscription> {
    return this.#json<Subscription>('GET', `/v1/notifications/subscriptions/${seg(id)}`, {
      retryable: true,
      ...options,
    });
  }

  /** Deletes a subscription and its deliveries. */
  async deleteSubscription(id: string, options: CallOptions = {}): Promise<void> {
    await this.#json<void>('DELETE', `/v1/notifications/subscriptions/${seg(id)}`, {
      retryable: true,
      ...options,
    });
  }

  /** The delivery log, newest first. */
  async listDeliveries(
    filter: ListDeliveriesFilter = {},
    options: CallOptions = {},
  ): Promise<Delivery[]> {
    const query = new URLSearchParams();
    if (filter.subscriptionId) query.set('subscriptionId', filter.subscriptionId);
    if (filter.runId) query.set('runId', filter.runId);
    if (filter.status) query.set('status', filter.status);
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    const page = await this.#json<{ deliveries: Delivery[] }>(
      'GET',
      '/v1/notifications/deliveries',
      { query, retryable: true, ...options },
    );
    return page.deliveries;
  }

  /** A delivery with every attempt (time, status code, error). */
  async getDelivery(id: string, options: CallOptions = {}): Promise<Delivery> {
    return this.#json<Delivery>('GET', `/v1/notifications/deliveries/${seg(id)}`, {
      retryable: true,
      ...options,
    });
  }

  /** Sends a delivery again, with the same event id (receivers deduplicate on it). */
  async redeliver(id: string, options: CallOptions = {}): Promise<Delivery> {
    return this.#json<Delivery>('POST', `/v1/notifications/deliveries/${seg(id)}/redeliver`, {
      retryable: false,
      ...options,
    });
  }

  /** The token this client authenticates with (any scope). */
  async whoami(options: CallOptions = {}): Promise<ApiToken> {
    return this.#json<ApiToken>('GET', '/v1/whoami', { retryable: true, ...options });
  }

  /** A new run with the same notebook, commit SHA, parameters and kernel; `overrides` win. */
  async rerun(id: string, overrides: RerunRequest = {}, options: SubmitOptions = {}): Promise<Run> {
    return this.#create<Run>(`/v1/runs/${seg(id)}/rerun`, overrides, options);
  }

  /** A notebook's history over the last `days` (default 30), optionally by labels. */
  async history(
    notebook: string,
    filter: { labels?: Record<string, string>; days?: number } = {},
    options: CallOptions = {},
  ): Promise<NotebookHistory> {
    const query = new URLSearchParams({ notebook });
    for (const [k, v] of Object.entries(filter.labels ?? {})) query.append('label', `${k}=${v}`);
    if (filter.days !== undefined) query.set('days', String(filter.days));
    return this.#json('GET', '/v1/history', { query, retryable: true, ...options });
  }

  /** A numeric result's values across the notebook's latest runs (oldest first). */
  async resultTrend(
    notebook: string,
    name: string,
    filter: { labels?: Record<string, string>; limit?: number } = {},
    options: CallOptions = {},
  ): Promise<ResultTrend> {
    const query = new URLSearchParams({ notebook, name });
    for (const [k, v] of Object.entries(filter.labels ?? {})) query.append('label', `${k}=${v}`);
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    return this.#json('GET', '/v1/history/results', { query, retryable: true, ...options });
  }

  /** What the run's notebook recorded (nes.record, nes.exit, scrapbook glue). */
  async results(id: string, options: CallOptions = {}): Promise<RunResults> {
    return this.#json<RunResults>('GET', `/v1/runs/${seg(id)}/results`, {
      retryable: true,
      ...options,
    });
  }

  /** The output notebook (the live autosaved one while the run goes). */
  async notebook(id: string, options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#json('GET', `/v1/runs/${seg(id)}/notebook`, { retryable: true, ...options });
  }

  /** The input notebook as fetched at the run's commit. */
  async input(id: string, options: CallOptions = {}): Promise<Record<string, unknown>> {
    return this.#json('GET', `/v1/runs/${seg(id)}/input`, { retryable: true, ...options });
  }

  /**
   * The run's log. Without `follow` it ends with what is logged so far; with it, it ends when
   * the run finishes. Yields text as it arrives (plain text, or the `log` events of an SSE body).
   */
  async *logs(
    id: string,
    options: CallOptions & { follow?: boolean } = {},
  ): AsyncGenerator<string> {
    const query = new URLSearchParams();
    if (options.follow) query.set('follow', 'true');
    const res = await this.#send('GET', `/v1/runs/${seg(id)}/logs`, {
      query,
      retryable: true,
      accept: 'text/plain, text/event-stream',
      signal: options.signal,
    });
    const sse = (res.headers.get('content-type') ?? '').startsWith('text/event-stream');
    const parser = new SseParser();
    for await (const text of decodeBody(res)) {
      if (!sse) {
        yield text;
        continue;
      }
      for (const message of parser.feed(text)) {
        if (message.event === 'end') return;
        const data = parseData(message.data);
        const line =
          typeof data === 'object' && data !== null && 'text' in data
            ? String((data as { text: unknown }).text)
            : message.data;
        yield line.endsWith('\n') ? line : `${line}\n`;
      }
    }
  }

  /**
   * The run's events as they happen, ending after the terminal status. A dropped connection is
   * resumed with Last-Event-ID; `lastEventId` resumes an earlier stream.
   */
  async *runEvents(id: string, options: StreamOptions = {}): AsyncGenerator<RunEvent> {
    const path = `/v1/runs/${seg(id)}/events`;
    for await (const item of this.#stream(path, options, id)) {
      const event = toRunEvent(item);
      yield event;
      if (event.type === 'status' && isTerminal(event.data.status)) return;
    }
  }

  /** Changes to any run (created, status, progress), until `signal` aborts. */
  async *listEvents(options: StreamOptions = {}): AsyncGenerator<RunListEvent> {
    for await (const item of this.#stream('/v1/events', options, undefined)) {
      const data = parseData(item.data);
      if (item.event === 'run' && isObject(data)) {
        yield { type: 'run', id: item.id || null, data: data as unknown as Run };
      } else {
        yield { type: 'unknown', event: item.event, id: item.id || null, data };
      }
    }
  }

  // Notebooks, output store, sweeps, health

  /** The parameters a notebook declares at a ref, and the JSON Schema submit checks them with. */
  async inspect(request: InspectRequest, options: CallOptions = {}): Promise<InspectResult> {
    return this.#json('POST', '/v1/inspect', { body: request, retryable: true, ...options });
  }

  /**
   * The output store: a path ending in "/" (or empty) lists one level; another path is an
   * object's content, or a listing when it names a "directory".
   */
  async browse(path = '', options: CallOptions = {}): Promise<BrowseResult> {
    const clean = path.split('/').filter(Boolean).map(seg).join('/');
    const trailing = clean !== '' && path.endsWith('/') ? '/' : '';
    const res = await this.#send('GET', `/v1/browse/${clean}${trailing}`, {
      retryable: true,
      accept: '*/*',
      ...options,
    });
    const contentType = res.headers.get('content-type') ?? 'application/octet-stream';
    const body = new Uint8Array(await res.arrayBuffer());
    if (contentType.startsWith('application/json')) {
      const parsed = parseData(new TextDecoder().decode(body));
      if (
        isObject(parsed) &&
        typeof parsed.path === 'string' &&
        Array.isArray(parsed.directories) &&
        Array.isArray(parsed.files)
      ) {
        return { kind: 'directory', listing: parsed as unknown as BrowseListing };
      }
    }
    return { kind: 'file', path, contentType, body };
  }

  async submitSweep(request: SubmitSweepRequest, options: SubmitOptions = {}): Promise<Sweep> {
    return this.#create<Sweep>('/v1/sweeps', request, options);
  }

  async getSweep(id: string, options: CallOptions = {}): Promise<Sweep> {
    return this.#json<Sweep>('GET', `/v1/sweeps/${seg(id)}`, { retryable: true, ...options });
  }

  async cancelSweep(id: string, options: CallOptions = {}): Promise<Sweep> {
    return this.#json<Sweep>('POST', `/v1/sweeps/${seg(id)}/cancel`, {
      retryable: true,
      ...options,
    });
  }

  // Schedules

  async createSchedule(request: ScheduleRequest, options: CallOptions = {}): Promise<Schedule> {
    return this.#json<Schedule>('POST', '/v1/schedules', {
      body: request,
      retryable: false,
      ...options,
    });
  }

  async getSchedule(idOrName: string, options: CallOptions = {}): Promise<Schedule> {
    return this.#json<Schedule>('GET', `/v1/schedules/${seg(idOrName)}`, {
      retryable: true,
      ...options,
    });
  }

  async listSchedules(
    filter: {
      labels?: Record<string, string>;
      paused?: boolean;
      limit?: number;
      cursor?: string;
    } = {},
    options: CallOptions = {},
  ): Promise<{ schedules: Schedule[]; nextCursor: string | null }> {
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(filter.labels ?? {})) query.append('label', `${k}=${v}`);
    if (filter.paused !== undefined) query.set('paused', String(filter.paused));
    if (filter.limit !== undefined) query.set('limit', String(filter.limit));
    if (filter.cursor !== undefined) query.set('cursor', filter.cursor);
    return this.#json('GET', '/v1/schedules', { query, retryable: true, ...options });
  }

  async updateSchedule(
    idOrName: string,
    patch: Partial<ScheduleRequest>,
    options: CallOptions = {},
  ): Promise<Schedule> {
    return this.#json<Schedule>('PATCH', `/v1/schedules/${seg(idOrName)}`, {
      body: patch,
      retryable: false,
      ...options,
    });
  }

  async deleteSchedule(idOrName: string, options: CallOptions = {}): Promise<void> {
    await this.#json<void>('DELETE', `/v1/schedules/${seg(idOrName)}`, {
      retryable: true,
      ...options,
    });
  }

  async pauseSchedule(idOrName: string, options: CallOptions = {}): Promise<Schedule> {
    return this.#json<Schedule>('POST', `/v1/schedules/${seg(idOrName)}/pause`, {
      retryable: true,
      ...options,
    });
  }

  async resumeSchedule(idOrName: string, options: CallOptions = {}): Promise<Schedule> {
    return this.#json<Schedule>('POST', `/v1/schedules/${seg(idOrName)}/resume`, {
      retryable: true,
      ...options,
    });
  }

  /** Runs a logical date now (default: the latest interval that has ended). */
  async triggerSchedule(
    idOrName: string,
    logicalDate?: string,
    options: CallOptions = {},
  ): Promise<ScheduleDate> {
    return this.#json<ScheduleDate>('POST', `/v1/schedules/${seg(idOrName)}/trigger`, {
      body: logicalDate === undefined ? {} : { logicalDate },
      retryable: false,
      ...options,
    });
  }

  async scheduleDates(
    idOrName: string,
    range: { from?: string; to?: string } = {},
    options: CallOptions = {},
  ): Promise<ScheduleDates> {
    const query = new URLSearchParams();
    if (range.from !== undefined) query.set('from', range.from);
    if (range.to !== undefined) query.set('to', range.to);
    return this.#json<ScheduleDates>('GET', `/v1/schedules/${seg(idOrName)}/dates`, {
      query,
      retryable: true,
      ...options,
    });
  }

  async invalidateDates(
    idOrName: string,
    range: { from: string; to: string },
    options: CallOptions = {},
  ): Promise<{ invalidated: string[] }> {
    return this.#json('POST', `/v1/schedules/${seg(idOrName)}/invalidate`, {
      body: range,
      retryable: true,
      ...options,
    });
  }

  /** Idempotent per date: repeating it starts nothing that is already under way. */
  async backfill(
    idOrName: string,
    request: BackfillRequest,
    options: CallOptions = {},
  ): Promise<Backfill> {
    return this.#json<Backfill>('POST', `/v1/schedules/${seg(idOrName)}/backfill`, {
      body: request,
      retryable: true,
      ...options,
    });
  }

  /** `GET /readyz`: never throws for an HTTP status, only when the API cannot be reached. */
  async health(options: CallOptions = {}): Promise<Health> {
    const res = await this.#fetchWithRetry('GET', '/readyz', { retryable: false, ...options });
    const text = await res.text();
    return { ok: res.ok, status: res.status, body: parseData(text) };
  }

  // Plumbing

  /** A POST that creates something: retried only when an idempotency key makes that safe. */
  async #create<T>(path: string, body: unknown, options: SubmitOptions): Promise<T> {
    const key = options.idempotencyKey;
    return this.#json<T>('POST', path, {
      body,
      headers: key ? { 'Idempotency-Key': key } : {},
      retryable: Boolean(key),
      signal: options.signal,
    });
  }

  async #json<T>(method: string, path: string, options: RequestOptions): Promise<T> {
    const res = await this.#send(method, path, options);
    const text = await res.text();
    if (text === '') return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new NesApiError({
        status: res.status,
        code: 'invalid_response',
        message: `${method} ${path}: the API answered ${res.status} with a body that is not JSON`,
        method,
        path,
      });
    }
  }

  /** A request that must succeed: an error status becomes NesApiError. */
  async #send(method: string, path: string, options: RequestOptions): Promise<Response> {
    const res = await this.#fetchWithRetry(method, path, options);
    if (res.ok) return res;
    throw await this.#apiError(res, method, path);
  }

  async #fetchWithRetry(method: string, path: string, options: RequestOptions): Promise<Response> {
    const url = `${this.#base}${path}${options.query?.size ? `?${options.query}` : ''}`;
    const headers: Record<string, string> = {
      accept: options.accept ?? 'application/json',
      ...options.headers,
    };
    if (this.#token) headers.authorization = `Bearer ${this.#token}`;
    if (this.#userAgent) headers['user-agent'] = this.#userAgent;
    let body: string | undefined;
    if (options.body !== undefined) {
      body = toJsonBody(options.body);
      headers['content-type'] = 'application/json';
    }
    // A 429 is always safe to send again: the API refuses before it creates anything.
    const attempts = Math.max(1, this.#retry.attempts);
    for (let attempt = 1; ; attempt++) {
      let res: Response;
      try {
        res = await this.#fetch(url, { method, headers, body, signal: options.signal });
      } catch (err) {
        if (isAbortError(err) || options.signal?.aborted) throw err;
        if (!options.retryable || attempt >= attempts) throw this.#connectionError(err);
        await sleep(this.#delay(attempt, undefined), options.signal);
        continue;
      }
      const again = res.status === 429 || (res.status === 503 && options.retryable);
      if (again && attempt < attempts) {
        const retryAfter = res.headers.get('retry-after');
        await res.body?.cancel().catch(() => {});
        await sleep(this.#delay(attempt, retryAfter), options.signal);
        continue;
      }
      return res;
    }
  }

  #delay(attempt: number, retryAfter: string | null | undefined): number {
    const { baseDelayMs, maxDelayMs } = this.#retry;
    if (retryAfter) {
      const seconds = Number(retryAfter);
      const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - Date.now();
      if (Number.isFinite(ms) && ms >= 0) return Math.min(ms, maxDelayMs);
    }
    const exp = baseDelayMs * 2 ** (attempt - 1);
    return Math.min(maxDelayMs, exp / 2 + Math.random() * (exp / 2));
  }

  #connectionError(err: unknown): NesConnectionError {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const errno = cause?.code ?? (err as { code?: string }).code;
    const detail = this.#redact(cause?.message ?? (err as Error).message ?? String(err));
    return new NesConnectionError(this.#base, errno, detail);
  }

  async #apiError(res: Response, method: string, path: string): Promise<NesApiError> {
    const text = await res.text().catch(() => '');
    const parsed = parseData(text);
    const shape = isObject(parsed) && isObject(parsed.error) ? parsed.error : undefined;
    const code = typeof shape?.code === 'string' && shape.code ? shape.code : `http_${res.status}`;
    const message =
      typeof shape?.message === 'string' && shape.message
        ? shape.message
        : `${method} ${path}: ${res.status} ${res.statusText}${text && !shape ? `: ${text.slice(0, 200)}` : ''}`;
    return new NesApiError({
      status: res.status,
      code,
      message: this.#redact(message),
      details: shape?.details,
      method,
      path,
    });
  }

  #redact(text: string): string {
    const token = this.#token;
    return token && token.length >= 4 ? text.split(token).join('***') : text;
  }

  /**
   * SSE messages from `path`, reconnecting with Last-Event-ID after a drop. When `runId` is
   * given and a connection closes having delivered nothing, the run is read: a finished run
   * ends the stream with a synthetic `status` message instead of reconnecting forever.
   */
  async *#stream(
    path: string,
    options: StreamOptions,
    runId: string | undefined,
  ): AsyncGenerator<SseMessage> {
    let lastId = options.lastEventId ?? '';
    let failures = 0;
    let retryMs: number | undefined;
    for (;;) {
      let received = 0;
      try {
        const res = await this.#send('GET', path, {
          headers: lastId ? { 'Last-Event-ID': lastId } : {},
          accept: 'text/event-stream',
          retryable: true,
          signal: options.signal,
        });
        const parser = new SseParser();
        parser.feed(lastId ? `id: ${lastId}\n` : '');
        for await (const text of decodeBody(res)) {
          for (const message of parser.feed(text)) {
            received++;
            failures = 0;
            lastId = message.id;
            if (message.event === 'end') return;
            yield message;
          }
          retryMs = parser.retryMs ?? retryMs;
        }
      } catch (err) {
        if (isAbortError(err) || options.signal?.aborted) throw err;
        if (err instanceof NesApiError && err.status !== 429 && err.status < 500) throw err;
        if (
          !(err instanceof NesApiError || err instanceof NesConnectionError || isStreamDrop(err))
        ) {
          throw err;
        }
        if (failures + 1 >= this.#streamReconnects) throw err;
      }
      failures++;
      if (failures >= this.#streamReconnects) {
        throw new NesConnectionError(
          this.#base,
          undefined,
          `the event stream ${path} keeps closing`,
        );
      }
      if (runId !== undefined && received === 0) {
        const run = await this.getRun(runId, { signal: options.signal });
        if (isTerminal(run.status)) {
          yield {
            event: 'status',
            id: lastId,
            data: JSON.stringify({
              status: run.status,
              error: run.error,
              outputUri: run.outputUri,
              run,
            }),
          };
          return;
        }
      }
      await sleep(retryMs ?? this.#delay(failures, undefined), options.signal);
    }
  }
}

function toRunEvent(message: SseMessage): RunEvent {
  const data = parseData(message.data);
  const id = message.id || null;
  if (isObject(data)) {
    switch (message.event) {
      case 'status':
        if (typeof data.status === 'string') {
          return {
            type: 'status',
            id,
            data: data as Extract<RunEvent, { type: 'status' }>['data'],
          };
        }
        break;
      case 'progress':
        return {
          type: 'progress',
          id,
          data: data as unknown as Extract<RunEvent, { type: 'progress' }>['data'],
        };
      case 'log':
        return { type: 'log', id, data: { ...data, text: String(data.text ?? '') } };
      case 'run':
        return { type: 'run', id, data: data as unknown as Run };
    }
  }
  return { type: 'unknown', event: message.event, id, data };
}

function listQuery(filter: ListRunsFilter): URLSearchParams {
  const q = new URLSearchParams();
  const statuses = filter.status === undefined ? [] : [filter.status].flat();
  for (const status of statuses) q.append('status', status);
  if (filter.notebook) q.set('notebook', filter.notebook);
  for (const [k, v] of Object.entries(filter.labels ?? {})) q.append('label', `${k}=${v}`);
  if (filter.createdAfter) q.set('createdAfter', filter.createdAfter);
  if (filter.createdBefore) q.set('createdBefore', filter.createdBefore);
  if (filter.sweepId) q.set('sweepId', filter.sweepId);
  if (filter.limit !== undefined) q.set('limit', String(filter.limit));
  if (filter.cursor) q.set('cursor', filter.cursor);
  return q;
}

async function* decodeBody(res: Response): AsyncGenerator<string> {
  if (!res.body) return;
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const text = decoder.decode(value, { stream: true });
      if (text) yield text;
    }
    const tail = decoder.decode();
    if (tail) yield tail;
  } finally {
    await reader.cancel().catch(() => {});
  }
}

function isStreamDrop(err: unknown): boolean {
  // undici reports a body cut short as TypeError "terminated" (cause: SocketError "other side closed").
  return err instanceof TypeError || (err as { code?: string })?.code === 'ECONNRESET';
}

function parseData(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function seg(id: string): string {
  return encodeURIComponent(id);
}

function safeUrl(url: string): string {
  return url.replace(/\/\/[^/@]*@/, '//');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

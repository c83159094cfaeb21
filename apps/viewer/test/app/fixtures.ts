/**
 * Runs and notebooks shaped exactly as the API serves them (`@nes/client`'s wire types), and a
 * fetch that answers like the API's routes from an in-memory table, for rendering tests. The real
 * API flows are covered by the browser tests against a running service.
 */
import { type FetchLike, NesClient, type Run } from '@nes/client';
import type { Api } from '../../src/app/api.tsx';
import type { EventSourceLike } from '../../src/app/lib/event-stream.ts';

export const ORIGIN = 'http://127.0.0.1:8080';
export const FRAME_ORIGIN = 'http://127.0.0.1:8091';

let counter = 0;

export function makeRun(overrides: Partial<Run> = {}): Run {
  counter += 1;
  const id = overrides.id ?? `run-${String(counter).padStart(4, '0')}-0000-0000-000000000000`;
  return {
    id,
    status: 'succeeded',
    notebook: 'github://acme/analytics/reports/daily.ipynb',
    ref: 'main',
    commitSha: '0123456789abcdef0123456789abcdef01234567',
    parameters: { name: 'NES', count: 3 },
    kernel: 'python3',
    labels: { team: 'data' },
    createdAt: '2026-11-22T10:00:00.000Z',
    startedAt: '2026-11-22T10:00:01.000Z',
    finishedAt: '2026-11-22T10:00:05.500Z',
    progress: { cellsDone: 3, cellsTotal: 3, currentCell: 4 },
    error: null,
    outputUri: `file:///data/store/runs/${id}/output.ipynb`,
    links: {
      self: `${ORIGIN}/v1/runs/${id}`,
      notebook: `${ORIGIN}/v1/runs/${id}/notebook`,
      results: `${ORIGIN}/v1/runs/${id}/results`,
      viewer: `${ORIGIN}/runs/${id}`,
    },
    timeoutSeconds: null,
    resources: null,
    image: null,
    queue: 'default',
    sweepId: null,
    cancelRequested: false,
    ...overrides,
  };
}

export interface Cellish {
  cell_type: 'code' | 'markdown';
  id: string;
  source: string;
  metadata: Record<string, unknown>;
  outputs?: unknown[];
  execution_count?: number | null;
}

export function codeCell(id: string, source: string, extra: Partial<Cellish> = {}): Cellish {
  return {
    cell_type: 'code',
    id,
    source,
    metadata: {},
    outputs: [],
    execution_count: null,
    ...extra,
  };
}

export function mdCell(id: string, source: string): Cellish {
  return { cell_type: 'markdown', id, source, metadata: {} };
}

export function notebookOf(cells: Cellish[]) {
  return {
    nbformat: 4,
    nbformat_minor: 5,
    metadata: {
      language_info: { name: 'python' },
      kernelspec: { name: 'python3', language: 'python', display_name: 'Python 3' },
    },
    cells,
  };
}

export interface Recorded {
  method: string;
  path: string;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (request: Recorded, url: URL) => Response | Promise<Response>;

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export function apiError(
  status: number,
  code: string,
  message: string,
  details?: unknown,
): Response {
  return json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
}

/** What the header's `GET /v1/whoami` gets unless a test routes it: a read-only token. */
export const READ_TOKEN = {
  id: 'tok_reader',
  name: 'reader',
  scopes: ['read'],
  state: 'active',
  createdAt: '2026-01-01T00:00:00.000Z',
  expiresAt: null,
  revokedAt: null,
  lastUsedAt: null,
  service: false,
};

/**
 * A fetch answering `METHOD /path` from `routes` (first match by exact path, then by prefix ending
 * in `*`); anything else is the API's 404. Every request a page makes is recorded; the header's
 * own `GET /v1/whoami` (answered with READ_TOKEN unless routed) is not.
 */
export function fakeFetch(routes: Record<string, Handler>) {
  const requests: Recorded[] = [];
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input, ORIGIN);
    const method = (init.method ?? 'GET').toUpperCase();
    const headers = Object.fromEntries(
      Object.entries((init.headers ?? {}) as Record<string, string>).map(([k, v]) => [
        k.toLowerCase(),
        v,
      ]),
    );
    const body = typeof init.body === 'string' ? JSON.parse(init.body) : undefined;
    const request = { method, path: url.pathname + url.search, body, headers };
    if (`${method} ${url.pathname}` === 'GET /v1/whoami' && !routes['GET /v1/whoami']) {
      return json(READ_TOKEN);
    }
    requests.push(request);
    const exact = routes[`${method} ${url.pathname}`];
    if (exact) return exact(request, url);
    for (const [pattern, handler] of Object.entries(routes)) {
      if (pattern.endsWith('*') && `${method} ${url.pathname}`.startsWith(pattern.slice(0, -1)))
        return handler(request, url);
    }
    return apiError(404, 'not_found', `Route ${method}:${url.pathname} not found`);
  };
  return { fetch, requests };
}

/** An EventSource the test drives: open it, send named events, fail it. */
export class FakeEventSource implements EventSourceLike {
  static instances: FakeEventSource[] = [];
  readyState = 0;
  onopen: ((this: EventSourceLike, ev: Event) => unknown) | null = null;
  onerror: ((this: EventSourceLike, ev: Event) => unknown) | null = null;
  readonly url: string;
  readonly listeners = new Map<string, Array<(ev: MessageEvent) => void>>();
  closed = false;

  constructor(url: string) {
    this.url = url;
    FakeEventSource.instances.push(this);
  }

  addEventListener(type: string, listener: (ev: MessageEvent) => void): void {
    const list = this.listeners.get(type) ?? [];
    list.push(listener);
    this.listeners.set(type, list);
  }

  close(): void {
    this.closed = true;
    this.readyState = 2;
  }

  open(): void {
    this.readyState = 1;
    this.onopen?.call(this, new Event('open'));
  }

  emit(type: string, data: unknown, lastEventId = ''): void {
    const event = new MessageEvent(type, { data: JSON.stringify(data), lastEventId });
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }

  /** The server answered an error status: the browser gives up on this source. */
  fail(): void {
    this.readyState = 2;
    this.onerror?.call(this, new Event('error'));
  }

  /** A dropped connection the browser retries by itself. */
  drop(): void {
    this.readyState = 0;
    this.onerror?.call(this, new Event('error'));
  }

  static reset(): void {
    FakeEventSource.instances = [];
  }

  static last(prefix: string): FakeEventSource {
    const found = [...FakeEventSource.instances].reverse().find((es) => es.url.startsWith(prefix));
    if (!found) throw new Error(`no EventSource opened on ${prefix}`);
    return found;
  }
}

export function testApi(fetch: FetchLike): Api {
  return {
    client: new NesClient({ url: ORIGIN, fetch, retry: { attempts: 1 } }),
    fetch: (input, init) => fetch(new URL(input, ORIGIN).toString(), init),
    openEvents: (url) => new FakeEventSource(url),
    frameOrigin: FRAME_ORIGIN,
    navigate: (path) => navigations.push(path),
  };
}

/** Full page loads the app asked for (sign-out), in order. */
export const navigations: string[] = [];

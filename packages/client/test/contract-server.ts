/**
 * A small node:http server that speaks the NES API contract (design.md): runs whose life is
 * scripted by their notebook name, the error shape, bearer tokens with scopes, idempotency keys,
 * cursor pages, SSE with Last-Event-ID replay, logs, and faults on demand. It records every
 * request so tests can assert exactly what a client sent. Used by the client and CLI tests.
 *
 * Notebook names script the outcome: "...fail..." ends in cell_error at cell 1, "...slow..."
 * runs until cancelled, "...missing..." is refused at submit (422, code path_not_found, details.class "source", as the API marks source refusals);
 * anything else succeeds after 3 cells.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: string;
}

interface StoredEvent {
  seq: number;
  type: string;
  data: Record<string, unknown>;
}

interface FakeRun {
  run: Record<string, unknown>;
  events: StoredEvent[];
  listeners: Set<() => void>;
  timer: NodeJS.Timeout | undefined;
  logs: string;
}

export interface Faults {
  /** Answer the next N requests matching `path` (a prefix) with `status`. */
  failNext: Array<{
    method?: string;
    path: string;
    status: number;
    times: number;
    retryAfter?: string;
  }>;
  /** On the first N connections to a run's event stream, cut the socket after this many events. */
  dropEventsAfter: number;
  dropConnections: number;
}

export interface ContractServer {
  url: string;
  requests: RecordedRequest[];
  faults: Faults;
  tokens: Record<string, Array<'read' | 'submit' | 'admin'>>;
  runs: Map<string, FakeRun>;
  /** Milliseconds between scripted events. */
  stepMs: number;
  close(): Promise<void>;
}

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

const error = (
  res: ServerResponse,
  status: number,
  code: string,
  message: string,
  details?: unknown,
) => json(res, status, { error: { code, message, ...(details === undefined ? {} : { details }) } });

export async function startContractServer(): Promise<ContractServer> {
  const state: ContractServer = {
    url: '',
    requests: [],
    faults: { failNext: [], dropEventsAfter: 0, dropConnections: 0 },
    tokens: { 'admin-token': ['read', 'submit', 'admin'], 'read-token': ['read'] },
    runs: new Map(),
    stepMs: 15,
    close: async () => {},
  };
  const idempotency = new Map<string, { body: string; id: string }>();
  const sweeps = new Map<string, Record<string, unknown>>();
  let nextId = 1;

  const link = (id: string) => ({
    self: `${state.url}/v1/runs/${id}`,
    notebook: `${state.url}/v1/runs/${id}/notebook`,
    results: `${state.url}/v1/runs/${id}/results`,
    viewer: `${state.url}/runs/${id}`,
  });

  function emit(fake: FakeRun, type: string, data: Record<string, unknown>): void {
    fake.events.push({ seq: fake.events.length + 1, type, data });
    for (const listener of fake.listeners) listener();
  }

  function finish(fake: FakeRun, status: string, error: Record<string, unknown> | null): void {
    if (fake.timer) clearInterval(fake.timer);
    fake.timer = undefined;
    const run = fake.run;
    run.status = status;
    run.error = error;
    run.finishedAt = new Date().toISOString();
    run.outputUri = `file:///out/${String(run.id)}.ipynb`;
    emit(fake, 'status', { status, error, outputUri: run.outputUri, time: run.finishedAt });
  }

  function createRun(spec: Record<string, unknown>): FakeRun {
    const id = `run-${String(nextId++).padStart(4, '0')}`;
    const notebook = String(spec.notebook);
    const run: Record<string, unknown> = {
      id,
      status: 'queued',
      notebook,
      ref: spec.ref ?? null,
      commitSha: 'c0ffee0000000000000000000000000000000000',
      parameters: spec.parameters ?? {},
      kernel: spec.kernel ?? 'python3',
      labels: spec.labels ?? {},
      timeoutSeconds: spec.timeoutSeconds ?? null,
      createdAt: new Date(Date.UTC(2026, 10, 1, 0, 0, nextId)).toISOString(),
      startedAt: null,
      finishedAt: null,
      progress: { cellsDone: 0, cellsTotal: 3, currentCell: null },
      error: null,
      outputUri: null,
      links: link(id),
    };
    const fake: FakeRun = { run, events: [], listeners: new Set(), timer: undefined, logs: '' };
    state.runs.set(id, fake);
    emit(fake, 'status', { status: 'queued' });
    let step = 0;
    fake.timer = setInterval(() => {
      step++;
      const progress = run.progress as {
        cellsDone: number;
        cellsTotal: number;
        currentCell: number | null;
      };
      if (step === 1) {
        run.status = 'running';
        run.startedAt = new Date().toISOString();
        emit(fake, 'status', { status: 'running' });
        return;
      }
      if (notebook.includes('slow') && progress.cellsDone >= 1) return;
      if (notebook.includes('fail') && progress.cellsDone === 1) {
        finish(fake, 'failed', {
          class: 'cell_error',
          ename: 'ValueError',
          evalue: 'boom',
          cellIndex: 3,
          cellNumber: 1,
        });
        return;
      }
      if (progress.cellsDone < progress.cellsTotal) {
        progress.cellsDone++;
        progress.currentCell = progress.cellsDone;
        const line = `cell ${progress.cellsDone} done\n`;
        fake.logs += line;
        emit(fake, 'log', { stream: 'stdout', text: line });
        emit(fake, 'progress', { ...progress });
        return;
      }
      finish(fake, 'succeeded', null);
    }, state.stepMs);
    return fake;
  }

  function authorize(req: IncomingMessage, res: ServerResponse, scope: 'read' | 'submit'): boolean {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7) : '';
    const scopes = state.tokens[token];
    if (!scopes) {
      error(res, 401, 'unauthorized', 'missing or unknown bearer token');
      return false;
    }
    if (!scopes.includes(scope) && !scopes.includes('admin')) {
      error(res, 403, 'forbidden', `this token lacks the "${scope}" scope`);
      return false;
    }
    return true;
  }

  function serveEvents(req: IncomingMessage, res: ServerResponse, fake: FakeRun): void {
    const last = Number(req.headers['last-event-id'] ?? 0);
    let sent = last;
    let count = 0;
    const drop = state.faults.dropConnections > 0 ? state.faults.dropEventsAfter : 0;
    if (drop) state.faults.dropConnections--;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    res.write(': hello\nretry: 10\n\n');
    const flush = () => {
      while (sent < fake.events.length) {
        const event = fake.events[sent] as StoredEvent;
        sent++;
        // Progress is pretty-printed: its JSON arrives as several data lines.
        const body = JSON.stringify(event.data, null, event.type === 'progress' ? 1 : undefined);
        const data = body
          .split('\n')
          .map((l) => `data: ${l}`)
          .join('\n');
        res.write(`id: ${event.seq}\nevent: ${event.type}\n${data}\n\n`);
        count++;
        if (drop && count >= drop) {
          // Written, then the connection closes without the chunked terminator: a drop.
          fake.listeners.delete(flush);
          res.socket?.end();
          return;
        }
        if (
          event.type === 'status' &&
          ['succeeded', 'failed', 'cancelled', 'timed_out'].includes(String(event.data.status))
        ) {
          fake.listeners.delete(flush);
          res.end();
          return;
        }
      }
    };
    fake.listeners.add(flush);
    res.on('close', () => fake.listeners.delete(flush));
    flush();
    // A finished run with nothing left to replay: the stream ends at once.
    if (fake.run.finishedAt && fake.listeners.has(flush)) {
      fake.listeners.delete(flush);
      res.end();
    }
  }

  function sweepView(id: string): Record<string, unknown> {
    const sweep = sweeps.get(id) as { total: number; runIds: string[] };
    const runs = sweep.runIds.map((r) => state.runs.get(r)?.run as Record<string, unknown>);
    const counts: Record<string, number> = {};
    for (const run of runs) counts[String(run.status)] = (counts[String(run.status)] ?? 0) + 1;
    const done = ['succeeded', 'failed', 'cancelled', 'timed_out'];
    const finished = runs.filter((r) => done.includes(String(r.status))).length;
    const status =
      finished < sweep.total
        ? 'running'
        : counts.succeeded === sweep.total
          ? 'succeeded'
          : 'failed';
    return { id, status, total: sweep.total, counts, runs };
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    state.requests.push({ method, path, query: url.searchParams, headers: req.headers, body });

    const fault = state.faults.failNext.find(
      (f) => f.times > 0 && path.startsWith(f.path) && (!f.method || f.method === method),
    );
    if (fault) {
      fault.times--;
      if (fault.retryAfter) res.setHeader('retry-after', fault.retryAfter);
      if (fault.status === 0) {
        res.socket?.destroy();
        return;
      }
      return error(res, fault.status, `http_${fault.status}`, 'injected fault');
    }

    if (path === '/readyz' || path === '/livez') return json(res, 200, { status: 'ok' });
    const write = method === 'POST';
    if (!authorize(req, res, write ? 'submit' : 'read')) return;

    let parsed: Record<string, unknown> = {};
    if (write && body) {
      try {
        parsed = JSON.parse(body);
      } catch {
        return error(res, 400, 'invalid_json', 'the body is not JSON');
      }
    }

    if (path === '/v1/runs' && method === 'POST') {
      if (typeof parsed.notebook !== 'string') {
        return error(res, 400, 'invalid_request', 'notebook is required', { field: 'notebook' });
      }
      if (parsed.notebook.includes('missing')) {
        return error(res, 422, 'path_not_found', `notebook ${parsed.notebook} not found`, {
          class: 'source',
        });
      }
      const key = req.headers['idempotency-key'];
      if (typeof key === 'string') {
        const seen = idempotency.get(key);
        if (seen && seen.body !== body)
          return error(res, 409, 'idempotency_conflict', 'key reused with another body');
        if (seen) return json(res, 200, state.runs.get(seen.id)?.run);
        const fake = createRun(parsed);
        idempotency.set(key, { body, id: String(fake.run.id) });
        return json(res, 201, fake.run);
      }
      return json(res, 201, createRun(parsed).run);
    }
    if (path === '/v1/runs' && method === 'GET') {
      let all = [...state.runs.values()].map((f) => f.run).reverse();
      const statuses = url.searchParams.getAll('status');
      if (statuses.length > 0) all = all.filter((r) => statuses.includes(String(r.status)));
      const notebook = url.searchParams.get('notebook');
      if (notebook) all = all.filter((r) => r.notebook === notebook);
      for (const label of url.searchParams.getAll('label')) {
        const [k, v] = label.split(/=(.*)/s);
        all = all.filter((r) => (r.labels as Record<string, string>)[k ?? ''] === v);
      }
      const limit = Number(url.searchParams.get('limit') ?? 50);
      const start = Number(url.searchParams.get('cursor') ?? 0);
      const page = all.slice(start, start + limit);
      const next = start + limit < all.length ? String(start + limit) : null;
      return json(res, 200, { runs: page, nextCursor: next });
    }
    if (path === '/v1/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      for (const fake of state.runs.values())
        res.write(`id: ${++n}\nevent: run\ndata: ${JSON.stringify(fake.run)}\n\n`);
      res.write('event: ping\ndata: {}\n\n');
      return;
    }
    if (path === '/v1/inspect' && method === 'POST') {
      return json(res, 200, {
        notebook: parsed.notebook,
        ref: parsed.ref ?? null,
        commitSha: 'c0ffee0000000000000000000000000000000000',
        kernel: 'python3',
        language: 'python',
        warnings: [],
        schema: { type: 'object' },
        parameters: [
          { name: 'alpha', type: 'float', default: '0.5', help: 'learning rate' },
          { name: 'name', type: null, default: "'x'", help: '' },
        ],
      });
    }
    if (path.startsWith('/v1/browse')) {
      const p = decodeURIComponent(path.slice('/v1/browse/'.length));
      if (p === '' || p.endsWith('/'))
        return json(res, 200, { path: p, directories: [], files: [] });
      res.writeHead(200, { 'content-type': 'text/plain' });
      return void res.end(`content of ${p}`);
    }
    if (path === '/v1/sweeps' && method === 'POST') {
      const id = `sweep-${sweeps.size + 1}`;
      let sets: Record<string, unknown>[] = [{}];
      for (const [k, values] of Object.entries((parsed.grid ?? {}) as Record<string, unknown[]>)) {
        sets = sets.flatMap((set) => values.map((v) => ({ ...set, [k]: v })));
      }
      if (Array.isArray(parsed.list)) sets = parsed.list as Record<string, unknown>[];
      const dates = parsed.dateRange as
        | { start: string; end: string; parameter: string }
        | undefined;
      if (dates) {
        sets = [];
        const d = new Date(dates.start);
        for (; d <= new Date(dates.end); d.setUTCDate(d.getUTCDate() + 1)) {
          sets.push({ [dates.parameter]: d.toISOString().slice(0, 10) });
        }
      }
      const runIds = sets.map((set) => {
        const fake = createRun({
          ...parsed,
          parameters: { ...(parsed.parameters as object), ...set },
        });
        fake.run.sweepId = id;
        return String(fake.run.id);
      });
      sweeps.set(id, { id, total: runIds.length, runIds });
      return json(res, 201, sweepView(id));
    }
    const sweepMatch = /^\/v1\/sweeps\/([^/]+)$/.exec(path);
    if (sweepMatch) {
      const id = decodeURIComponent(sweepMatch[1] ?? '');
      if (!sweeps.has(id)) return error(res, 404, 'not_found', 'no such sweep');
      return json(res, 200, sweepView(id));
    }

    const m = /^\/v1\/runs\/([^/]+)(?:\/([a-z]+))?$/.exec(path);
    const fake = m ? state.runs.get(decodeURIComponent(m[1] ?? '')) : undefined;
    if (!m || !fake) return error(res, 404, 'not_found', `no route or run for ${method} ${path}`);
    const action = m[2];
    if (!action && method === 'GET') return json(res, 200, fake.run);
    if (action === 'cancel' && method === 'POST') {
      if (!['succeeded', 'failed', 'cancelled', 'timed_out'].includes(String(fake.run.status))) {
        finish(fake, 'cancelled', {
          class: 'cancelled',
          ename: 'Cancelled',
          evalue: 'cancelled by request',
          cellIndex: null,
        });
      }
      return json(res, 200, fake.run);
    }
    if (action === 'rerun' && method === 'POST') {
      const old = fake.run;
      const spec = {
        ...old,
        parameters: { ...(old.parameters as object), ...(parsed.parameters as object) },
      };
      return json(res, 201, createRun(spec).run);
    }
    if (action === 'events' && method === 'GET') return serveEvents(req, res, fake);
    if (action === 'logs' && method === 'GET') {
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
      res.write(fake.logs);
      if (url.searchParams.get('follow') !== 'true' || fake.run.finishedAt) return void res.end();
      let written = fake.logs.length;
      const onEvent = () => {
        if (fake.logs.length > written) {
          res.write(fake.logs.slice(written));
          written = fake.logs.length;
        }
        if (fake.run.finishedAt) {
          fake.listeners.delete(onEvent);
          res.end();
        }
      };
      fake.listeners.add(onEvent);
      res.on('close', () => fake.listeners.delete(onEvent));
      return;
    }
    if (action === 'results' && method === 'GET') {
      // GET /v1/runs/{id}/results (routes/run-results.ts): a finished run of the fake records
      // what its notebook would have, a value and its exit.
      const done = Boolean(fake.run.finishedAt);
      const id = String(fake.run.id);
      return json(res, 200, {
        runId: id,
        status: fake.run.status,
        complete: done,
        values: done ? { rows: 3 } : {},
        results: done
          ? [{ name: 'rows', kind: 'value', value: 3, cellIndex: 1, outputIndex: 0 }]
          : [],
        exit: null,
        dropped: [],
        links: { run: link(id).self, notebook: link(id).notebook },
      });
    }
    if (action === 'notebook' || action === 'input') {
      return json(res, 200, {
        nbformat: 4,
        nbformat_minor: 5,
        metadata: { which: action },
        cells: [],
      });
    }
    return error(res, 404, 'not_found', `no route for ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks).toString('utf8')).catch((err: Error) => {
        if (!res.headersSent) error(res, 500, 'internal', err.message);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    for (const fake of state.runs.values()) if (fake.timer) clearInterval(fake.timer);
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}

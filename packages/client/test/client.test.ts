import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';
import { pythonFloat } from '@nes/notebook';
import { NesApiError, NesClient, NesConnectionError, type RunEvent } from '../src/index.ts';
import { type ContractServer, startContractServer } from './contract-server.ts';

let server: ContractServer;
let client: NesClient;
const TOKEN = 'admin-token';

before(async () => {
  server = await startContractServer();
  client = new NesClient({ url: server.url, token: TOKEN, retry: { baseDelayMs: 1 } });
});
after(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.faults.failNext.length = 0;
  server.faults.dropConnections = 0;
});

const last = () => {
  const r = server.requests.at(-1);
  assert.ok(r, 'a request was made');
  return r;
};

test('submitRun: POST /v1/runs with bearer token, Idempotency-Key and exact JSON body', async () => {
  const request = {
    notebook: 'github://o/r/nb.ipynb',
    ref: 'main',
    parameters: { alpha: pythonFloat(1), big: 12345678901234567890n, name: 'x' },
    labels: { team: 'data' },
    timeoutSeconds: 60,
  };
  const run = await client.submitRun(request, { idempotencyKey: 'key-1' });
  const r = last();
  assert.equal(r.method, 'POST');
  assert.equal(r.path, '/v1/runs');
  assert.equal(r.headers.authorization, `Bearer ${TOKEN}`);
  assert.equal(r.headers['idempotency-key'], 'key-1');
  assert.equal(r.headers['content-type'], 'application/json');
  assert.equal(
    r.body,
    '{"notebook":"github://o/r/nb.ipynb","ref":"main","parameters":{"alpha":1.0,"big":12345678901234567890,"name":"x"},"labels":{"team":"data"},"timeoutSeconds":60}',
  );
  assert.equal(run.status, 'queued');
  assert.match(run.id, /^run-/);
  // Replayed key: same run.
  const again = await client.submitRun(request, { idempotencyKey: 'key-1' });
  assert.equal(again.id, run.id);
});

test('getRun, cancelRun, rerun, notebook, input: methods and paths', async () => {
  const run = await client.submitRun({ notebook: 'slow.ipynb' });
  assert.equal((await client.getRun(run.id)).id, run.id);
  assert.deepEqual([last().method, last().path], ['GET', `/v1/runs/${run.id}`]);
  const cancelled = await client.cancelRun(run.id);
  assert.deepEqual([last().method, last().path], ['POST', `/v1/runs/${run.id}/cancel`]);
  assert.equal(cancelled.status, 'cancelled');
  const rerun = await client.rerun(run.id, { parameters: { x: 2 } }, { idempotencyKey: 'rr' });
  assert.deepEqual(
    [last().method, last().path, last().body],
    ['POST', `/v1/runs/${run.id}/rerun`, '{"parameters":{"x":2}}'],
  );
  assert.equal(last().headers['idempotency-key'], 'rr');
  assert.notEqual(rerun.id, run.id);
  assert.deepEqual(rerun.parameters, { x: 2 });
  assert.deepEqual((await client.notebook(run.id)).metadata, { which: 'notebook' });
  assert.equal(last().path, `/v1/runs/${run.id}/notebook`);
  assert.deepEqual((await client.input(run.id)).metadata, { which: 'input' });
  assert.equal(last().path, `/v1/runs/${run.id}/input`);
});

test('listRuns: query string; runs() follows cursors across pages', async () => {
  for (let i = 0; i < 5; i++) {
    await client.submitRun({ notebook: 'paged.ipynb', labels: { batch: 'p', i: String(i) } });
  }
  const page = await client.listRuns({
    status: ['queued', 'running'],
    labels: { batch: 'p', env: 'a=b' },
    notebook: 'paged.ipynb',
    limit: 2,
  });
  const q = last().query;
  assert.deepEqual(q.getAll('status'), ['queued', 'running']);
  assert.deepEqual(q.getAll('label'), ['batch=p', 'env=a=b']);
  assert.equal(q.get('notebook'), 'paged.ipynb');
  assert.equal(q.get('limit'), '2');
  assert.deepEqual(page.runs, []);
  server.requests.length = 0;
  const ids = [];
  for await (const run of client.runs({ labels: { batch: 'p' }, limit: 2 })) ids.push(run.id);
  assert.equal(ids.length, 5);
  assert.deepEqual(
    server.requests.map((r) => r.query.get('cursor')),
    [null, '2', '4'],
  );
});

test('inspect, browse, sweeps, health', async () => {
  const info = await client.inspect({ notebook: 'github://o/r/nb.ipynb', ref: 'v1' });
  assert.deepEqual(
    [last().method, last().path, last().body],
    ['POST', '/v1/inspect', '{"notebook":"github://o/r/nb.ipynb","ref":"v1"}'],
  );
  assert.equal(info.parameters[0]?.name, 'alpha');
  const dir = await client.browse('runs/a b/');
  assert.equal(last().path, '/v1/browse/runs/a%20b/');
  assert.equal(dir.kind, 'directory');
  const file = await client.browse('runs/x.txt');
  assert.ok(file.kind === 'file');
  assert.equal(new TextDecoder().decode(file.body), 'content of runs/x.txt');
  assert.equal(file.contentType, 'text/plain');
  const sweep = await client.submitSweep(
    { notebook: 'nb.ipynb', grid: { a: [1, 2], b: ['x', 'y'] }, maxConcurrency: 2 },
    { idempotencyKey: 's1' },
  );
  assert.equal(last().headers['idempotency-key'], 's1');
  assert.equal(sweep.total, 4);
  assert.equal((await client.getSweep(sweep.id)).id, sweep.id);
  assert.equal(last().path, `/v1/sweeps/${sweep.id}`);
  const health = await client.health();
  assert.deepEqual(health, { ok: true, status: 200, body: { status: 'ok' } });
});

test('errors: the error shape becomes NesApiError; 401 and 403; the token never in messages', async () => {
  await assert.rejects(client.getRun('nope'), (err: unknown) => {
    assert.ok(err instanceof NesApiError);
    assert.equal(err.status, 404);
    assert.equal(err.code, 'not_found');
    return true;
  });
  await assert.rejects(client.submitRun({} as never), (err: NesApiError) => {
    assert.equal(err.status, 400);
    assert.deepEqual(err.details, { field: 'notebook' });
    return true;
  });
  const bad = new NesClient({ url: server.url, token: 'wrong-token-value' });
  await assert.rejects(bad.getRun('x'), (err: NesApiError) => {
    assert.equal(err.status, 401);
    assert.equal(err.code, 'unauthorized');
    assert.ok(!String(err.message).includes('wrong-token-value'));
    return true;
  });
  const reader = new NesClient({ url: server.url, token: 'read-token' });
  await assert.rejects(reader.submitRun({ notebook: 'a.ipynb' }), (err: NesApiError) => {
    assert.equal(err.status, 403);
    return true;
  });
});

test('a body that is not the error shape still maps to NesApiError', async () => {
  const fetch = async () => new Response('<html>bad gateway</html>', { status: 502 });
  const c = new NesClient({ url: 'http://nes.invalid', token: 't0ken', fetch });
  await assert.rejects(c.getRun('x'), (err: NesApiError) => {
    assert.equal(err.status, 502);
    assert.equal(err.code, 'http_502');
    assert.match(err.message, /502/);
    return true;
  });
});

test('retries: 503 and 429 on reads are retried (Retry-After honoured); 500 is not', async () => {
  const run = await client.submitRun({ notebook: 'r.ipynb' });
  server.requests.length = 0;
  server.faults.failNext.push({ path: `/v1/runs/${run.id}`, status: 503, times: 2 });
  server.faults.failNext.push({
    path: `/v1/runs/${run.id}`,
    status: 429,
    times: 1,
    retryAfter: '0',
  });
  assert.equal((await client.getRun(run.id)).id, run.id);
  assert.equal(server.requests.length, 4);

  server.requests.length = 0;
  server.faults.failNext.push({ path: `/v1/runs/${run.id}`, status: 500, times: 1 });
  await assert.rejects(client.getRun(run.id), (err: NesApiError) => err.status === 500);
  assert.equal(server.requests.length, 1);

  server.requests.length = 0;
  server.faults.failNext.push({ path: `/v1/runs/${run.id}`, status: 503, times: 10 });
  await assert.rejects(client.getRun(run.id), (err: NesApiError) => err.status === 503);
  assert.equal(server.requests.length, 4, 'gives up after the attempts allowed');
  server.faults.failNext.length = 0;
});

test('retries: submit is retried only with an idempotency key', async () => {
  server.faults.failNext.push({ method: 'POST', path: '/v1/runs', status: 503, times: 1 });
  await assert.rejects(
    client.submitRun({ notebook: 'a.ipynb' }),
    (err: NesApiError) => err.status === 503,
  );
  assert.equal(server.requests.length, 1);

  server.requests.length = 0;
  server.faults.failNext.push({ method: 'POST', path: '/v1/runs', status: 0, times: 1 });
  const run = await client.submitRun({ notebook: 'a.ipynb' }, { idempotencyKey: 'retry-me' });
  assert.equal(server.requests.length, 2, 'a dropped connection, then the retry');
  assert.ok(server.requests.every((r) => r.headers['idempotency-key'] === 'retry-me'));
  assert.equal(run.status, 'queued');
});

test('connection refused names the URL, without credentials, after retries', async () => {
  let calls = 0;
  const fetch = async () => {
    calls++;
    throw new TypeError('fetch failed', {
      cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }),
    });
  };
  const c = new NesClient({
    url: 'http://user:pw@127.0.0.1:9/api/',
    token: 'secret-token',
    fetch,
    retry: { baseDelayMs: 1 },
  });
  await assert.rejects(c.getRun('x'), (err: NesConnectionError) => {
    assert.ok(err instanceof NesConnectionError);
    assert.equal(err.errno, 'ECONNREFUSED');
    assert.equal(
      err.message,
      'cannot reach the NES API at http://127.0.0.1:9/api: connection refused',
    );
    return true;
  });
  assert.equal(calls, 4);
});

async function collect(iter: AsyncIterable<RunEvent>): Promise<RunEvent[]> {
  const out: RunEvent[] = [];
  for await (const e of iter) out.push(e);
  return out;
}

test('runEvents: typed events (multi-line progress data) ending at the terminal status', async () => {
  const run = await client.submitRun({ notebook: 'ok.ipynb' });
  const events = await collect(client.runEvents(run.id));
  assert.equal(last().headers.accept, 'text/event-stream');
  const types = events.map((e) => e.type);
  assert.equal(types[0], 'status');
  assert.deepEqual(
    events.filter((e) => e.type === 'progress').map((e) => e.data),
    [1, 2, 3].map((n) => ({ cellsDone: n, cellsTotal: 3, currentCell: n })),
  );
  const end = events.at(-1);
  assert.ok(end?.type === 'status' && end.data.status === 'succeeded');
  assert.deepEqual(
    events.map((e) => Number(e.id)),
    events.map((_, i) => i + 1),
  );
});

test('runEvents: a dropped stream resumes with Last-Event-ID, nothing lost or repeated', async () => {
  const run = await client.submitRun({ notebook: 'ok.ipynb' });
  server.faults.dropEventsAfter = 2;
  server.faults.dropConnections = 2;
  const events = await collect(client.runEvents(run.id));
  const streams = server.requests.filter((r) => r.path.endsWith('/events'));
  assert.equal(streams.length, 3);
  assert.deepEqual(
    streams.map((r) => r.headers['last-event-id']),
    [undefined, '2', '4'],
  );
  assert.deepEqual(
    events.map((e) => Number(e.id)),
    events.map((_, i) => i + 1),
  );
  assert.ok(events.at(-1)?.type === 'status');
});

test('runEvents: lastEventId resumes; a finished run with nothing left ends the stream', async () => {
  const run = await client.submitRun({ notebook: 'ok.ipynb' });
  const all = await collect(client.runEvents(run.id));
  const tail = await collect(client.runEvents(run.id, { lastEventId: String(all.length - 2) }));
  assert.deepEqual(
    tail.map((e) => e.id),
    all.slice(-2).map((e) => e.id),
  );
  // Resuming after the terminal event: the server has nothing more; the run is read instead.
  const none = await collect(client.runEvents(run.id, { lastEventId: String(all.length) }));
  assert.equal(none.length, 1);
  assert.ok(none[0]?.type === 'status' && none[0].data.status === 'succeeded');
});

test('runEvents: abort stops the stream', async () => {
  const run = await client.submitRun({ notebook: 'slow.ipynb' });
  const controller = new AbortController();
  const seen: RunEvent[] = [];
  await assert.rejects(async () => {
    for await (const e of client.runEvents(run.id, { signal: controller.signal })) {
      seen.push(e);
      if (e.type === 'progress') controller.abort();
    }
  }, /abort/i);
  assert.ok(seen.length >= 2);
  await client.cancelRun(run.id);
});

test('logs: plain text, and follow until the run ends', async () => {
  const run = await client.submitRun({ notebook: 'ok.ipynb' });
  let text = '';
  for await (const chunk of client.logs(run.id, { follow: true })) text += chunk;
  assert.equal(last().query.get('follow'), 'true');
  assert.equal(text, 'cell 1 done\ncell 2 done\ncell 3 done\n');
  let again = '';
  for await (const chunk of client.logs(run.id)) again += chunk;
  assert.equal(last().query.get('follow'), null);
  assert.equal(again, text);
});

test('listEvents: run events from the list stream', async () => {
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(async () => {
    for await (const e of client.listEvents({ signal: controller.signal })) {
      if (e.type === 'run') seen++;
      else if (e.type === 'unknown' && e.event === 'ping') controller.abort();
    }
  }, /abort/i);
  assert.ok(seen > 0);
  assert.equal(last().path, '/v1/events');
});

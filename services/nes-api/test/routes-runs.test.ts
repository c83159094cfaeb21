/** Reading runs (get, list with filters and cursor), cancel, notebooks, logs, inspect, browse,
 * health, metrics, auth on reads, CORS and the OpenAPI document. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunArtifacts } from '@nes/stores';
import type { Run } from '../src/runs/run-model.ts';
import { type Harness, PARAMS_NOTEBOOK, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
const PLAIN = 'github://acme/notebooks/nb/plain.ipynb';

let h: Harness;
const created: Run[] = [];

async function submit(payload: Record<string, unknown>): Promise<Run> {
  const res = await h.app.inject({ method: 'POST', url: '/v1/runs', headers: h.auth(), payload });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Run;
}

before(async () => {
  h = await startHarness();
  // 7 runs: dags a and b, two notebooks.
  for (let i = 0; i < 7; i++) {
    created.push(
      await submit({
        notebook: i % 2 === 0 ? NB : PLAIN,
        labels: { dag: i < 4 ? 'a' : 'b', task: `t${i}` },
      }),
    );
  }
});
after(() => h.close());

const list = async (query: string, token?: string) => {
  const res = await h.app.inject({
    method: 'GET',
    url: `/v1/runs${query}`,
    headers: h.auth(token ?? h.tokens.read),
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as { runs: Run[]; nextCursor: string | null };
};

describe('GET /v1/runs', () => {
  test('newest first; a cursor walks every run once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(
        `?limit=3${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`,
      );
      seen.push(...page.runs.map((r) => r.id));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    assert.equal(pages, 3);
    assert.deepEqual(seen, created.map((r) => r.id).reverse());
  });

  test('a cursor this server did not issue is a 400 naming it', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: '/v1/runs?cursor=not-a-cursor',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().error.code, 'invalid_cursor');
  });

  test('filters: label (repeated, all must match), notebook, status, created range', async () => {
    assert.equal((await list('?label=dag=a')).runs.length, 4);
    assert.deepEqual(
      (await list('?label=dag=b&label=task=t5')).runs.map((r) => r.id),
      [created[5]?.id],
    );
    assert.equal((await list(`?notebook=${encodeURIComponent(PLAIN)}`)).runs.length, 3);
    assert.equal((await list('?status=queued')).runs.length, 7);
    assert.equal((await list('?status=running&status=succeeded')).runs.length, 0);
    const third = created[2] as Run;
    const afterThird = await list(`?createdAfter=${encodeURIComponent(third.createdAt)}`);
    assert.deepEqual(
      afterThird.runs.map((r) => r.id),
      created
        .slice(3)
        .map((r) => r.id)
        .reverse(),
    );
    const beforeThird = await list(`?createdBefore=${encodeURIComponent(third.createdAt)}`);
    assert.deepEqual(
      beforeThird.runs.map((r) => r.id),
      created
        .slice(0, 2)
        .map((r) => r.id)
        .reverse(),
    );
  });

  test('bad filters are 400', async () => {
    for (const query of [
      '?status=bogus',
      '?limit=0',
      '?limit=x',
      '?label=novalue',
      '?createdAfter=yesterday',
      '?colour=red',
    ]) {
      const res = await h.app.inject({
        method: 'GET',
        url: `/v1/runs${query}`,
        headers: h.auth(h.tokens.read),
      });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_request');
    }
  });
});

describe('auth on reads', () => {
  test('401 without or with a wrong token, 200 with read, submit or admin', async () => {
    const url = `/v1/runs/${created[0]?.id}`;
    assert.equal((await h.app.inject({ method: 'GET', url })).statusCode, 401);
    assert.equal(
      (await h.app.inject({ method: 'GET', url, headers: { authorization: 'Bearer nope' } }))
        .statusCode,
      401,
    );
    assert.equal(
      (await h.app.inject({ method: 'GET', url, headers: { authorization: 'Basic abc' } }))
        .statusCode,
      401,
    );
    for (const token of Object.values(h.tokens)) {
      assert.equal(
        (await h.app.inject({ method: 'GET', url, headers: h.auth(token) })).statusCode,
        200,
      );
    }
  });

  test('a read token cannot cancel (403)', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${created[0]?.id}/cancel`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.statusCode, 403);
    assert.equal(res.json().error.code, 'forbidden');
  });

  test('unknown run is 404 with the error shape', async () => {
    const res = await h.app.inject({
      method: 'GET',
      url: '/v1/runs/run-nope',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'not_found');
  });
});

describe('cancel', () => {
  test('a queued run becomes cancelled; cancelling again returns it unchanged', async () => {
    const run = await submit({ notebook: NB, labels: { task: 'cancel' } });
    const res = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${run.id}/cancel`,
      headers: h.auth(),
    });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().status, 'cancelled');
    const again = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${run.id}/cancel`,
      headers: h.auth(),
    });
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().status, 'cancelled');
    assert.equal(
      (await h.app.inject({ method: 'POST', url: '/v1/runs/nope/cancel', headers: h.auth() }))
        .statusCode,
      404,
    );
  });
});

describe('notebooks and logs', () => {
  test('output: 404 until saved, then the stored bytes; input: stored copy or re-read at the commit', async () => {
    const run = created[0] as Run;
    const none = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/notebook`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(none.statusCode, 404);
    assert.equal(none.json().error.code, 'notebook_not_available');
    const artifacts = new RunArtifacts(h.artifacts, run.id);
    await h.artifacts.put(artifacts.keys.output, '{"cells": []}');
    const out = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/notebook`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(out.statusCode, 200);
    assert.equal(out.body, '{"cells": []}');
    assert.equal(out.headers['cache-control'], 'no-store');
    const input = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/input`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(input.statusCode, 200);
    assert.equal(input.body, PARAMS_NOTEBOOK);
  });

  test('logs: log events as text; stored log once finished', async () => {
    const run = created[1] as Run;
    await h.store.appendEvent(run.id, 'log', { stream: 'stdout', text: 'hello' });
    await h.store.appendEvent(run.id, 'log', { stream: 'stderr', text: 'world\n' });
    const res = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/logs`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.body, 'hello\nworld\n');
    assert.match(String(res.headers['content-type']), /^text\/plain/);
  });
});

describe('inspect and browse', () => {
  test('inspect gives parameters and the JSON Schema', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/inspect',
      headers: h.auth(h.tokens.read),
      payload: { notebook: NB },
    });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.commitSha, h.sha);
    assert.deepEqual(
      body.parameters.map((p: { name: string }) => p.name),
      ['alpha', 'name', 'count', 'mode'],
    );
    assert.equal(body.schema.properties.alpha.type, 'number');
    assert.equal(body.schema.additionalProperties, false);
    const missing = await h.app.inject({
      method: 'POST',
      url: '/v1/inspect',
      headers: h.auth(h.tokens.read),
      payload: { notebook: 'github://acme/notebooks/x.ipynb' },
    });
    assert.equal(missing.statusCode, 422);
    assert.equal(missing.json().error.code, 'path_not_found');
  });

  test('browse lists directories and serves files; traversal is refused', async () => {
    await h.artifacts.put('reports/2026/a.ipynb', '{"a": 1}');
    await h.artifacts.put('reports/top.txt', 'top');
    const root = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/reports/',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(root.statusCode, 200, root.body);
    assert.deepEqual(root.json().directories, [{ name: '2026', path: 'reports/2026/' }]);
    assert.deepEqual(
      root.json().files.map((f: { name: string }) => f.name),
      ['top.txt'],
    );
    const dir = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/reports/2026',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(dir.json().files[0].path, 'reports/2026/a.ipynb');
    const file = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/reports/2026/a.ipynb',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(file.statusCode, 200);
    assert.equal(file.body, '{"a": 1}');
    for (const bad of [
      '/v1/browse/reports/../../etc/passwd',
      '/v1/browse/reports/%2e%2e/x',
      '/v1/browse/..%2F..%2Fetc',
    ]) {
      const res = await h.app.inject({ method: 'GET', url: bad, headers: h.auth(h.tokens.read) });
      assert.ok(
        res.statusCode === 400 || res.statusCode === 404,
        `${bad}: ${res.statusCode} ${res.body}`,
      );
    }
    const missing = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/none/here.ipynb',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(missing.statusCode, 404);
  });
});

describe('service routes', () => {
  test('livez and readyz need no token; metrics needs one', async () => {
    assert.equal((await h.app.inject({ method: 'GET', url: '/livez' })).statusCode, 200);
    const ready = await h.app.inject({ method: 'GET', url: '/readyz' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { status: 'ready' });
    assert.equal((await h.app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    const metrics = await h.app.inject({
      method: 'GET',
      url: '/metrics',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(metrics.statusCode, 200);
    assert.match(metrics.body, /nes_runs\{status="queued"\} \d+/);
    assert.match(metrics.body, /nes_runs_submitted_total \d+/);
    assert.match(metrics.body, /nes_run_submit_duration_seconds_count\{outcome="created"\} \d+/);
    assert.match(
      metrics.body,
      /nes_http_request_duration_seconds_count\{method="GET",route="\/v1\/runs\/:id"/,
    );
  });

  test('unknown route: 404 in the error shape', async () => {
    const res = await h.app.inject({ method: 'GET', url: '/v2/nothing' });
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().error.code, 'not_found');
  });

  test('CORS only for the viewer origin', async () => {
    const preflight = (origin: string) =>
      h.app.inject({
        method: 'OPTIONS',
        url: '/v1/runs',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    const ok = await preflight('http://viewer.test');
    assert.equal(ok.headers['access-control-allow-origin'], 'http://viewer.test');
    const other = await preflight('http://evil.test');
    assert.equal(other.headers['access-control-allow-origin'], undefined);
  });

  test('OpenAPI 3 document lists every route with its responses; /docs serves; both need a token', async () => {
    for (const url of [
      '/openapi.json',
      '/docs',
      '/docs/',
      '/docs/json',
      '/docs/static/index.html',
    ]) {
      const anonymous = await h.app.inject({ method: 'GET', url });
      assert.equal(anonymous.statusCode, 401, `${url} without a token: ${anonymous.statusCode}`);
    }
    const res = await h.app.inject({
      method: 'GET',
      url: '/openapi.json',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.statusCode, 200);
    const doc = JSON.parse(res.body);
    assert.match(doc.openapi, /^3\./);
    const expected: Array<[string, string]> = [
      ['post', '/v1/runs'],
      ['get', '/v1/runs'],
      ['get', '/v1/runs/{id}'],
      ['post', '/v1/runs/{id}/cancel'],
      ['post', '/v1/runs/{id}/rerun'],
      ['get', '/v1/runs/{id}/events'],
      ['get', '/v1/events'],
      ['get', '/v1/runs/{id}/logs'],
      ['get', '/v1/runs/{id}/notebook'],
      ['get', '/v1/runs/{id}/input'],
      ['post', '/v1/inspect'],
      ['get', '/v1/browse/{*}'],
      ['get', '/livez'],
      ['get', '/readyz'],
      ['get', '/metrics'],
      ['post', '/v1/tokens'],
      ['get', '/v1/tokens'],
      ['get', '/v1/tokens/{id}'],
      ['post', '/v1/tokens/{id}/revoke'],
      ['get', '/v1/whoami'],
    ];
    for (const [method, path] of expected) {
      const op = doc.paths[path]?.[method];
      assert.ok(op, `${method} ${path} missing`);
      assert.ok(
        Object.keys(op.responses).some((s) => s.startsWith('2')),
        `${method} ${path} has no 2xx`,
      );
    }
    assert.ok(doc.paths['/v1/runs'].post.requestBody);
    assert.ok(doc.paths['/v1/runs'].post.responses['422']);
    const docs = await h.app.inject({
      method: 'GET',
      url: '/docs/',
      headers: h.auth(h.tokens.read),
    });
    assert.ok(docs.statusCode === 200 || docs.statusCode === 302, String(docs.statusCode));
  });
});

/** POST /v1/runs: what is refused (each a clear 4xx, nothing stored), idempotency, rerun. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Harness, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';

let h: Harness;
before(async () => {
  // Bursts here test idempotency, not back-pressure (routes-backpressure.test.ts does that).
  h = await startHarness({ env: { NES_MAX_CONCURRENT_SUBMITS: '1000' } });
});
after(() => h.close());

interface BadCase {
  name: string;
  status: number;
  code: string;
  /** A substring the message or a detail's field must contain. */
  mentions?: string;
  payload?: unknown;
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  token?: string | null;
}

const big = 'x'.repeat(70 * 1024);

const cases: BadCase[] = [
  {
    name: 'malformed JSON',
    raw: '{"notebook": "github://a/b/c.ipynb",',
    status: 400,
    code: 'invalid_json',
  },
  { name: 'not an object', raw: '[1,2]', status: 400, code: 'invalid_request' },
  { name: 'empty body', raw: '', status: 400, code: 'invalid_request' },
  {
    name: 'missing notebook',
    payload: { parameters: {} },
    status: 400,
    code: 'invalid_request',
    mentions: 'notebook',
  },
  {
    name: 'unknown field',
    payload: { notebook: NB, paramters: { alpha: 1 } },
    status: 400,
    code: 'invalid_request',
    mentions: 'paramters',
  },
  {
    name: 'labels not strings',
    payload: { notebook: NB, labels: { dag: 1 } },
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'timeout not positive',
    payload: { notebook: NB, timeoutSeconds: 0 },
    status: 400,
    code: 'invalid_request',
  },
  {
    name: 'text/plain body',
    raw: 'notebook=x',
    contentType: 'text/plain',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'wrong parameter type (float)',
    payload: { notebook: NB, parameters: { alpha: 'high' } },
    status: 422,
    code: 'invalid_parameters',
    mentions: 'parameters.alpha',
  },
  {
    name: 'wrong parameter type (int)',
    payload: { notebook: NB, parameters: { count: 2.5 } },
    status: 422,
    code: 'invalid_parameters',
    mentions: 'parameters.count',
  },
  {
    name: 'unknown parameter',
    payload: { notebook: NB, parameters: { alpah: 1 } },
    status: 422,
    code: 'invalid_parameters',
    mentions: 'parameters.alpah',
  },
  {
    name: 'parameter for a notebook without parameters',
    payload: { notebook: 'github://acme/notebooks/nb/plain.ipynb', parameters: { a: 1 } },
    status: 422,
    code: 'invalid_parameters',
    mentions: 'declares no parameters',
  },
  {
    name: 'missing repository',
    payload: { notebook: 'github://acme/nope/nb/params.ipynb' },
    status: 422,
    code: 'repository_not_found',
  },
  {
    name: 'missing ref',
    payload: { notebook: NB, ref: 'no-such-branch' },
    status: 422,
    code: 'ref_not_found',
  },
  {
    name: 'missing path',
    payload: { notebook: 'github://acme/notebooks/nb/missing.ipynb' },
    status: 422,
    code: 'path_not_found',
  },
  {
    name: 'not a notebook',
    payload: { notebook: 'github://acme/notebooks/README.md' },
    status: 422,
    code: 'not_a_notebook',
  },
  {
    name: 'unsupported scheme',
    payload: { notebook: 'ftp://example.com/a.ipynb' },
    status: 400,
    code: 'unsupported_source',
  },
  {
    name: 'local path traversal',
    payload: { notebook: '../secret.ipynb' },
    status: 422,
    code: 'local_path_outside_roots',
  },
  {
    name: 'local traversal inside a path',
    payload: { notebook: 'team/../../secret.ipynb' },
    status: 422,
    code: 'local_path_outside_roots',
  },
  {
    name: 'unknown kernel',
    payload: { notebook: NB, kernel: 'julia-1.9' },
    status: 422,
    code: 'unknown_kernel',
    mentions: 'julia-1.9',
  },
  {
    name: 'oversize body',
    payload: { notebook: NB, labels: { big } },
    status: 413,
    code: 'body_too_large',
  },
  {
    name: 'oversize parameters',
    payload: {
      notebook: NB,
      allowUnknownParameters: true,
      parameters: { blob: 'y'.repeat(20 * 1024) },
    },
    status: 413,
    code: 'parameters_too_large',
  },
  {
    name: 'bad idempotency key',
    payload: { notebook: NB },
    headers: { 'idempotency-key': 'has space' },
    status: 400,
    code: 'invalid_idempotency_key',
  },
  {
    name: 'no token',
    payload: { notebook: NB },
    token: null,
    status: 401,
    code: 'unauthenticated',
  },
  {
    name: 'wrong token',
    payload: { notebook: NB },
    token: 'nes_not-a-real-token',
    status: 401,
    code: 'unauthenticated',
  },
  {
    name: 'read token submitting',
    payload: { notebook: NB },
    token: 'READ',
    status: 403,
    code: 'forbidden',
    mentions: 'submit',
  },
];

describe('POST /v1/runs refuses bad input with a clear 4xx and stores nothing', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const token =
        c.token === 'READ' ? h.tokens.read : c.token === undefined ? h.tokens.submit : c.token;
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/runs',
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          'content-type': c.contentType ?? 'application/json',
          ...c.headers,
        },
        payload: c.raw ?? JSON.stringify(c.payload),
      });
      assert.equal(res.statusCode, c.status, res.body);
      const body = res.json() as { error: { code: string; message: string; details?: unknown } };
      assert.equal(body.error.code, c.code, res.body);
      assert.ok(body.error.message.length > 0);
      if (c.mentions !== undefined)
        assert.ok(res.body.includes(c.mentions), `${res.body} should mention ${c.mentions}`);
      if (token !== null) assert.ok(!res.body.includes(token), 'the token is never echoed');
      assert.equal(await h.runCount(), 0);
      assert.equal(h.scheduler.submittedRuns.length, 0);
    });
  }
});

describe('POST /v1/runs accepts', () => {
  test('a GitHub notebook: 201, resolved to the commit, scheduler told, links', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: h.auth(),
      payload: { notebook: NB, parameters: { alpha: 2, count: 4 }, labels: { dag: 'daily' } },
    });
    assert.equal(res.statusCode, 201, res.body);
    const run = res.json();
    assert.equal(run.status, 'queued');
    assert.equal(run.commitSha, h.sha);
    assert.equal(run.ref, 'main');
    assert.equal(run.kernel, 'python3');
    assert.deepEqual(run.parameters, { alpha: 2, count: 4 });
    assert.deepEqual(run.links, {
      self: `http://nes.test/v1/runs/${run.id}`,
      notebook: `http://nes.test/v1/runs/${run.id}/notebook`,
      results: `http://nes.test/v1/runs/${run.id}/results`,
      viewer: `http://nes.test/runs/${run.id}`,
    });
    assert.equal(h.scheduler.submittedRuns.at(-1)?.id, run.id);
    const got = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(got.statusCode, 200);
    assert.deepEqual(got.json(), run);
  });

  test('unknown parameters when allowed; a float written 1.0 stays a float', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: { ...h.auth(), 'content-type': 'application/json' },
      payload: `{"notebook": "${NB}", "allowUnknownParameters": true, "parameters": {"alpha": 1.0, "extra": [1, 2]}}`,
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.match(res.body, /"alpha":1\.0\b/);
  });

  test('a local notebook under a root, by relative path', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: h.auth(h.tokens.admin),
      payload: { notebook: 'team/local.ipynb', parameters: { name: 'x' } },
    });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().commitSha, null);
  });
});

describe('Idempotency-Key', () => {
  const body = { notebook: NB, parameters: { count: 7 }, labels: { task: 'idem' } };

  test('same key and body: the same run (200); another body: 409', async () => {
    const headers = { ...h.auth(), 'idempotency-key': 'key-1' };
    const first = await h.app.inject({ method: 'POST', url: '/v1/runs', headers, payload: body });
    assert.equal(first.statusCode, 201, first.body);
    // Key order does not matter.
    const reordered = { labels: body.labels, parameters: body.parameters, notebook: body.notebook };
    const again = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers,
      payload: reordered,
    });
    assert.equal(again.statusCode, 200, again.body);
    assert.equal(again.json().id, first.json().id);
    const other = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers,
      payload: { ...body, parameters: { count: 8 } },
    });
    assert.equal(other.statusCode, 409, other.body);
    assert.equal(other.json().error.code, 'idempotency_conflict');
    const runs = await h.store.listRuns({ labels: { task: 'idem' }, limit: 10 });
    assert.equal(runs.runs.length, 1);
  });

  test('100 concurrent identical submits create exactly one run', async () => {
    const headers = { ...h.auth(), 'idempotency-key': 'burst-1' };
    const payload = { notebook: NB, parameters: { count: 9 }, labels: { task: 'burst' } };
    const before = h.scheduler.submittedRuns.length;
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        h.app.inject({ method: 'POST', url: '/v1/runs', headers, payload }),
      ),
    );
    const statuses = answers.map((a) => a.statusCode).sort();
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 200).length, 99);
    assert.equal(new Set(answers.map((a) => a.json().id)).size, 1);
    assert.equal((await h.store.listRuns({ labels: { task: 'burst' }, limit: 10 })).runs.length, 1);
    assert.equal(h.scheduler.submittedRuns.length, before + 1);
  });
});

describe('rerun', () => {
  test('copies commit, parameters and kernel; merges parameter overrides; checks them', async () => {
    const first = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: h.auth(),
      payload: { notebook: NB, parameters: { alpha: 3, mode: 'slow' }, labels: { task: 'rerun' } },
    });
    const original = first.json();
    const same = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${original.id}/rerun`,
      headers: h.auth(),
    });
    assert.equal(same.statusCode, 201, same.body);
    assert.notEqual(same.json().id, original.id);
    assert.equal(same.json().commitSha, original.commitSha);
    assert.deepEqual(same.json().parameters, original.parameters);
    const changed = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${original.id}/rerun`,
      headers: h.auth(),
      payload: { parameters: { alpha: 4 } },
    });
    assert.equal(changed.statusCode, 201, changed.body);
    assert.deepEqual(changed.json().parameters, { alpha: 4, mode: 'slow' });
    const bad = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${original.id}/rerun`,
      headers: h.auth(),
      payload: { parameters: { alpha: 'no' } },
    });
    assert.equal(bad.statusCode, 422, bad.body);
    const missing = await h.app.inject({
      method: 'POST',
      url: '/v1/runs/nope/rerun',
      headers: h.auth(),
    });
    assert.equal(missing.statusCode, 404);
    const readOnly = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${original.id}/rerun`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(readOnly.statusCode, 403);
  });
});

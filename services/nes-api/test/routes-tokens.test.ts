/**
 * Token management through the API on the real database (PGlite): admin-only create, list, show
 * and revoke; the secret in the create answer only; scopes enforced; revocation and expiry
 * effective on the very next request; `whoami` for any token holder.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type Harness, startHarness } from './api-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

interface TokenView {
  id: string;
  name: string;
  scopes: string[];
  state: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
  service: boolean;
  secret?: string;
}

async function create(payload: Record<string, unknown>, token = h.tokens.admin) {
  return h.app.inject({ method: 'POST', url: '/v1/tokens', headers: h.auth(token), payload });
}

async function created(payload: Record<string, unknown>): Promise<TokenView & { secret: string }> {
  const res = await create(payload);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

const whoami = (token: string) =>
  h.app.inject({ method: 'GET', url: '/v1/whoami', headers: h.auth(token) });

describe('token management', () => {
  test('only an admin token manages tokens; no token at all is a 401', async () => {
    const { id } = await created({ name: 'target', scopes: ['read'] });
    for (const token of [h.tokens.read, h.tokens.submit]) {
      for (const [method, url] of [
        ['POST', '/v1/tokens'],
        ['GET', '/v1/tokens'],
        ['GET', `/v1/tokens/${id}`],
        ['POST', `/v1/tokens/${id}/revoke`],
      ] as const) {
        const res = await h.app.inject({
          method,
          url,
          headers: h.auth(token),
          ...(method === 'POST' ? { payload: { name: 'x', scopes: ['admin'] } } : {}),
        });
        assert.equal(res.statusCode, 403, `${method} ${url}: ${res.body}`);
        assert.equal(res.json().error.code, 'forbidden');
      }
    }
    assert.equal((await h.app.inject({ method: 'GET', url: '/v1/tokens' })).statusCode, 401);
    // Nothing was revoked by the refused attempts.
    assert.equal(
      (
        await h.app.inject({
          method: 'GET',
          url: `/v1/tokens/${id}`,
          headers: h.auth(h.tokens.admin),
        })
      ).json().state,
      'active',
    );
  });

  test('create shows the secret once; list and show never do; the secret authenticates', async () => {
    const token = await created({ name: 'airflow-prod', scopes: ['submit'] });
    assert.match(token.secret, /^nes_[\w-]{40,}$/);
    assert.equal(token.name, 'airflow-prod');
    assert.deepEqual(token.scopes, ['submit']);
    assert.equal(token.state, 'active');
    assert.equal(token.expiresAt, null);
    assert.equal(token.service, false);

    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/tokens',
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(list.statusCode, 200);
    assert.ok(!list.body.includes(token.secret), 'the listing holds the secret');
    const listed = (list.json().tokens as TokenView[]).find((t) => t.id === token.id);
    assert.ok(listed, 'the new token is listed');
    assert.equal('secret' in listed, false);
    assert.equal(list.json().tokens[0].id, token.id, 'newest first');
    const one = await h.app.inject({
      method: 'GET',
      url: `/v1/tokens/${token.id}`,
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(one.json().name, 'airflow-prod');
    assert.ok(!one.body.includes(token.secret));
    const missing = await h.app.inject({
      method: 'GET',
      url: '/v1/tokens/tok_none',
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(missing.statusCode, 404);

    const me = await whoami(token.secret);
    assert.equal(me.statusCode, 200, me.body);
    assert.equal(me.json().id, token.id);
    assert.ok(me.json().lastUsedAt, 'the use is recorded');
    assert.ok(!me.body.includes(token.secret));
  });

  test('scopes: read reads only, submit submits and reads, admin does everything', async () => {
    const reader = await created({ name: 'dashboard', scopes: ['read'] });
    const pipeline = await created({ name: 'pipeline', scopes: ['submit'] });
    const payload = { notebook: 'github://acme/notebooks/nb/plain.ipynb' };
    const submitAs = (secret: string) =>
      h.app.inject({ method: 'POST', url: '/v1/runs', headers: h.auth(secret), payload });
    const refused = await submitAs(reader.secret);
    assert.equal(refused.statusCode, 403);
    assert.deepEqual(refused.json().error.details, { required: 'submit', scopes: ['read'] });
    assert.equal((await submitAs(pipeline.secret)).statusCode, 201);
    for (const secret of [reader.secret, pipeline.secret]) {
      const runs = await h.app.inject({ method: 'GET', url: '/v1/runs', headers: h.auth(secret) });
      assert.equal(runs.statusCode, 200);
    }
    const admin = await created({ name: 'second admin', scopes: ['admin'] });
    assert.equal(
      (await create({ name: 'by a created admin', scopes: ['read'] }, admin.secret)).statusCode,
      201,
    );
  });

  test('a revoked token fails on its very next request, its record stays', async () => {
    const token = await created({ name: 'laptop', scopes: ['read'] });
    // Used (so the embedded store holds it in memory) just before the revocation.
    assert.equal((await whoami(token.secret)).statusCode, 200);
    const revoke = await h.app.inject({
      method: 'POST',
      url: `/v1/tokens/${token.id}/revoke`,
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(revoke.statusCode, 200, revoke.body);
    assert.equal(revoke.json().state, 'revoked');
    assert.ok(revoke.json().revokedAt);
    const after = await whoami(token.secret);
    assert.equal(after.statusCode, 401);
    assert.equal(after.json().error.code, 'unauthenticated');
    // Revoking again is a no-op; an unknown token is a 404.
    const again = await h.app.inject({
      method: 'POST',
      url: `/v1/tokens/${token.id}/revoke`,
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(again.json().revokedAt, revoke.json().revokedAt);
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/tokens/tok_none/revoke',
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(unknown.statusCode, 404);
    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/tokens',
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(
      (list.json().tokens as TokenView[]).find((t) => t.id === token.id)?.state,
      'revoked',
    );
  });

  test('an expiring token works until its expiry, then fails; a past expiry is refused', async () => {
    const past = await create({
      name: 'late',
      scopes: ['read'],
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    assert.equal(past.statusCode, 422);
    assert.equal(past.json().error.code, 'invalid_expiry');
    const expiresAt = new Date(Date.now() + 1500).toISOString();
    const token = await created({ name: 'short', scopes: ['read'], expiresAt });
    assert.equal(token.expiresAt, expiresAt);
    assert.equal((await whoami(token.secret)).statusCode, 200);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(expiresAt) - Date.now() + 200));
    assert.equal((await whoami(token.secret)).statusCode, 401);
    const one = await h.app.inject({
      method: 'GET',
      url: `/v1/tokens/${token.id}`,
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(one.json().state, 'expired');
  });

  test('bad requests name what is wrong and create nothing', async () => {
    const before = (await h.store.listTokens()).length;
    for (const [payload, status, field] of [
      [{ name: 'x', scopes: [] }, 400, 'scopes'],
      [{ name: 'x', scopes: ['root'] }, 400, 'scopes'],
      [{ name: 'x', scopes: ['read', 'read'] }, 400, 'scopes'],
      [{ name: '', scopes: ['read'] }, 400, 'name'],
      [{ name: '   ', scopes: ['read'] }, 422, 'name'],
      [{ name: 'a\nb', scopes: ['read'] }, 400, 'name'],
      [{ name: 'x'.repeat(101), scopes: ['read'] }, 400, 'name'],
      [{ name: 'x', scopes: ['read'], expiresAt: 'tomorrow' }, 400, 'expiresAt'],
      [{ name: 'x', scopes: ['read'], secret: 'chosen-secret-0123456789' }, 400, 'secret'],
      [{ scopes: ['read'] }, 400, 'name'],
    ] as const) {
      const res = await create(payload);
      assert.equal(res.statusCode, status, `${JSON.stringify(payload)}: ${res.body}`);
      assert.ok(res.body.includes(field), `${JSON.stringify(payload)}: ${res.body}`);
    }
    assert.equal((await h.store.listTokens()).length, before);
  });

  test('open event streams and log follows end when their token is revoked', async (t) => {
    const live = await startHarness({ heartbeatMs: 50 });
    t.after(() => live.close());
    const base = await live.app.listen({ port: 0, host: '127.0.0.1' });
    const submitted = await live.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: live.auth(),
      payload: { notebook: 'github://acme/notebooks/nb/plain.ipynb' },
    });
    const runId = (submitted.json() as { id: string }).id;
    const created = await live.app.inject({
      method: 'POST',
      url: '/v1/tokens',
      headers: live.auth(live.tokens.admin),
      payload: { name: 'dashboard', scopes: ['read'] },
    });
    const { id, secret } = created.json() as { id: string; secret: string };
    const bystander = live.tokens.read;
    const open = (path: string, token: string) =>
      fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const streams = await Promise.all([
      open('/v1/events', secret),
      open(`/v1/runs/${runId}/events`, secret),
      open(`/v1/runs/${runId}/logs?follow=true`, secret),
      open('/v1/events', bystander),
    ]);
    for (const res of streams) assert.equal(res.status, 200);
    const ended = (res: Response) =>
      (async () => {
        const reader = (res.body as ReadableStream<Uint8Array>).getReader();
        for (;;) if ((await reader.read()).done) return true;
      })();
    const endings = streams.map((res) =>
      Promise.race([ended(res), new Promise((r) => setTimeout(() => r(false), 3000))]),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    const revoked = await live.app.inject({
      method: 'POST',
      url: `/v1/tokens/${id}/revoke`,
      headers: live.auth(live.tokens.admin),
    });
    assert.equal(revoked.statusCode, 200);
    assert.deepEqual(await Promise.all(endings), [true, true, true, false]);
  });
});

/**
 * Tokens in the running service (startService, PGlite, real HTTP): a new NES_ADMIN_TOKEN revokes
 * the previous one for the API and for viewer sign-in, and a revoked one cannot come back by a
 * restart (the service starts and warns); a viewer session cookie dies with its token on the next request, and never outlives
 * the token's expiry.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type StartedService, startService } from '../src/service.ts';
import { SESSION_COOKIE, SESSION_SECONDS } from '../src/viewer/session.ts';
import { get, HTML, writeFixtureDist } from './viewer-support.ts';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

async function start(dataDir: string, adminToken?: string, lines: string[] = []) {
  return startService({
    env: {
      NES_DATA_DIR: dataDir,
      NES_PORT: '0',
      NES_OUTPUT_PORT: '0',
      NES_VIEWER_DIR: writeFixtureDist(),
      ...(adminToken === undefined ? {} : { NES_ADMIN_TOKEN: adminToken }),
    },
    log: (line) => lines.push(line),
    executor: { warmKernels: {}, warmWorkers: 0 },
  });
}

function dataDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'nes-tokens-'));
  roots.push(root);
  return join(root, 'data');
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** Signs in with `?token=` and returns the session cookie (`name=value`). */
async function signIn(service: StartedService, token: string): Promise<string> {
  const res = await get(`${service.url}/runs/r_1?token=${encodeURIComponent(token)}`, HTML);
  assert.equal(res.status, 303, res.text);
  return (res.headers.get('set-cookie') ?? '').split(';')[0] as string;
}

async function createToken(service: StartedService, body: Record<string, unknown>) {
  const res = await fetch(`${service.url}/v1/tokens`, {
    method: 'POST',
    headers: { ...bearer(service.adminToken), 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(res.status, 201);
  return (await res.json()) as { id: string; secret: string; expiresAt: string | null };
}

async function revoke(service: StartedService, id: string) {
  const res = await fetch(`${service.url}/v1/tokens/${id}/revoke`, {
    method: 'POST',
    headers: bearer(service.adminToken),
  });
  assert.equal(res.status, 200);
}

describe('the admin token', () => {
  test('a new NES_ADMIN_TOKEN revokes the previous one: API, sign-in and sessions; other tokens stay', async () => {
    const dir = dataDir();
    const first = 'nes_first-admin-token-0123456789';
    const second = 'nes_second-admin-token-0123456789';
    let service = await start(dir, first);
    let user: { id: string; secret: string };
    try {
      assert.equal(service.adminTokenSource, 'environment');
      user = await createToken(service, { name: 'pipeline', scopes: ['submit'] });
      assert.equal((await get(`${service.url}/v1/runs`, bearer(first))).status, 200);
    } finally {
      await service.close(0);
    }
    const lines: string[] = [];
    service = await start(dir, second, lines);
    try {
      assert.equal((await get(`${service.url}/v1/runs`, bearer(first))).status, 401);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(second))).status, 200);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(user.secret))).status, 200);
      const refused = await get(`${service.url}/?token=${first}`, HTML);
      assert.equal(refused.status, 401, 'the old admin token signs in no more');
      assert.equal(refused.headers.get('set-cookie'), null);
      assert.ok(lines.some((line) => /admin token changed; revoked the previous one/.test(line)));
      assert.ok(!lines.join('\n').includes(first) && !lines.join('\n').includes(second));
      const listed = await (await get(`${service.url}/v1/tokens`, bearer(second))).text;
      const tokens = JSON.parse(listed).tokens as Array<{ service: boolean; state: string }>;
      assert.deepEqual(
        tokens.filter((t) => t.service).map((t) => t.state),
        ['active', 'revoked'],
      );
    } finally {
      await service.close(0);
    }
    // The revoked one cannot come back by a restart: the service starts, says why, and the
    // token stays refused while the others work.
    const warned: string[] = [];
    service = await start(dir, first, warned);
    try {
      assert.ok(
        warned.some((line) => /warning: NES_ADMIN_TOKEN: the admin token was revoked/.test(line)),
        warned.join('\n'),
      );
      assert.equal((await get(`${service.url}/v1/runs`, bearer(first))).status, 401);
      assert.equal((await get(`${service.url}/?token=${first}`, HTML)).status, 401);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(second))).status, 200);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(user.secret))).status, 200);
    } finally {
      await service.close(0);
    }
  });

  test('a generated admin token that was revoked is replaced at the next start', async () => {
    const dir = dataDir();
    let service = await start(dir);
    const generated = service.adminToken;
    try {
      assert.equal(service.adminTokenSource, 'file');
      const me = JSON.parse((await get(`${service.url}/v1/whoami`, bearer(generated))).text);
      assert.equal(me.service, true);
      await revoke(service, me.id);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(generated))).status, 401);
    } finally {
      await service.close(0);
    }
    service = await start(dir);
    try {
      assert.notEqual(service.adminToken, generated);
      assert.equal((await get(`${service.url}/v1/runs`, bearer(service.adminToken))).status, 200);
    } finally {
      await service.close(0);
    }
  });
});

describe('viewer sessions', () => {
  test('a session cookie dies with its token on the next request', async () => {
    const service = await start(dataDir());
    try {
      const token = await createToken(service, { name: 'alice', scopes: ['read'] });
      const cookie = await signIn(service, token.secret);
      assert.equal((await get(`${service.url}/v1/runs`, { cookie })).status, 200);
      await revoke(service, token.id);
      const after = await get(`${service.url}/v1/runs`, { cookie });
      assert.equal(after.status, 401, after.text);
      // A page load says so too (the app asks to sign in again); signing in again is refused.
      assert.equal((await get(`${service.url}/?token=${token.secret}`, HTML)).status, 401);
    } finally {
      await service.close(0);
    }
  });

  test("a session never outlives its token's expiry", async () => {
    const service = await start(dataDir());
    try {
      const expiresAt = new Date(Date.now() + 60 * 60 * 1000).toISOString();
      const token = await createToken(service, { name: 'visitor', scopes: ['read'], expiresAt });
      const res = await get(`${service.url}/?token=${token.secret}`, HTML);
      const maxAge = Number(/Max-Age=(\d+)/.exec(res.headers.get('set-cookie') ?? '')?.[1]);
      assert.ok(maxAge > 3500 && maxAge <= 3600, `Max-Age ${maxAge}`);
      const lasting = await createToken(service, { name: 'staff', scopes: ['read'] });
      const other = await get(`${service.url}/?token=${lasting.secret}`, HTML);
      assert.match(
        other.headers.get('set-cookie') ?? '',
        new RegExp(`Max-Age=${SESSION_SECONDS};`),
      );
      assert.ok((other.headers.get('set-cookie') ?? '').startsWith(`${SESSION_COOKIE}=`));
    } finally {
      await service.close(0);
    }
  });
});

/**
 * The session cookie on its own (sealing, expiry, tampering, the Origin rule), the viewer's
 * configuration keys, and the service as `nes serve` runs it with request logging on: a token
 * used to sign in, refused, or sent on an event stream never reaches a log line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { FastifyRequest } from 'fastify';
import { loadConfig } from '../src/config.ts';
import { startService } from '../src/service.ts';
import {
  readCookie,
  SESSION_COOKIE,
  SESSION_SECONDS,
  SessionCookies,
} from '../src/viewer/session.ts';
import { spawnService } from './service-support.ts';
import { get, HTML, writeFixtureDist } from './viewer-support.ts';

const TOKEN = 'nes_test-token-0123456789abcdef';

function sessions(now = () => 1_000_000, secret = 'admin-secret-0123456789', secure = false) {
  return new SessionCookies({
    secret,
    secure: () => secure,
    trustedOrigins: () => ['https://viewer.example'],
    now,
  });
}

function cookieValue(setCookie: string): string {
  return (setCookie.split(';')[0] as string).slice(SESSION_COOKIE.length + 1);
}

function request(headers: Record<string, string>, host = '127.0.0.1:8080'): FastifyRequest {
  return { headers, protocol: 'http', host } as unknown as FastifyRequest;
}

describe('session cookie', () => {
  test('seals the token: opened by the same key, never readable, fresh each time', () => {
    const cookies = sessions();
    const first = cookieValue(cookies.issue(TOKEN));
    const second = cookieValue(cookies.issue(TOKEN));
    assert.notEqual(first, second);
    assert.equal(cookies.open(first), TOKEN);
    assert.equal(cookies.open(second), TOKEN);
    for (const encoding of ['utf8', 'latin1', 'base64url', 'hex'] as const) {
      assert.ok(!Buffer.from(first, 'base64url').toString(encoding).includes(TOKEN), encoding);
    }
    assert.equal(cookies.token(request({ cookie: `a=1; ${SESSION_COOKIE}=${first}; b=2` })), TOKEN);
    assert.equal(cookies.token(request({ cookie: 'a=1' })), null);
    assert.equal(cookies.token(request({})), null);
  });

  test('another key, a flipped bit, a truncation or an expiry opens nothing', () => {
    let now = 1_000_000;
    const cookies = sessions(() => now);
    const value = cookieValue(cookies.issue(TOKEN));
    assert.equal(sessions(() => now, 'another-admin-secret-000').open(value), null);
    const bytes = Buffer.from(value, 'base64url');
    for (const index of [0, 13, bytes.length - 1]) {
      const flipped = Buffer.from(bytes);
      flipped[index] = (flipped[index] as number) ^ 1;
      assert.equal(cookies.open(flipped.toString('base64url')), null, `byte ${index}`);
    }
    assert.equal(cookies.open(value.slice(0, 20)), null);
    assert.equal(cookies.open('not base64 at all!'), null);
    assert.equal(cookies.open(''), null);
    now += SESSION_SECONDS - 1;
    assert.equal(cookies.open(value), TOKEN);
    now += 1;
    assert.equal(cookies.open(value), null);
  });

  test('attributes: HttpOnly, SameSite=Strict, Path=/, Secure only over https; clear() expires it', () => {
    assert.equal(
      sessions()
        .issue(TOKEN)
        .replace(/=[^;]*;/, '=V;'),
      `${SESSION_COOKIE}=V; Max-Age=${SESSION_SECONDS}; Path=/; HttpOnly; SameSite=Strict`,
    );
    assert.match(sessions(undefined, undefined, true).issue(TOKEN), /; Secure$/);
    assert.equal(
      sessions().clear(),
      `${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict`,
    );
  });

  test("unsafe requests are trusted from the page's own origin or the configured viewer, never a form", () => {
    const cookies = sessions();
    assert.equal(cookies.fromViewer(request({ origin: 'http://127.0.0.1:8080' })), true);
    assert.equal(
      cookies.fromViewer(request({ origin: 'http://localhost:8080' }, 'localhost:8080')),
      true,
    );
    assert.equal(cookies.fromViewer(request({ origin: 'https://viewer.example' })), true);
    for (const origin of [
      'http://127.0.0.1:8081',
      'https://127.0.0.1:8080',
      'null',
      'https://evil.example',
    ]) {
      assert.equal(cookies.fromViewer(request({ origin })), false, origin);
    }
    assert.equal(cookies.fromViewer(request({})), false);
    const form = { origin: 'http://127.0.0.1:8080', 'sec-fetch-mode': 'navigate' };
    assert.equal(cookies.fromViewer(request(form)), false);
    assert.equal(cookies.fromViewer(request({ ...form, 'sec-fetch-mode': 'cors' })), true);
  });

  test('readCookie takes one cookie out of a header', () => {
    assert.equal(readCookie('a=1; nes_session=xyz; b=2', 'nes_session'), 'xyz');
    assert.equal(readCookie('nes_session_other=1', 'nes_session'), null);
    assert.equal(readCookie('nes_session=', 'nes_session'), null);
    assert.equal(readCookie(undefined, 'nes_session'), null);
  });
});

describe('viewer configuration', () => {
  test('NES_VIEWER_DIR, NES_OUTPUT_PORT (default PORT + 1) and NES_OUTPUT_URL', () => {
    const defaults = loadConfig({});
    assert.equal(defaults.viewerDir, null);
    assert.equal(defaults.outputPort, 8081);
    assert.equal(defaults.outputUrl, null);
    assert.equal(loadConfig({ NES_PORT: '0' }).outputPort, 0);
    assert.equal(loadConfig({ NES_PORT: '65535' }).outputPort, 65534);
    const set = loadConfig(
      {
        NES_VIEWER_DIR: 'some/dist',
        NES_OUTPUT_PORT: '9000',
        NES_OUTPUT_URL: 'https://out.example.com/x',
      },
      { OUTPUT_PORT: '9100' },
    );
    assert.equal(set.viewerDir, join(process.cwd(), 'some/dist'));
    assert.equal(set.outputPort, 9100);
    assert.equal(set.outputUrl, 'https://out.example.com');
  });

  test('bad values name the variable', () => {
    assert.throws(
      () => loadConfig({ NES_OUTPUT_PORT: 'x' }),
      /NES_OUTPUT_PORT: expected an integer/,
    );
    assert.throws(
      () => loadConfig({ NES_PORT: '9000', NES_OUTPUT_PORT: '9000' }),
      /NES_OUTPUT_PORT: the output origin needs its own port/,
    );
    assert.throws(
      () => loadConfig({ NES_OUTPUT_URL: 'ftp://x' }),
      /NES_OUTPUT_URL: expected an http\(s\) URL/,
    );
  });
});

describe('behind an https ingress', () => {
  test('NES_PUBLIC_URL https and NES_OUTPUT_URL: a Secure cookie, the output origin in the page, POSTs from the public origin', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nes-viewer-https-'));
    const service = await startService({
      env: {
        NES_DATA_DIR: join(root, 'data'),
        NES_PORT: '0',
        NES_VIEWER_DIR: writeFixtureDist(),
        NES_PUBLIC_URL: 'https://nes.example.com',
        NES_OUTPUT_URL: 'https://nes-output.example.net/',
      },
      log: () => undefined,
      executor: { warmKernels: {}, warmWorkers: 0 },
    });
    try {
      assert.equal(service.outputUrl, 'https://nes-output.example.net');
      const page = await get(`${service.url}/runs/r_1`, HTML);
      assert.match(
        page.text,
        /<meta name="nes-frame-origin" content="https:\/\/nes-output\.example\.net">/,
      );
      assert.match(
        page.headers.get('content-security-policy') ?? '',
        /frame-src https:\/\/nes-output\.example\.net;/,
      );
      const signIn = await get(`${service.url}/?token=${service.adminToken}`, HTML);
      assert.equal(signIn.status, 303);
      assert.match(signIn.headers.get('set-cookie') ?? '', /; Secure$/);
      // A request from the public viewer origin (through the ingress) may change things.
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
      const post = await get(
        `${service.url}/v1/runs`,
        { cookie, origin: 'https://nes.example.com', 'content-type': 'application/json' },
        { method: 'POST', body: '{}' },
      );
      assert.equal(post.status, 400, post.text); // past auth: the body is what is wrong
    } finally {
      await service.close(0);
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('tokens and logs', () => {
  test('with every request logged, no token reaches a log line', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nes-viewer-log-'));
    const started = await spawnService({
      NES_DATA_DIR: join(root, 'data'),
      NES_VIEWER_DIR: writeFixtureDist(),
      NES_LOG_LEVEL: 'trace',
      NES_OUTPUT_PORT: '0',
    });
    try {
      const { url, token } = started.api;
      const signIn = await get(`${url}/runs/r_1?token=${encodeURIComponent(token)}&x=1`, HTML);
      assert.equal(signIn.status, 303);
      const cookie = (signIn.headers.get('set-cookie') ?? '').split(';')[0] as string;
      assert.equal((await get(`${url}/v1/runs`, { cookie })).status, 200);
      assert.equal((await get(`${url}/v1/runs`, { authorization: `Bearer ${token}` })).status, 200);
      const refused = 'nes_refused-token-0123456789';
      assert.equal((await get(`${url}/?token=${refused}`, HTML)).status, 401);
      assert.equal((await get(`${url}/v1/runs/r_none/events?token=${token}`)).status, 404);
      const post = await get(
        `${url}/v1/runs`,
        { cookie, 'content-type': 'application/json' },
        { method: 'POST', body: '{}' },
      );
      assert.equal(post.status, 403);

      await new Promise((resolve) => setTimeout(resolve, 200));
      const log = started.stderr();
      // The log is on: it names the requests, with the token redacted.
      assert.match(log, /"url":"\/runs\/r_1\?token=\[REDACTED\]&x=1"/);
      assert.match(log, /cross_origin|403/);
      for (const secret of [
        token,
        encodeURIComponent(token),
        refused,
        cookie.slice(SESSION_COOKIE.length + 1),
      ]) {
        assert.ok(!log.includes(secret), `a secret reached the log:\n${log}`);
      }
    } finally {
      started.child.kill('SIGTERM');
      await started.exited;
      rmSync(root, { recursive: true, force: true });
    }
  });
});

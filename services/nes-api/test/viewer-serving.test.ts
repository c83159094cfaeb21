/**
 * The viewer served by the real service over real HTTP (startService, the local executor): the
 * page's CSP and the frame origin filled in, the SPA fallback that never shadows the API, cached
 * assets, sign-in by `?token=` traded for a sealed HttpOnly cookie, the cookie accepted as
 * authentication with unsafe requests held to the viewer's Origin, bearer tokens unchanged, and
 * the output origin serving frame.html and its assets only, under its own CSP.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type StartedService, startService } from '../src/service.ts';
import { SESSION_COOKIE } from '../src/viewer/session.ts';
import { writeNotebook } from './scheduler-support.ts';
import {
  APP_ENTRY,
  APP_ONLY,
  directives,
  FONT,
  FRAME_CSS,
  FRAME_ENTRY,
  get,
  HTML,
  SHARED_CHUNK,
  writeFixtureFiles,
} from './viewer-support.ts';

const root = mkdtempSync(join(tmpdir(), 'nes-viewer-serving-'));
const dist = join(root, 'dist');
const notebooks = join(root, 'notebooks');
mkdirSync(notebooks, { recursive: true });
const hello = writeNotebook(notebooks, 'hello.ipynb', ['name = "world"', 'print("hello", name)']);

let service: StartedService;

before(async () => {
  service = await startService({
    env: {
      NES_DATA_DIR: join(root, 'data'),
      NES_PORT: '0',
      NES_NOTEBOOK_ROOTS: notebooks,
      NES_VIEWER_DIR: dist,
    },
    log: () => undefined,
    executor: { warmKernels: { python3: 1 } },
  });
});
after(async () => {
  await service?.close(0);
  rmSync(root, { recursive: true, force: true });
});

/** The session cookie (name=value) a sign-in sets. */
async function signIn(): Promise<string> {
  const response = await get(`${service.url}/?token=${service.adminToken}`, HTML);
  assert.equal(response.status, 303, response.text);
  const cookie = response.headers.get('set-cookie') ?? '';
  return cookie.split(';')[0] as string;
}

/** A POST with exactly these headers and an empty body. */
function rawPost(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { ...headers, 'content-length': '0' } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('viewer serving', () => {
  // First, while nothing is built: the dist is read per request, so the build can come later.
  test('without a build, / explains how to build the viewer, and nothing else is served', async () => {
    const home = await get(`${service.url}/`, HTML);
    assert.equal(home.status, 200);
    assert.match(home.text, /npm run build -w @nes\/viewer/);
    assert.match(home.text, /NES_VIEWER_DIR/);
    assert.doesNotMatch(
      directives(home.headers.get('content-security-policy')).get('default-src')?.join(' ') ?? '',
      /self/,
    );
    assert.equal((await get(`${service.url}/assets/${APP_ENTRY}`)).status, 404);
    assert.equal((await get(`${service.outputUrl}/frame.html`, HTML)).status, 404);
    writeFixtureFiles(dist);
  });

  test('every page a browser opens gets index.html with the frame origin and the strict CSP', async () => {
    for (const path of [
      '/',
      '/runs/r_123',
      '/browse/team/a%20b.ipynb',
      '/compare?a=1&b=2',
      '/notebook?uri=x',
      '/some/new/page',
    ]) {
      const page = await get(`${service.url}${path}`, HTML);
      assert.equal(page.status, 200, path);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(
        page.text,
        new RegExp(`<meta name="nes-frame-origin" content="${service.outputUrl}">`),
        path,
      );
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(page.headers.get('cache-control'), 'no-cache');
      assert.equal(page.headers.get('set-cookie'), null);
    }
    const csp = directives(
      (await get(`${service.url}/`, HTML)).headers.get('content-security-policy'),
    );
    assert.deepEqual(csp.get('default-src'), ["'self'"]);
    assert.deepEqual(csp.get('script-src'), ["'self'"]);
    assert.deepEqual(csp.get('style-src'), ["'self'", "'unsafe-inline'"]);
    assert.deepEqual(csp.get('img-src'), ["'self'", 'data:', 'blob:', 'https:']);
    assert.deepEqual(csp.get('font-src'), ["'self'", 'data:']);
    assert.deepEqual(csp.get('connect-src'), ["'self'"]);
    assert.deepEqual(csp.get('frame-src'), [service.outputUrl]);
    assert.deepEqual(csp.get('object-src'), ["'none'"]);
    assert.deepEqual(csp.get('base-uri'), ["'none'"]);
    assert.deepEqual(csp.get('form-action'), ["'self'"]);
    assert.deepEqual(csp.get('frame-ancestors'), ["'none'"]);
    assert.notEqual(new URL(service.outputUrl).port, new URL(service.url).port);
  });

  test('the API keeps its paths: JSON 404s, docs, health, metrics; no frame on the viewer origin', async () => {
    const unknown = await get(`${service.url}/v1/nothing/here`, HTML);
    assert.equal(unknown.status, 404);
    assert.equal(JSON.parse(unknown.text).error.code, 'not_found');
    assert.equal((await get(`${service.url}/livez`, HTML)).text, '{"status":"ok"}');
    // The API's description needs a token like the API: a bearer token, or the viewer's session
    // (its header links to it).
    assert.equal((await get(`${service.url}/openapi.json`, HTML)).status, 401);
    assert.equal((await get(`${service.url}/docs`, HTML)).status, 401);
    const cookie = await signIn();
    assert.equal(
      JSON.parse((await get(`${service.url}/openapi.json`, { ...HTML, cookie })).text).openapi,
      '3.0.3',
    );
    assert.equal((await get(`${service.url}/metrics`, HTML)).status, 401);
    const docs = await fetch(`${service.url}/docs`, { headers: { ...HTML, cookie } });
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /swagger/i);
    // No page route is in the API's description.
    const paths = Object.keys(
      JSON.parse(
        (
          await get(`${service.url}/openapi.json`, {
            authorization: `Bearer ${service.adminToken}`,
          })
        ).text,
      ).paths,
    );
    assert.ok(
      paths.every(
        (path) => path.startsWith('/v1') || ['/livez', '/readyz', '/metrics'].includes(path),
      ),
      paths.join(),
    );
    assert.equal((await get(`${service.url}/frame.html`, HTML)).status, 404);
    // Not a browser navigation: the API's 404, not the app.
    const api = await get(`${service.url}/runs/r_123`, { accept: 'application/json' });
    assert.equal(api.status, 404);
    assert.equal(JSON.parse(api.text).error.code, 'not_found');
  });

  test('assets are cached for good; a missing one is a 404', async () => {
    const asset = await get(`${service.url}/assets/${APP_ENTRY}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('content-type') ?? '', /javascript/);
    assert.match(asset.headers.get('cache-control') ?? '', /max-age=31536000/);
    assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
    assert.equal(asset.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((await get(`${service.url}/assets/nope-000.js`)).status, 404);
    // A way out of assets/ is refused (send answers 403 to a traversal).
    const traversal = await get(`${service.url}/assets/..%2findex.html`);
    assert.ok([403, 404].includes(traversal.status), String(traversal.status));
    assert.doesNotMatch(traversal.text, /nes-frame-origin/);
  });

  test('?token= signs in: a sealed HttpOnly cookie and a 303 to the same URL without the token', async () => {
    const response = await get(
      `${service.url}/runs/r_1?tab=log&token=${encodeURIComponent(service.adminToken)}&cell=3`,
      HTML,
    );
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/runs/r_1?tab=log&cell=3');
    assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
    const cookie = response.headers.get('set-cookie') ?? '';
    const [pair, ...attributes] = cookie.split(';').map((part) => part.trim());
    assert.ok(pair?.startsWith(`${SESSION_COOKIE}=`), cookie);
    assert.deepEqual(attributes.filter((a) => !a.startsWith('Max-Age=')).sort(), [
      'HttpOnly',
      'Path=/',
      'SameSite=Strict',
    ]);
    assert.ok(attributes.includes(`Max-Age=${7 * 24 * 3600}`), cookie);
    // The token cannot be read back out of the cookie.
    const value = pair?.slice(SESSION_COOKIE.length + 1) ?? '';
    assert.ok(!value.includes(service.adminToken));
    assert.ok(!Buffer.from(value, 'base64url').toString('latin1').includes(service.adminToken));

    // The same sign-in from `/`, and a path that would leave the site stays on it.
    const home = await get(`${service.url}/?token=${service.adminToken}`, HTML);
    assert.equal(home.headers.get('location'), '/');
    const sneaky = await get(`${service.url}//evil.example/x?token=${service.adminToken}`, HTML);
    assert.equal(sneaky.headers.get('location'), '/evil.example/x');
  });

  test('an invalid token gets a 401 sign-in page, no cookie and no redirect', async () => {
    for (const token of ['nes_not-a-real-token-000000', '']) {
      const response = await get(`${service.url}/runs/r_1?token=${token}`, HTML);
      assert.equal(response.status, 401);
      assert.match(response.text, /Sign-in failed/);
      assert.match(response.text, /href="\/runs\/r_1"/);
      assert.equal(response.headers.get('set-cookie'), null);
      assert.equal(response.headers.get('location'), null);
      assert.match(response.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    }
  });

  test('the cookie authenticates reads; a POST needs the viewer origin (CSRF)', async () => {
    const cookie = await signIn();
    const list = await get(`${service.url}/v1/runs`, { cookie });
    assert.equal(list.status, 200, list.text);
    assert.ok(Array.isArray(JSON.parse(list.text).runs));
    const body = JSON.stringify({ notebook: hello, parameters: { name: 'cookie' } });
    const post = (headers: Record<string, string>) =>
      get(
        `${service.url}/v1/runs`,
        { cookie, 'content-type': 'application/json', ...headers },
        { method: 'POST', body },
      );

    const noOrigin = await post({});
    assert.equal(noOrigin.status, 403, noOrigin.text);
    assert.equal(JSON.parse(noOrigin.text).error.code, 'cross_origin');
    assert.match(
      JSON.parse(noOrigin.text).error.message,
      /sent by the viewer's script from its own origin/,
    );
    const fromOutput = await post({ origin: service.outputUrl });
    assert.equal(fromOutput.status, 403);
    assert.match(JSON.parse(fromOutput.text).error.message, new RegExp(service.outputUrl));
    assert.equal((await post({ origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ origin: 'null' })).status, 403);

    const fromViewer = await post({ origin: new URL(service.url).origin });
    assert.equal(fromViewer.status, 201, fromViewer.text);
    assert.equal(JSON.parse(fromViewer.text).parameters.name, 'cookie');
    // A form that content slipped into a page would post from the viewer's origin: refused.
    const id = JSON.parse(fromViewer.text).id as string;
    // (node:http: fetch writes its own Sec-Fetch-Mode, as browsers do.)
    const form = await rawPost(`${service.url}/v1/runs/${id}/cancel`, {
      cookie,
      origin: new URL(service.url).origin,
      'sec-fetch-mode': 'navigate',
      'content-type': 'application/x-www-form-urlencoded',
    });
    assert.equal(form.status, 403, form.text);
    assert.match(JSON.parse(form.text).error.message, /a form submission/);
    // Cancel it through the cookie from the viewer's script.
    const cancel = await get(
      `${service.url}/v1/runs/${id}/cancel`,
      { cookie, origin: new URL(service.url).origin },
      { method: 'POST' },
    );
    assert.ok([200, 202].includes(cancel.status), cancel.text);
  });

  test('sign-out from the viewer expires the cookie; from anywhere else it is refused', async () => {
    const cookie = await signIn();
    const signOut = (headers: Record<string, string>) =>
      get(`${service.url}/sign-out`, { cookie, ...headers }, { method: 'POST' });
    const elsewhere: Record<string, string>[] = [
      {},
      { origin: 'https://evil.example' },
      { origin: service.outputUrl },
    ];
    for (const headers of elsewhere) {
      const refused = await signOut(headers);
      assert.equal(refused.status, 403, JSON.stringify(headers));
      assert.equal(refused.headers.get('set-cookie'), null);
      assert.equal(JSON.parse(refused.text).error.code, 'cross_origin');
    }
    const done = await signOut({ origin: new URL(service.url).origin });
    assert.equal(done.status, 204, done.text);
    const cleared = done.headers.get('set-cookie') ?? '';
    assert.match(cleared, new RegExp(`^${SESSION_COOKIE}=; Max-Age=0; Path=/; HttpOnly`));
    // What the browser keeps after that: no session.
    const after = await get(`${service.url}/v1/runs`, { cookie: cleared.split(';')[0] as string });
    assert.equal(after.status, 401);
  });

  test('a tampered, foreign or empty cookie is not a session', async () => {
    const cookie = await signIn();
    const value = cookie.slice(SESSION_COOKIE.length + 1);
    const flipped = `${value.slice(0, 20)}${value[20] === 'A' ? 'B' : 'A'}${value.slice(21)}`;
    for (const bad of [
      `${SESSION_COOKIE}=${flipped}`,
      `${SESSION_COOKIE}=`,
      `${SESSION_COOKIE}=${Buffer.from(`9999999999:${service.adminToken}`).toString('base64url')}`,
    ]) {
      const response = await get(`${service.url}/v1/runs`, { cookie: bad });
      assert.equal(response.status, 401, bad);
    }
  });

  test('bearer tokens work exactly as before, with or without an Origin', async () => {
    const auth = { authorization: `Bearer ${service.adminToken}` };
    assert.equal((await get(`${service.url}/v1/runs`, auth)).status, 200);
    const body = JSON.stringify({ notebook: hello });
    for (const origin of [{}, { origin: 'https://elsewhere.example' }] as Record<
      string,
      string
    >[]) {
      const response = await get(
        `${service.url}/v1/runs`,
        { ...auth, ...origin, 'content-type': 'application/json' },
        { method: 'POST', body },
      );
      assert.equal(response.status, 201, response.text);
    }
    const wrong = await get(`${service.url}/v1/runs`, {
      authorization: 'Bearer nes_wrong-token-0000000000',
    });
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.text).error.message, 'the token is not valid');
    const none = await get(`${service.url}/v1/runs`);
    assert.equal(none.status, 401);
    assert.match(JSON.parse(none.text).error.message, /bearer token is required/);
  });

  test('the output origin serves frame.html and its assets only, under its own CSP, no cookies', async () => {
    const cookie = await signIn();
    const frame = await get(`${service.outputUrl}/frame.html`, { ...HTML, cookie });
    assert.equal(frame.status, 200);
    assert.match(frame.text, new RegExp(FRAME_ENTRY));
    assert.equal(frame.headers.get('set-cookie'), null);
    assert.equal(frame.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(frame.headers.get('referrer-policy'), 'no-referrer');
    const csp = directives(frame.headers.get('content-security-policy'));
    assert.deepEqual(csp.get('default-src'), ["'none'"]);
    for (const source of ["'unsafe-inline'", "'unsafe-eval'", 'https:', service.outputUrl]) {
      assert.ok(csp.get('script-src')?.includes(source), `script-src ${source}`);
    }
    assert.deepEqual(csp.get('style-src'), [
      "'self'",
      service.outputUrl,
      "'unsafe-inline'",
      'https:',
    ]);
    for (const source of ['data:', 'blob:', 'https:', "'self'"]) {
      assert.ok(csp.get('img-src')?.includes(source), `img-src ${source}`);
    }
    assert.deepEqual(csp.get('connect-src'), ["'none'"]);
    assert.deepEqual(csp.get('frame-ancestors'), [new URL(service.url).origin]);

    for (const name of [FRAME_ENTRY, SHARED_CHUNK, FRAME_CSS, FONT]) {
      const asset = await get(`${service.outputUrl}/assets/${name}`, { cookie });
      assert.equal(asset.status, 200, name);
      assert.equal(asset.headers.get('access-control-allow-origin'), '*');
      assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
      assert.equal(asset.headers.get('set-cookie'), null);
    }
    // The viewer's own code, its pages and the API are not there.
    for (const path of [
      `/assets/${APP_ENTRY}`,
      `/assets/${APP_ONLY}`,
      '/',
      '/index.html',
      '/runs/r_1',
      '/v1/runs',
      '/openapi.json',
      '/livez',
      '/docs',
      '/assets/..%2Findex.html',
    ]) {
      const response = await get(`${service.outputUrl}${path}`, {
        ...HTML,
        cookie,
        authorization: `Bearer ${service.adminToken}`,
      });
      assert.equal(response.status, 404, path);
      assert.match(response.text, /notebook output only/);
    }
    const post = await get(
      `${service.outputUrl}/v1/runs`,
      { cookie },
      { method: 'POST', body: '{}' },
    );
    assert.equal(post.status, 404);
  });

  test('the service handle and its links name both origins', () => {
    assert.match(service.outputUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(service.viewerUrl, `${service.url}/?token=${service.adminToken}`);
  });
});

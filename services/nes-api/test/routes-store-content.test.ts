/**
 * Store content is untrusted: every route that returns store bytes sends them as a download
 * (Content-Disposition: attachment), unsniffable (nosniff) and under a `sandbox` CSP, whatever
 * their type (HTML, SVG, a notebook); every other API answer carries nosniff and the sandbox too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { RunArtifacts } from '@nes/stores';
import { parse } from 'content-disposition';
import type { Run } from '../src/runs/run-model.ts';
import { type Harness, startHarness } from './api-harness.ts';

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

function assertDownload(
  res: { headers: Record<string, unknown>; statusCode: number; body: string },
  name: string,
) {
  assert.equal(res.statusCode, 200, res.body);
  const disposition = parse(String(res.headers['content-disposition']));
  assert.equal(disposition.type, 'attachment');
  assert.equal(disposition.parameters.filename, name);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  const policy = String(res.headers['content-security-policy']);
  assert.match(policy, /(^|;\s*)sandbox(;|$)/, `CSP: ${policy}`);
  assert.match(policy, /default-src 'none'/);
  assert.doesNotMatch(policy, /allow-scripts|allow-same-origin/);
}

describe('store bytes never render on the API origin', () => {
  test('/v1/browse serves HTML, SVG, JavaScript, text and notebooks as sandboxed attachments', async () => {
    const files: Record<string, string> = {
      'reports/evil.html': '<script>fetch("/v1/runs", {method: "POST"})</script>',
      'reports/evil.svg':
        '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>',
      'reports/evil.js': 'alert(1)',
      'reports/notes.txt': '<html><script>alert(1)</script></html>',
      'reports/report.ipynb': '{"cells": []}',
      'reports/naïve name.html': '<b>x</b>',
    };
    for (const [key, text] of Object.entries(files)) await h.artifacts.put(key, text);
    for (const [key, text] of Object.entries(files)) {
      const res = await h.app.inject({
        method: 'GET',
        url: `/v1/browse/${key.split('/').map(encodeURIComponent).join('/')}`,
        headers: h.auth(h.tokens.read),
      });
      const name = key.slice(key.lastIndexOf('/') + 1);
      assertDownload(res, name);
      assert.equal(res.body, text, key);
    }
    // The stored type is kept for the download (a browser saves it with the right extension).
    const html = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/reports/evil.html',
      headers: h.auth(h.tokens.read),
    });
    assert.match(String(html.headers['content-type']), /^text\/html/);
    const named = await h.app.inject({
      method: 'GET',
      url: '/v1/browse/reports/na%C3%AFve%20name.html',
      headers: h.auth(h.tokens.read),
    });
    assert.match(String(named.headers['content-disposition']), /filename\*=UTF-8''na%C3%AFve/);
  });

  test("a run's output and input notebooks are attachments too", async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: h.auth(),
      payload: { notebook: 'github://acme/notebooks/nb/plain.ipynb' },
    });
    assert.equal(res.statusCode, 201, res.body);
    const run = res.json() as Run;
    const keys = new RunArtifacts(h.artifacts, run.id).keys;
    await h.artifacts.put(keys.output, '{"cells": [], "output": true}');
    await h.artifacts.put(keys.input, '{"cells": [], "input": true}');
    for (const [path, name] of [
      ['notebook', 'output.ipynb'],
      ['input', 'input.ipynb'],
    ] as const) {
      const got = await h.app.inject({
        method: 'GET',
        url: `/v1/runs/${run.id}/${path}`,
        headers: h.auth(h.tokens.read),
      });
      assertDownload(got, name);
      assert.match(got.body, new RegExp(`"${path === 'notebook' ? 'output' : 'input'}": true`));
    }
  });

  test('every other API answer (JSON, errors, listings) carries nosniff and the sandbox', async () => {
    for (const url of ['/v1/runs', '/v1/browse/', '/v1/runs/none', '/v1/browse/none/x.html']) {
      const res = await h.app.inject({ method: 'GET', url, headers: h.auth(h.tokens.read) });
      assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
      assert.match(String(res.headers['content-security-policy']), /(^|;\s*)sandbox(;|$)/, url);
    }
  });
});

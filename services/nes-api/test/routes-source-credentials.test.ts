/**
 * `user:password@` in a notebook location is refused on every route that takes one, never echoed
 * in the answer or a log line, and nothing is stored (a run row would show it to every reader).
 */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { type Harness, startHarness } from './api-harness.ts';

const SECRET = 'hunter2pass';
const lines: string[] = [];
let h: Harness;
before(async () => {
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  h = await startHarness({ logger: { level: 'trace', stream: sink } });
});
after(() => h.close());

test('credentials in a notebook URL: 400 naming the rule, never the credentials; nothing stored', async () => {
  const locations = [
    `https://alice:${SECRET}@127.0.0.1:1/nb.ipynb`,
    `https://alice:${SECRET}@github.com/acme/notebooks/blob/main/nb/plain.ipynb`,
    `github://alice:${SECRET}@acme/notebooks/nb/plain.ipynb`,
    `gs://alice:${SECRET}@bucket/nb.ipynb`,
  ];
  for (const notebook of locations) {
    for (const [url, payload] of [
      ['/v1/runs', { notebook }],
      ['/v1/inspect', { notebook }],
      ['/v1/sweeps', { notebook, grid: { name: ['a', 'b'] } }],
    ] as const) {
      const res = await h.app.inject({
        method: 'POST',
        url,
        headers: h.auth(h.tokens.admin),
        payload,
      });
      assert.equal(res.statusCode, 400, `${url} ${notebook}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_source');
      assert.match(res.json().error.message, /must not carry credentials/);
      assert.ok(!res.body.includes(SECRET), `${url} echoed the credentials: ${res.body}`);
    }
  }
  assert.equal(await h.runCount(), 0);
  assert.ok(lines.length > 0, 'requests are logged');
  assert.ok(!lines.join('').includes(SECRET), 'the credentials reached a log line');
});

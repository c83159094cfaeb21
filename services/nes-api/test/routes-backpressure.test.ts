/**
 * Submits past the service's bounds get a fast 429 with Retry-After and create nothing; every
 * 201 is a stored run.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { type Harness, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
const harnesses: Harness[] = [];
after(() => Promise.all(harnesses.map((h) => h.close())));

async function harness(env: Record<string, string>): Promise<Harness> {
  const h = await startHarness({ env });
  harnesses.push(h);
  return h;
}

describe('submit back-pressure', () => {
  test('a full queue: 429 too_many_requests with Retry-After, nothing stored', async () => {
    const h = await harness({ NES_MAX_QUEUED_RUNS: '2' });
    const submit = (payload: object, url = '/v1/runs') =>
      h.app.inject({ method: 'POST', url, headers: h.auth(), payload });
    for (let i = 0; i < 2; i++) {
      const ok = await submit({ notebook: NB, parameters: { count: i } });
      assert.equal(ok.statusCode, 201, ok.body);
    }
    const refused = await submit({ notebook: NB });
    assert.equal(refused.statusCode, 429, refused.body);
    assert.equal(refused.json().error.code, 'too_many_requests');
    assert.match(refused.json().error.message, /NES_MAX_QUEUED_RUNS/);
    assert.ok(Number(refused.headers['retry-after']) >= 1, 'Retry-After in seconds');
    const sweep = await submit({ notebook: NB, list: [{ count: 1 }] }, '/v1/sweeps');
    assert.equal(sweep.statusCode, 429, sweep.body);
    const first = (await h.store.listRuns({ limit: 10 })).runs[0];
    const rerun = await submit({}, `/v1/runs/${first?.id}/rerun`);
    assert.equal(rerun.statusCode, 429, rerun.body);
    assert.equal(await h.runCount(), 2);
    // Room again once a run leaves the queue (the count is re-read at most once a second).
    await h.store.claimQueued(1);
    await new Promise((done) => setTimeout(done, 1100));
    const again = await submit({ notebook: NB });
    assert.equal(again.statusCode, 201, again.body);
  });

  test('more submits at once than allowed: the rest get 429 at once; every 201 is stored', async () => {
    const h = await harness({ NES_MAX_CONCURRENT_SUBMITS: '2' });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        h.app.inject({
          method: 'POST',
          url: '/v1/runs',
          headers: { ...h.auth(), 'idempotency-key': `bp-${i}` },
          payload: { notebook: NB, parameters: { count: i } },
        }),
      ),
    );
    const created = answers.filter((a) => a.statusCode === 201);
    const refused = answers.filter((a) => a.statusCode === 429);
    assert.equal(created.length + refused.length, 20, answers.map((a) => a.body).join('\n'));
    assert.ok(refused.length > 0, 'some were refused');
    assert.ok(created.length >= 2, 'the first ones were served');
    for (const r of refused) assert.equal(r.headers['retry-after'], '1');
    const stored = new Set((await h.store.listRuns({ limit: 100 })).runs.map((r) => r.id));
    assert.equal(stored.size, created.length);
    for (const c of created) assert.ok(stored.has(c.json().id));
  });
});

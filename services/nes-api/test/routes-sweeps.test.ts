/** Sweeps: list, grid and date range; every set checked before anything is stored; status. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parameterSets } from '../src/routes/sweeps.ts';
import { type Harness, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
let h: Harness;
const limits: Array<[string, number]> = [];

before(async () => {
  h = await startHarness();
  h.scheduler.limitQueue = (queue, limit) => limits.push([queue, limit]);
});
after(() => h.close());

describe('parameter sets', () => {
  test('grid is the cartesian product over the base; date range includes both ends', () => {
    assert.deepEqual(
      parameterSets({ parameters: { mode: 'x' }, grid: { a: [1, 2], b: ['u', 'v'] } }),
      [
        { mode: 'x', a: 1, b: 'u' },
        { mode: 'x', a: 1, b: 'v' },
        { mode: 'x', a: 2, b: 'u' },
        { mode: 'x', a: 2, b: 'v' },
      ],
    );
    assert.deepEqual(
      parameterSets({ dateRange: { parameter: 'day', start: '2026-02-27', end: '2026-03-01' } }),
      [{ day: '2026-02-27' }, { day: '2026-02-28' }, { day: '2026-03-01' }],
    );
    assert.throws(() => parameterSets({ list: [{}], grid: { a: [1] } }), /exactly one/);
    assert.throws(
      () => parameterSets({ grid: { a: Array(40).fill(0), b: Array(40).fill(0) } }),
      /at most/,
    );
  });
});

describe('POST /v1/sweeps and GET /v1/sweeps/:id', () => {
  test('a grid sweep: one run per set, bounded queue, aggregate status', async () => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: h.auth(),
      payload: {
        notebook: NB,
        grid: { count: [1, 2, 3] },
        parameters: { mode: 'grid' },
        maxConcurrency: 2,
      },
    });
    assert.equal(res.statusCode, 201, res.body);
    const sweep = res.json();
    assert.equal(sweep.total, 3);
    assert.equal(sweep.status, 'queued');
    assert.deepEqual(
      sweep.runs.map((r: { parameters: unknown }) => r.parameters),
      [1, 2, 3].map((count) => ({ mode: 'grid', count })),
    );
    assert.deepEqual(limits, [[sweep.id, 2]]);
    const first = sweep.runs[0];
    await h.store.transition(first.id, 'starting');
    const got = await h.app.inject({
      method: 'GET',
      url: `/v1/sweeps/${sweep.id}`,
      headers: h.auth(h.tokens.read),
    });
    assert.equal(got.statusCode, 200, got.body);
    assert.equal(got.json().status, 'running');
    assert.deepEqual(got.json().counts, { queued: 2, starting: 1 });
  });

  test('one bad set refuses the whole sweep, naming the set; nothing stored', async () => {
    const before = await h.runCount();
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/sweeps',
      headers: h.auth(),
      payload: { notebook: NB, list: [{ count: 1 }, { count: 'two' }] },
    });
    assert.equal(res.statusCode, 422, res.body);
    assert.match(res.json().error.message, /parameter set 1/);
    assert.equal(await h.runCount(), before);
    const missing = await h.app.inject({
      method: 'GET',
      url: '/v1/sweeps/sweep-nope',
      headers: h.auth(h.tokens.read),
    });
    assert.equal(missing.statusCode, 404);
  });
});

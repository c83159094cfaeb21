/** Who submitted a run: the `nes/submitted-by` label the service sets from the request's token. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Run } from '../src/runs/run-model.ts';
import { type Harness, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
let h: Harness;

before(async () => {
  h = await startHarness();
});
after(() => h.close());

test("a submit records the token's name; a label claiming another submitter is replaced", async () => {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: h.auth(h.tokens.submit),
    payload: { notebook: NB, labels: { team: 'data', 'nes/submitted-by': 'someone-else' } },
  });
  assert.equal(res.statusCode, 201, res.body);
  const run = res.json() as Run;
  assert.deepEqual(run.labels, { team: 'data', 'nes/submitted-by': 'pipeline' });

  const rerun = await h.app.inject({
    method: 'POST',
    url: `/v1/runs/${run.id}/rerun`,
    headers: h.auth(h.tokens.admin),
    payload: {},
  });
  assert.equal(rerun.statusCode, 201, rerun.body);
  assert.deepEqual((rerun.json() as Run).labels, {
    team: 'data',
    'nes/submitted-by': 'admin',
    'nes/rerun-of': run.id,
  });

  const listed = await h.app.inject({
    method: 'GET',
    url: '/v1/runs?label=nes/submitted-by=pipeline',
    headers: h.auth(h.tokens.read),
  });
  assert.deepEqual(
    (listed.json() as { runs: Run[] }).runs.map((r) => r.id),
    [run.id],
  );
});

test('every run of a sweep records who submitted it', async () => {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/sweeps',
    headers: h.auth(h.tokens.submit),
    payload: { notebook: NB, list: [{ count: 1 }, { count: 2 }] },
  });
  assert.equal(res.statusCode, 201, res.body);
  const sweep = res.json() as { runs: Run[] };
  assert.deepEqual(
    sweep.runs.map((r) => r.labels['nes/submitted-by']),
    ['pipeline', 'pipeline'],
  );
});

test('a cancel records who asked, once, as an event of the run', async () => {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: h.auth(h.tokens.submit),
    payload: { notebook: NB },
  });
  const run = res.json() as Run;
  for (let i = 0; i < 2; i++) {
    const cancel = await h.app.inject({
      method: 'POST',
      url: `/v1/runs/${run.id}/cancel`,
      headers: h.auth(h.tokens.admin),
    });
    assert.equal(cancel.statusCode, 200, cancel.body);
  }
  const asked = (await h.store.listEvents(run.id)).filter((e) => e.type === 'cancel_requested');
  assert.deepEqual(
    asked.map((e) => e.data),
    [{ by: 'admin' }],
  );
});

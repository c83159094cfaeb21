/**
 * Input that once got through: parameter names that are code, and unbounded labels. Every path
 * that takes them (submit, rerun overrides, sweeps, the list filter) refuses them and stores
 * nothing.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Harness, notebookText, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';

let h: Harness;
before(async () => {
  h = await startHarness();
  h.scheduler.kernelNames = ['python3', 'ir'];
  const r = JSON.parse(notebookText([{ source: 'x <- 1', tags: ['parameters'] }], 'ir'));
  r.metadata.kernelspec.language = 'R';
  await writeFile(join(h.roots, 'team', 'r.ipynb'), JSON.stringify(r));
});
after(() => h.close());

async function post(url: string, payload: unknown) {
  const res = await h.app.inject({
    method: 'POST',
    url,
    headers: h.auth(),
    payload: payload as object,
  });
  return {
    status: res.statusCode,
    body: res.body,
    json: res.json() as { error?: { code: string; message: string } },
  };
}

const BAD_NAMES = ["__import__('os').system('id'); y", 'a\nb', 'x = 1\ny', 'class', '1x', 'a b'];

describe('parameter names that are not identifiers of the kernel language: 422 naming them', () => {
  for (const name of BAD_NAMES) {
    test(`submit ${JSON.stringify(name)}, unknown parameters allowed`, async () => {
      const before = await h.runCount();
      const res = await post('/v1/runs', {
        notebook: NB,
        allowUnknownParameters: true,
        parameters: { [name]: 1 },
      });
      assert.equal(res.status, 422, res.body);
      assert.equal(res.json.error?.code, 'invalid_parameter_name');
      assert.ok(res.json.error?.message.includes(JSON.stringify(name)), res.body);
      assert.equal(await h.runCount(), before);
    });
  }

  test('R rules for an R notebook: `a.b` passes, `a-b` does not', async () => {
    const ok = await post('/v1/runs', {
      notebook: 'team/r.ipynb',
      allowUnknownParameters: true,
      parameters: { 'a.b': 1 },
    });
    assert.equal(ok.status, 201, ok.body);
    const bad = await post('/v1/runs', {
      notebook: 'team/r.ipynb',
      allowUnknownParameters: true,
      parameters: { 'a-b': 1 },
    });
    assert.equal(bad.status, 422, bad.body);
    assert.match(bad.json.error?.message ?? '', /not an R name/);
  });

  test('sweeps: in a list, a grid key and a date range parameter', async () => {
    const before = await h.runCount();
    for (const body of [
      { list: [{ alpha: 1 }, { 'x; import os': 2 }] },
      { grid: { 'os.system("id")': [1, 2] } },
      { dateRange: { parameter: 'day\nprint(1)', start: '2026-01-01', end: '2026-01-02' } },
      { parameters: { lambda: 1 }, list: [{ alpha: 1 }] },
    ]) {
      const res = await post('/v1/sweeps', { notebook: NB, allowUnknownParameters: true, ...body });
      assert.equal(res.status, 422, res.body);
      assert.equal(res.json.error?.code, 'invalid_parameter_name', res.body);
    }
    assert.equal(await h.runCount(), before);
  });

  test('rerun overrides', async () => {
    const first = await post('/v1/runs', { notebook: NB, parameters: { alpha: 1 } });
    assert.equal(first.status, 201, first.body);
    const id = (first.json as unknown as { id: string }).id;
    const before = await h.runCount();
    const res = await post(`/v1/runs/${id}/rerun`, {
      allowUnknownParameters: true,
      parameters: { "__import__('os').system('id'); y": 1 },
    });
    assert.equal(res.status, 422, res.body);
    assert.equal(res.json.error?.code, 'invalid_parameter_name');
    assert.equal(await h.runCount(), before);
  });
});

describe('labels are bounded as Kubernetes bounds them', () => {
  const cases: Array<[string, Record<string, string>]> = [
    ['a key that misses the pattern', { 'bad key!': 'v' }],
    ['a key with a newline', { 'a\nb': 'v' }],
    ['a key ending in "-"', { 'team-': 'v' }],
    ['a name over 63 characters', { ['k'.repeat(64)]: 'v' }],
    ['an upper-case prefix', { 'Example.com/team': 'v' }],
    ['a value over 256 characters', { team: 'v'.repeat(257) }],
    ['a value with a control character', { team: 'a\u0000b' }],
    ['65 labels', Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, 'v']))],
    ['3,500 labels', Object.fromEntries(Array.from({ length: 3500 }, (_, i) => [`k${i}`, 'v']))],
  ];
  for (const [name, labels] of cases) {
    test(`submit, rerun and sweep refuse ${name}`, async () => {
      const first = await post('/v1/runs', { notebook: NB });
      const id = (first.json as unknown as { id: string }).id;
      const before = await h.runCount();
      const submit = await post('/v1/runs', { notebook: NB, labels });
      assert.equal(submit.status, 400, submit.body);
      assert.equal(submit.json.error?.code, 'invalid_request');
      assert.match(submit.body, /labels/);
      const sweep = await post('/v1/sweeps', { notebook: NB, labels, list: [{ alpha: 1 }] });
      assert.equal(sweep.status, 400, sweep.body);
      const rerun = await post(`/v1/runs/${id}/rerun`, { labels });
      assert.equal(rerun.status, 400, rerun.body);
      assert.equal(await h.runCount(), before);
    });
  }

  test('what Kubernetes accepts is accepted: a prefixed key, 63 labels (64 with nes/submitted-by), an Airflow run id', async () => {
    const labels = Object.fromEntries(Array.from({ length: 61 }, (_, i) => [`k${i}`, 'v']));
    labels['nes.example.com/team'] = 'data';
    labels['airflow.run_id'] = 'scheduled__2026-11-01T00:00:00+00:00';
    const res = await post('/v1/runs', { notebook: NB, labels });
    assert.equal(res.status, 201, res.body);
    assert.equal(Object.keys((res.json as unknown as { labels: object }).labels).length, 64);
    const list = await h.app.inject({
      method: 'GET',
      url: '/v1/runs?label=nes.example.com/team=data&label=airflow.run_id=scheduled__2026-11-01T00:00:00%2B00:00',
      headers: h.auth(),
    });
    assert.equal(list.statusCode, 200, list.body);
    assert.equal(list.json().runs.length, 1);
  });

  test('the bound holds for what is stored: the labels the service sets count', async () => {
    const own = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']));
    const before = await h.runCount();
    // 64 of the client's own pass the schema, but nes/submitted-by would make 65.
    const submit = await post('/v1/runs', { notebook: NB, labels: own(64) });
    assert.equal(submit.status, 422, submit.body);
    assert.equal(submit.json.error?.code, 'too_many_labels');
    assert.match(
      submit.json.error?.message ?? '',
      /65 labels.*at most 64.*nes\/submitted-by.*at most 63/,
    );
    // A sweep's runs also carry nes/sweep: 62 of the client's own at most.
    const sweep = await post('/v1/sweeps', { notebook: NB, labels: own(63), list: [{ alpha: 1 }] });
    assert.equal(sweep.status, 422, sweep.body);
    assert.equal(sweep.json.error?.code, 'too_many_labels');
    assert.equal(await h.runCount(), before);
    const sweepOk = await post('/v1/sweeps', {
      notebook: NB,
      labels: own(62),
      list: [{ alpha: 1 }],
    });
    assert.equal(sweepOk.status, 201, sweepOk.body);
    const sweepRun = (sweepOk.json as unknown as { runs: Array<{ labels: object }> }).runs[0];
    assert.equal(Object.keys(sweepRun?.labels ?? {}).length, 64);

    // A run holding 64 labels: its rerun adds nes/rerun-of, so it must be given fewer labels.
    const full = await post('/v1/runs', { notebook: NB, labels: own(63) });
    assert.equal(full.status, 201, full.body);
    const fullRun = full.json as unknown as { id: string; labels: object };
    assert.equal(Object.keys(fullRun.labels).length, 64);
    const rerun = await post(`/v1/runs/${fullRun.id}/rerun`, {});
    assert.equal(rerun.status, 422, rerun.body);
    assert.equal(rerun.json.error?.code, 'too_many_labels');
    assert.match(rerun.json.error?.message ?? '', /nes\/rerun-of, nes\/submitted-by/);
    const rerunOk = await post(`/v1/runs/${fullRun.id}/rerun`, { labels: own(62) });
    assert.equal(rerunOk.status, 201, rerunOk.body);
    assert.equal(Object.keys((rerunOk.json as unknown as { labels: object }).labels).length, 64);
  });

  test('the list filter refuses a bad key and more than 64 selectors', async () => {
    for (const query of [
      'label=bad%20key=v',
      'label==v',
      `label=${'k'.repeat(64)}=v`,
      Array.from({ length: 65 }, (_, i) => `label=k${i}=v`).join('&'),
    ]) {
      const res = await h.app.inject({
        method: 'GET',
        url: `/v1/runs?${query}`,
        headers: h.auth(),
      });
      assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
      assert.equal(res.json().error.code, 'invalid_request');
    }
  });
});

describe('sources that would reach the service side of the network', () => {
  test('submit of an https:// URL to loopback or cloud metadata: 422, nothing stored', async () => {
    const before = await h.runCount();
    for (const notebook of [
      'https://127.0.0.1:9/nb.ipynb',
      'https://0x7f.1:9/nb.ipynb',
      'https://[::ffff:127.0.0.1]:9/nb.ipynb',
      'https://169.254.169.254/latest/meta-data/nb.ipynb',
    ]) {
      const res = await post('/v1/runs', { notebook });
      assert.equal(res.status, 422, res.body);
      assert.equal(res.json.error?.code, 'forbidden_address', res.body);
    }
    assert.equal(await h.runCount(), before);
  });
});

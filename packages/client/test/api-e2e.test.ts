/**
 * The client against the real API app (services/nes-api, built by the route tests' harness:
 * a GitHub test server, a run store, a scheduler that does not execute). Skipped, with the
 * reason, while @nes/api does not export buildApp.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { NesApiError, NesClient, type RunEvent } from '../src/index.ts';

const API_INDEX = new URL('../../../services/nes-api/src/index.ts', import.meta.url);
const HARNESS = '../../../services/nes-api/test/api-harness.ts';

function skipReason(): string | false {
  try {
    const text = readFileSync(API_INDEX, 'utf8');
    return /\bbuildApp\b/.test(text)
      ? false
      : 'services/nes-api/src/index.ts does not export buildApp yet';
  } catch {
    return 'services/nes-api/src/index.ts does not exist yet';
  }
}

test('client against the real API: submit, get, list, inspect, errors, cancel, events', {
  skip: skipReason(),
}, async () => {
  const { startHarness } = (await import(
    HARNESS
  )) as typeof import('../../../services/nes-api/test/api-harness.ts');
  const h = await startHarness({ heartbeatMs: 200 });
  try {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    const url = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
    const client = new NesClient({ url, token: h.tokens.admin, retry: { baseDelayMs: 1 } });
    const notebook = 'github://acme/notebooks/nb/params.ipynb';

    assert.equal((await client.health()).ok, true);
    const info = await client.inspect({ notebook, ref: 'main' });
    assert.deepEqual(
      info.parameters.map((p) => p.name),
      ['alpha', 'name', 'count', 'mode'],
    );
    assert.equal(info.commitSha, h.sha);

    const run = await client.submitRun(
      { notebook, ref: 'main', parameters: { alpha: 0.25, count: 2 }, labels: { suite: 'e2e' } },
      { idempotencyKey: 'e2e-1' },
    );
    assert.equal(run.status, 'queued');
    assert.equal(run.commitSha, h.sha);
    const replay = await client.submitRun(
      { notebook, ref: 'main', parameters: { alpha: 0.25, count: 2 }, labels: { suite: 'e2e' } },
      { idempotencyKey: 'e2e-1' },
    );
    assert.equal(replay.id, run.id);
    assert.equal((await client.getRun(run.id)).id, run.id);
    const page = await client.listRuns({ labels: { suite: 'e2e' }, status: ['queued'] });
    assert.deepEqual(
      page.runs.map((r) => r.id),
      [run.id],
    );

    await assert.rejects(
      client.submitRun({ notebook, parameters: { count: 'many' } }),
      (err: NesApiError) => err instanceof NesApiError && err.status === 422,
    );
    await assert.rejects(
      new NesClient({ url, token: 'nope' }).getRun(run.id),
      (err: NesApiError) => err.status === 401,
    );
    await assert.rejects(
      new NesClient({ url, token: h.tokens.read }).submitRun({ notebook }),
      (err: NesApiError) => err.status === 403,
    );

    const cancelled = await client.cancelRun(run.id);
    assert.equal(cancelled.status, 'cancelled');
    const events: RunEvent[] = [];
    for await (const e of client.runEvents(run.id)) events.push(e);
    assert.equal(events[0]?.type, 'run');
    assert.ok(events.some((e) => e.type === 'status' && e.data.status === 'cancelled'));
  } finally {
    await h.close();
  }
});

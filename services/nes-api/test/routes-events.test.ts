/** Server-sent events: replay from Last-Event-ID, live updates through the bus, heartbeats,
 * the end after a terminal status; the run list stream; following a log. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Run } from '../src/runs/run-model.ts';
import { type Harness, startHarness } from './api-harness.ts';

const NB = 'github://acme/notebooks/nb/params.ipynb';
let h: Harness;
let base: string;

before(async () => {
  h = await startHarness({ heartbeatMs: 50 });
  base = await h.app.listen({ port: 0, host: '127.0.0.1' });
});
after(() => h.close());

async function submit(): Promise<Run> {
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: h.auth(),
    payload: { notebook: NB },
  });
  assert.equal(res.statusCode, 201, res.body);
  return res.json() as Run;
}

interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

function parseFrames(text: string): Frame[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const frame: Frame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else if (line.startsWith('id: ')) frame.id = line.slice(4);
        else if (line.startsWith('event: ')) frame.event = line.slice(7);
        else if (line.startsWith('data: ')) frame.data = (frame.data ?? '') + line.slice(6);
      }
      return frame;
    });
}

/** Reads a streamed response until `until` holds or the stream ends. */
async function readStream(res: Response, until: (text: string) => boolean): Promise<string> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (until(text)) {
      await reader.cancel();
      break;
    }
  }
  return text;
}

async function finish(run: Run): Promise<void> {
  const started = await h.store.transition(run.id, 'starting');
  assert.ok(started);
  h.bus.publishRun(started);
  const done = await h.store.transition(run.id, 'succeeded', {
    finishedAt: new Date().toISOString(),
  });
  assert.ok(done);
  h.bus.publishRun(done);
}

describe('GET /v1/runs/:id/events', () => {
  test('replays after Last-Event-ID, then ends after the terminal status', async () => {
    const run = await submit();
    await h.store.appendEvent(run.id, 'progress', { cellsDone: 1, cellsTotal: 2 });
    await h.store.appendEvent(run.id, 'log', { stream: 'stdout', text: 'hi' });
    await h.store.appendEvent(run.id, 'progress', { cellsDone: 2, cellsTotal: 2 });
    await finish(run);
    const all = await h.store.listEvents(run.id);
    const res = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/events`,
      headers: { ...h.auth(h.tokens.read), 'last-event-id': '2' },
    });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/event-stream/);
    const frames = parseFrames(res.body);
    assert.equal(frames.find((f) => f.event !== undefined)?.event, 'run');
    const ids = frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
    assert.deepEqual(
      ids,
      all.filter((e) => e.seq > 2).map((e) => e.seq),
    );
    const last = frames.at(-1);
    assert.equal(last?.event, 'end');
    assert.deepEqual(JSON.parse(last?.data ?? ''), { status: 'succeeded' });
    const statusFrames = frames
      .filter((f) => f.event === 'status')
      .map((f) => JSON.parse(f.data ?? '').status);
    assert.deepEqual(statusFrames, ['starting', 'succeeded']);
  });

  test('live: bus notifications bring new events at once; heartbeats; ?token= works; ends at terminal', async () => {
    const run = await submit();
    const res = await fetch(`${base}/v1/runs/${run.id}/events?token=${h.tokens.read}`, {
      headers: { 'last-event-id': '1' },
    });
    assert.equal(res.status, 200);
    const reading = readStream(res, () => false);
    await new Promise((r) => setTimeout(r, 120));
    const log = await h.store.appendEvent(run.id, 'log', { stream: 'stdout', text: 'live line' });
    h.bus.publishEvent(log);
    await new Promise((r) => setTimeout(r, 30));
    await finish(run);
    const text = await reading;
    const frames = parseFrames(text);
    assert.ok(
      frames.some((f) => f.comment === 'heartbeat'),
      'a heartbeat comment',
    );
    const ids = frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
    assert.deepEqual(
      ids,
      [...new Set(ids)].sort((a, b) => a - b),
      'each event once, in order',
    );
    assert.ok(ids.includes(log.seq));
    assert.ok(!ids.includes(1), 'nothing at or before Last-Event-ID');
    assert.equal(frames.at(-1)?.event, 'end');
  });

  test('401 without a token, 404 for an unknown run, 400 for a bad Last-Event-ID', async () => {
    const run = await submit();
    assert.equal(
      (await h.app.inject({ method: 'GET', url: `/v1/runs/${run.id}/events` })).statusCode,
      401,
    );
    assert.equal(
      (
        await h.app.inject({
          method: 'GET',
          url: '/v1/runs/nope/events',
          headers: h.auth(h.tokens.read),
        })
      ).statusCode,
      404,
    );
    const bad = await h.app.inject({
      method: 'GET',
      url: `/v1/runs/${run.id}/events`,
      headers: { ...h.auth(h.tokens.read), 'last-event-id': 'abc' },
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, 'invalid_last_event_id');
  });
});

describe('GET /v1/events', () => {
  test('streams run changes, filtered by label', async () => {
    const res = await fetch(`${base}/v1/events?label=dag=live`, { headers: h.auth(h.tokens.read) });
    assert.equal(res.status, 200);
    const reading = readStream(res, (text) => text.includes('"dag":"live"'));
    await new Promise((r) => setTimeout(r, 50));
    await submit(); // not labelled: filtered out
    const labelled = await h.app.inject({
      method: 'POST',
      url: '/v1/runs',
      headers: h.auth(),
      payload: { notebook: NB, labels: { dag: 'live' } },
    });
    const text = await reading;
    const runs = parseFrames(text)
      .filter((f) => f.event === 'run')
      .map((f) => JSON.parse(f.data ?? ''));
    assert.deepEqual(
      runs.map((r) => r.id),
      [labelled.json().id],
    );
  });
});

describe('GET /v1/runs/:id/logs?follow=true', () => {
  test('streams log lines until the run ends', async () => {
    const run = await submit();
    await h.store.appendEvent(run.id, 'log', { stream: 'stdout', text: 'one' });
    const res = await fetch(`${base}/v1/runs/${run.id}/logs?follow=true`, {
      headers: h.auth(h.tokens.read),
    });
    assert.equal(res.status, 200);
    const reading = res.text();
    await new Promise((r) => setTimeout(r, 30));
    h.bus.publishEvent(await h.store.appendEvent(run.id, 'log', { stream: 'stdout', text: 'two' }));
    await new Promise((r) => setTimeout(r, 30));
    await finish(run);
    assert.equal(await reading, 'one\ntwo\n');
  });
});

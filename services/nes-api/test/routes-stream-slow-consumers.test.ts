/**
 * A client that stops reading an event or log stream must not make the service hold its
 * backlog: past NES_STREAM_BUFFER_BYTES unread, the stream is dropped (the client resumes with
 * Last-Event-ID); clients that read get everything.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import type { Run } from '../src/runs/run-model.ts';
import { type Harness, startHarness } from './api-harness.ts';

const BOUND = 1024 * 1024;
const EVENTS = 200;
const EVENT_BYTES = 50_000;
const sockets: Socket[] = [];
let h: Harness;
let port: number;
let run: Run;

before(async () => {
  h = await startHarness({ env: { NES_STREAM_BUFFER_BYTES: String(BOUND) } });
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  port = (h.app.server.address() as { port: number }).port;
  const res = await h.app.inject({
    method: 'POST',
    url: '/v1/runs',
    headers: h.auth(),
    payload: { notebook: 'github://acme/notebooks/nb/params.ipynb' },
  });
  run = (await h.store.getRun(res.json().id)) as Run;
});
after(async () => {
  for (const socket of sockets) socket.destroy();
  await h.close();
});

interface Client {
  socket: Socket;
  received: number;
  closed: Promise<void>;
}

/** A raw HTTP/1.1 client: `read: false` pauses the socket right after the request. */
function open(path: string, read: boolean): Promise<Client> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const client: Client = {
      socket,
      received: 0,
      closed: new Promise((done) => socket.once('close', () => done())),
    };
    socket.on('error', () => {});
    socket.once('connect', () => {
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${h.tokens.read}\r\nAccept: text/event-stream\r\n\r\n`,
      );
      socket.once('data', (chunk) => {
        client.received += chunk.length;
        if (read) socket.on('data', (more) => (client.received += more.length));
        else socket.pause();
        resolve(client);
      });
    });
    socket.once('error', reject);
  });
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, fail) =>
      setTimeout(() => fail(new Error(`${what} after ${ms} ms`)), ms),
    ),
  ]);

test('clients that stop reading are dropped at the bound; readers get every event', async () => {
  const baseline = h.bus.listenerCount;
  const slow = await Promise.all([
    ...Array.from({ length: 4 }, () => open('/v1/events', false)),
    ...Array.from({ length: 4 }, () => open(`/v1/runs/${run.id}/events`, false)),
  ]);
  const reader = await open('/v1/events', true);
  assert.equal(h.bus.listenerCount, baseline + 9);

  // 10 MB per stream, one event every few milliseconds (a reader keeps up): past the bound and
  // past what the kernel's socket buffers absorb for a client that does not read.
  const big = 'x'.repeat(EVENT_BYTES);
  for (let i = 0; i < EVENTS; i++) {
    h.bus.publishRun({ ...run, labels: { seq: String(i) }, parameters: { big } });
    await new Promise((done) => setTimeout(done, 5));
  }
  // The server lets go of every slow stream: its bus subscription ends with the connection (the
  // paused client itself only learns of it when it reads again).
  await within(
    (async () => {
      while (h.bus.listenerCount > baseline + 1) await new Promise((done) => setTimeout(done, 20));
    })(),
    10_000,
    'slow consumers still subscribed',
  );
  for (const c of slow) assert.ok(c.received < 2 * BOUND, `read ${c.received} bytes`);

  await within(
    (async () => {
      while (reader.received < EVENTS * EVENT_BYTES)
        await new Promise((done) => setTimeout(done, 20));
    })(),
    10_000,
    'the reading client did not get every event',
  );
  assert.equal(reader.socket.destroyed, false, 'a client that reads is never dropped');
  for (const c of [...slow, reader]) c.socket.destroy();
  await reader.closed;
});

test('a dropped run stream resumes after its Last-Event-ID', async () => {
  await h.store.transition(run.id, 'starting');
  await h.store.transition(run.id, 'running', { startedAt: new Date().toISOString() });
  await h.store.transition(run.id, 'succeeded', { finishedAt: new Date().toISOString() });
  const res = await h.app.inject({
    method: 'GET',
    url: `/v1/runs/${run.id}/events`,
    headers: { ...h.auth(h.tokens.read), 'last-event-id': '2' },
  });
  const ids = [...res.body.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
  assert.ok(ids.length > 0 && ids.every((id) => id > 2), res.body);
  assert.match(res.body, /event: end/);
});

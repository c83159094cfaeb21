/**
 * GcsStore against firebase-tools' Cloud Storage emulator, started in this process, behind a
 * recording proxy that also injects faults and enforces ifGenerationMatch (which the emulator
 * ignores). What the emulator cannot show is asserted on the requests sent.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  failNext,
  type GcsEmulator,
  type GcsProxy,
  type RecordedRequest,
  startGcsEmulator,
  startGcsProxy,
} from '../../../test/servers/gcs/index.ts';
import { GcsStore, type GcsStoreOptions, openStore, StoreError } from '../src/index.ts';

let emulator: GcsEmulator;
let proxy: GcsProxy;
const scratch = mkdtempSync(join(tmpdir(), 'nes-gcs-store-'));

before(async () => {
  emulator = await startGcsEmulator();
  proxy = await startGcsProxy(emulator.url, { enforcePreconditions: true });
  process.env.STORAGE_EMULATOR_HOST = proxy.url;
});
after(async () => {
  await proxy?.stop();
  await emulator?.stop();
  delete process.env.STORAGE_EMULATOR_HOST;
  rmSync(scratch, { recursive: true, force: true });
});
beforeEach(() => {
  proxy.requests.length = 0;
  proxy.setFault(null);
});

/** Fast back-off for tests: delays of 1 s + jitter instead of 2^n s. */
function makeStore(options: Partial<GcsStoreOptions> = {}): GcsStore {
  return new GcsStore({
    bucket: 'nes-test',
    prefix: 'tests',
    retry: { maxRetries: 3, delayMultiplier: 1, maxDelaySeconds: 1 },
    ...options,
  });
}

function toObject(r: RecordedRequest) {
  return `${r.method} ${r.path}`;
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<StoreError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof StoreError, `expected a StoreError, got ${error}`);
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('GCS store on the emulator', () => {
  test('put, get, stat, metadata, content types, delete', async () => {
    const store = makeStore();
    assert.equal(store.uri, 'gs://nes-test/tests/');
    assert.equal(store.uriOf('runs/r1/output.ipynb'), 'gs://nes-test/tests/runs/r1/output.ipynb');
    const info = await store.put('runs/r1/output.ipynb', '{"cells":[]}', {
      metadata: { 'nes-run-id': 'r1', 'nes-status': 'running' },
    });
    assert.equal(info.size, 12);
    assert.ok(info.generation);
    assert.equal((await store.get('runs/r1/output.ipynb')).toString(), '{"cells":[]}');
    const stat = await store.stat('runs/r1/output.ipynb');
    assert.equal(stat?.contentType, 'application/x-ipynb+json');
    assert.deepEqual(stat?.metadata, { 'nes-run-id': 'r1', 'nes-status': 'running' });
    assert.equal(stat?.generation, info.generation);
    assert.equal(await store.stat('runs/r1/missing.ipynb'), null);

    await store.put('runs/r1/manifest.json', '{}');
    await store.put('runs/r1/blob', Buffer.from([0, 1, 2]), {
      contentType: 'application/x-nes-test',
    });
    assert.equal((await store.stat('runs/r1/manifest.json'))?.contentType, 'application/json');
    assert.equal((await store.stat('runs/r1/blob'))?.contentType, 'application/x-nes-test');

    const upload = proxy.requests.find((r) => r.method === 'POST' && r.path.startsWith('/upload/'));
    assert.equal(
      upload?.query.get('uploadType'),
      'multipart',
      'small bodies: one request, not resumable',
    );
    assert.equal(upload?.query.get('name'), 'tests/runs/r1/output.ipynb');

    await store.delete('runs/r1/blob');
    await store.delete('runs/r1/blob'); // idempotent
    await rejectsWith(store.get('runs/r1/blob'), 'not_found');
    const missing = await store.getStream('runs/r1/blob');
    await assert.rejects(
      pipeline(missing, async function* (source) {
        for await (const _ of source) yield _;
      }),
      (error: unknown) => error instanceof StoreError && error.code === 'not_found',
    );
  });

  test('list with a delimiter: objects and common prefixes, paginated', async () => {
    const store = makeStore({ prefix: 'listing', pageSize: 2 });
    const keys = [
      'runs/a/output.ipynb',
      'runs/a/logs/runner.log',
      'runs/b/output.ipynb',
      'runs/c.json',
      'runs/d.json',
      'runs/e.json',
      'top.txt',
    ];
    for (const key of keys) await store.put(key, key, { metadata: { k: key } });
    proxy.requests.length = 0;
    const listing = await store.list('runs/');
    assert.deepEqual(listing.prefixes.sort(), ['runs/a/', 'runs/b/']);
    assert.deepEqual(
      listing.objects.map((o) => o.key),
      ['runs/c.json', 'runs/d.json', 'runs/e.json'],
    );
    assert.equal(listing.objects[0]?.metadata.k, 'runs/c.json');
    const pages = proxy.requests.filter((r) => r.method === 'GET' && r.path === '/b/nes-test/o');
    assert.ok(pages.length >= 2, `paginated (${pages.length} pages)`);
    assert.ok(pages.slice(1).every((r) => r.query.has('pageToken')));
    assert.equal(pages[0]?.query.get('delimiter'), '/');
    assert.equal(pages[0]?.query.get('prefix'), 'listing/runs/');

    const all = await store.list('runs/', { delimiter: '' });
    assert.equal(all.objects.length, 6);
    assert.deepEqual(all.prefixes, []);
    assert.deepEqual((await store.list('')).prefixes, ['runs/']);
  });

  test('streams a 50 MB file up (resumable, one data request) and down', async () => {
    const path = join(scratch, 'fifty.bin');
    const hash = createHash('sha256');
    const out = createWriteStream(path);
    for (let i = 0; i < 50; i += 1) {
      const chunk = Buffer.alloc(1024 * 1024, i);
      hash.update(chunk);
      if (!out.write(chunk))
        await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve) => out.end(() => resolve()));
    const store = makeStore();
    const info = await store.put('big/fifty.bin', createReadStream(path));
    assert.equal(info.size, 50 * 1024 * 1024);
    const sent = proxy.requests.map(toObject);
    assert.deepEqual(sent, [
      'POST /upload/storage/v1/b/nes-test/o',
      'PUT /upload/storage/v1/b/nes-test/o',
    ]);
    assert.equal(proxy.requests[0]?.query.get('uploadType'), 'resumable');
    assert.equal(proxy.requests[1]?.bodyBytes, 50 * 1024 * 1024);

    const down = createHash('sha256');
    let size = 0;
    for await (const chunk of await store.getStream('big/fifty.bin')) {
      down.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    assert.equal(size, 50 * 1024 * 1024);
    assert.equal(down.digest('hex'), hash.digest('hex'));
  });

  test('create-only sends ifGenerationMatch=0 and maps 412 to already_exists', async () => {
    const store = makeStore();
    await store.put('runs/r2/input.ipynb', 'as fetched', { ifNotExists: true });
    const create = proxy.requests.find((r) => r.method === 'POST');
    assert.equal(create?.query.get('ifGenerationMatch'), '0');

    proxy.requests.length = 0;
    const error = await rejectsWith(
      store.put('runs/r2/input.ipynb', 'something else', { ifNotExists: true }),
      'already_exists',
    );
    assert.equal(error.message, 'gs://nes-test/tests/runs/r2/input.ipynb: already exists');
    assert.equal(error.status, 412);
    const posts = proxy.requests.filter((r) => r.method === 'POST');
    assert.equal(posts.length, 1, '412 is not retried');
    assert.equal(posts[0]?.query.get('ifGenerationMatch'), '0');
    assert.equal((await store.get('runs/r2/input.ipynb')).toString(), 'as fetched');

    // The same bytes again (a retry whose first answer was lost) is not a conflict.
    await store.put('runs/r2/input.ipynb', 'as fetched', { ifNotExists: true });

    // Streams: ifGenerationMatch=0 on the resumable session request.
    proxy.requests.length = 0;
    await rejectsWith(
      store.put(
        'runs/r2/input.ipynb',
        createReadStream(join(scratch, 'fifty.bin'), { end: 1000 }),
        { ifNotExists: true },
      ),
      'already_exists',
    );
    assert.equal(proxy.requests[0]?.query.get('uploadType'), 'resumable');
    assert.equal(proxy.requests[0]?.query.get('ifGenerationMatch'), '0');

    // An overwrite carries no precondition.
    proxy.requests.length = 0;
    await store.put('runs/r2/output.ipynb', 'x');
    assert.equal(proxy.requests[0]?.query.has('ifGenerationMatch'), false);
  });

  test('retries 503 and 429 with back-off on reads, lists, deletes and create-only writes', async () => {
    const store = makeStore();
    await store.put('retry/a.txt', 'a');

    proxy.requests.length = 0;
    proxy.setFault(failNext(2, 503, (r) => r.method === 'GET'));
    const started = performance.now();
    assert.equal((await store.get('retry/a.txt')).toString(), 'a');
    const gets = proxy.requests.filter((r) => r.method === 'GET');
    assert.deepEqual(
      gets.map((r) => r.status),
      [503, 503, 200],
    );
    assert.ok(performance.now() - started >= 1500, 'backed off between attempts');

    proxy.requests.length = 0;
    proxy.setFault(failNext(1, 429, (r) => r.path === '/b/nes-test/o'));
    assert.equal((await store.list('retry/')).objects.length, 1);
    assert.deepEqual(
      proxy.requests.map((r) => r.status),
      [429, 200],
    );

    proxy.requests.length = 0;
    proxy.setFault(failNext(1, 503, (r) => r.method === 'POST'));
    await store.put('retry/created.txt', 'once', { ifNotExists: true });
    const posts = proxy.requests.filter((r) => r.method === 'POST');
    assert.deepEqual(
      posts.map((r) => [r.status, r.query.get('ifGenerationMatch')]),
      [
        [503, '0'],
        [200, '0'],
      ],
    );

    proxy.requests.length = 0;
    proxy.setFault(failNext(1, 503, (r) => r.method === 'DELETE'));
    await store.delete('retry/created.txt');
    assert.deepEqual(
      proxy.requests.map((r) => r.status),
      [503, 204],
    );
  });

  test('gives up after maxRetries with store_unavailable', async () => {
    const store = makeStore({ retry: { maxRetries: 1, delayMultiplier: 1, maxDelaySeconds: 1 } });
    proxy.setFault(() => ({ status: 503 }));
    const error = await rejectsWith(store.stat('retry/a.txt'), 'store_unavailable');
    assert.equal(proxy.requests.length, 2);
    assert.match(error.message, /^gs:\/\/nes-test\/tests\/retry\/a\.txt: stat failed \(HTTP 503\)/);
  });

  test('does not retry 404, 403, or an unconditional overwrite', async () => {
    const store = makeStore();
    await rejectsWith(store.get('retry/none.txt'), 'not_found');
    assert.equal(proxy.requests.length, 1);

    proxy.requests.length = 0;
    proxy.setFault(() => ({ status: 403 }));
    const forbidden = await rejectsWith(store.get('retry/a.txt'), 'forbidden');
    assert.equal(proxy.requests.length, 1);
    assert.match(
      forbidden.message,
      /^gs:\/\/nes-test\/tests\/retry\/a\.txt: read refused \(HTTP 403\)/,
    );
    assert.doesNotMatch(forbidden.message, /Bearer|token|key=/i);
    await rejectsWith(store.put('retry/a.txt', 'x', { ifNotExists: true }), 'forbidden');
    await rejectsWith(store.list('retry/'), 'forbidden');
    assert.equal(proxy.requests.length, 3);

    proxy.requests.length = 0;
    proxy.setFault(failNext(1, 503));
    await rejectsWith(store.put('retry/a.txt', 'overwrite'), 'store_unavailable');
    assert.equal(proxy.requests.length, 1, 'an overwrite is the caller’s to retry');
    // ... and the shared client still retries reads afterwards.
    proxy.requests.length = 0;
    proxy.setFault(failNext(1, 503));
    assert.equal((await store.get('retry/a.txt')).toString(), 'a');
    assert.equal(proxy.requests.length, 2);
  });

  test('connection refused is store_unavailable naming the object', async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = 'http://127.0.0.1:9'; // discard port: nothing listens
    try {
      const store = makeStore({ retry: { maxRetries: 0 } });
      const error = await rejectsWith(store.get('x.txt'), 'store_unavailable');
      assert.match(error.message, /^gs:\/\/nes-test\/tests\/x\.txt: read failed/);
    } finally {
      process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });

  test('openStore parses gs:// URIs (the scheme in any case)', async () => {
    const store = await openStore('gs://nes-test/a/b');
    assert.ok(store instanceof GcsStore);
    assert.equal(store.uri, 'gs://nes-test/a/b/');
    assert.equal(((await openStore('gs://nes-test')) as GcsStore).prefix, '');
    assert.equal((await openStore('GS://nes-test/c')).uri, 'gs://nes-test/c/');
    await assert.rejects(openStore('gs://Bad_Bucket/x'), StoreError);
    await assert.rejects(openStore('gs://nes-test/../x'), StoreError);
  });
});

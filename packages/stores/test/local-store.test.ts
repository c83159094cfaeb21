import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { LocalStore, StoreError } from '../src/index.ts';

const scratch = mkdtempSync(join(tmpdir(), 'nes-local-store-'));
after(() => rmSync(scratch, { recursive: true, force: true }));
let counter = 0;
function freshRoot(): string {
  counter += 1;
  const dir = join(scratch, `root${counter}`);
  mkdirSync(dir, { recursive: true });
  return dir;
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

describe('local store: objects', () => {
  test('put, get, stat, metadata, content type, delete', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    const info = await store.put('runs/r1/output.ipynb', '{"cells":[]}', {
      metadata: { 'nes-run-id': 'r1', 'nes-status': 'running' },
    });
    assert.equal(info.size, 12);
    assert.equal(info.contentType, 'application/x-ipynb+json');
    assert.equal(readFileSync(join(root, 'runs/r1/output.ipynb'), 'utf8'), '{"cells":[]}');
    assert.equal((await store.get('runs/r1/output.ipynb')).toString(), '{"cells":[]}');

    const stat = await store.stat('runs/r1/output.ipynb');
    assert.deepEqual(stat?.metadata, { 'nes-run-id': 'r1', 'nes-status': 'running' });
    assert.equal(stat?.contentType, 'application/x-ipynb+json');
    assert.equal(stat?.generation, info.generation);
    assert.equal(await store.stat('runs/r1/missing'), null);
    assert.equal(await store.stat('runs/r1'), null, 'a directory is not an object');

    await store.put('data.bin', new Uint8Array([1, 2, 3]), { contentType: 'application/x-custom' });
    assert.equal((await store.stat('data.bin'))?.contentType, 'application/x-custom');
    assert.equal((await store.stat('data.bin'))?.size, 3);

    await store.delete('runs/r1/output.ipynb');
    await store.delete('runs/r1/output.ipynb'); // idempotent
    assert.equal(await store.stat('runs/r1/output.ipynb'), null);
    await rejectsWith(store.get('runs/r1/output.ipynb'), 'not_found');
    await rejectsWith(store.getStream('runs/r1/output.ipynb'), 'not_found');
    const left = readdirSync(root).sort();
    assert.equal(left.length, 2, 'deleted objects leave no sidecar nor empty directory');
    assert.equal(left[1], 'data.bin');
    assert.match(left[0] ?? '', /^\.nes-meta\.data\.bin\.\d+\.json$/);
  });

  test('overwrite replaces bytes and metadata together; old sidecar removed', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    await store.put('a.txt', 'one', { metadata: { v: '1' } });
    await store.put('a.txt', 'two!', { metadata: { v: '2' }, contentType: 'text/x-two' });
    const stat = await store.stat('a.txt');
    assert.deepEqual([stat?.size, stat?.metadata.v, stat?.contentType], [4, '2', 'text/x-two']);
    assert.equal(readdirSync(root).filter((n) => n.startsWith('.nes-meta')).length, 1);
  });

  test('a file without a sidecar gets a guessed content type and no metadata', async () => {
    const root = freshRoot();
    writeFileSync(join(root, 'by-hand.json'), '{}');
    const stat = await new LocalStore(root).stat('by-hand.json');
    assert.deepEqual([stat?.contentType, stat?.metadata], ['application/json', {}]);
  });

  test('sidecars: false writes the object alone (a plain output file)', async () => {
    const root = freshRoot();
    const store = new LocalStore(root, { sidecars: false });
    await store.put('out.ipynb', '{}', { metadata: { 'nes-run-id': 'r' } });
    await store.put('out.ipynb', '{"a": 1}', { metadata: { 'nes-run-id': 'r' } });
    assert.deepEqual(readdirSync(root), ['out.ipynb']);
    const stat = await store.stat('out.ipynb');
    assert.deepEqual([stat?.contentType, stat?.metadata], ['application/x-ipynb+json', {}]);
  });

  test('streams in and out', async () => {
    const store = new LocalStore(freshRoot());
    const chunks = Array.from({ length: 64 }, (_, i) => Buffer.alloc(16 * 1024, i));
    const info = await store.put('big/blob.bin', Readable.from(chunks));
    assert.equal(info.size, 64 * 16 * 1024);
    const back: Buffer[] = [];
    for await (const chunk of await store.getStream('big/blob.bin')) back.push(chunk as Buffer);
    assert.ok(Buffer.concat(back).equals(Buffer.concat(chunks)));
  });

  test('list: directory-style with a delimiter, recursive without, prefixes mid-name', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    for (const key of [
      'runs/a/output.ipynb',
      'runs/a/logs/runner.log',
      'runs/b/output.ipynb',
      'runs/top.json',
      'other.txt',
    ]) {
      await store.put(key, key, { metadata: { k: key } });
    }
    writeFileSync(join(root, 'runs', '.nes-tmp.leftover'), 'partial'); // a crashed writer's
    const top = await store.list('runs/');
    assert.deepEqual(top.prefixes, ['runs/a/', 'runs/b/']);
    assert.deepEqual(
      top.objects.map((o) => o.key),
      ['runs/top.json'],
    );
    assert.equal(top.objects[0]?.metadata.k, 'runs/top.json');

    const all = await store.list('runs/', { delimiter: '' });
    assert.deepEqual(
      all.objects.map((o) => o.key),
      ['runs/a/logs/runner.log', 'runs/a/output.ipynb', 'runs/b/output.ipynb', 'runs/top.json'],
    );
    assert.deepEqual(all.prefixes, []);
    assert.deepEqual((await store.list('runs/a')).prefixes, ['runs/a/']);
    assert.deepEqual((await store.list('')).prefixes, ['runs/']);
    assert.deepEqual(
      (await store.list('')).objects.map((o) => o.key),
      ['other.txt'],
    );
    assert.deepEqual(await store.list('nothing/here/'), { objects: [], prefixes: [] });

    await store.delete('runs/b/output.ipynb');
    assert.deepEqual((await store.list('runs/')).prefixes, ['runs/a/'], 'empty directories go');
  });

  test('create-only: second write fails already_exists; among racers exactly one wins', async () => {
    const store = new LocalStore(freshRoot());
    await store.put('input.ipynb', 'first', { ifNotExists: true });
    const error = await rejectsWith(
      store.put('input.ipynb', 'second', { ifNotExists: true }),
      'already_exists',
    );
    assert.match(error.message, /input\.ipynb: already exists/);
    assert.equal((await store.get('input.ipynb')).toString(), 'first');

    const results = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        store.put('race.txt', `writer ${i}`, { ifNotExists: true, metadata: { w: String(i) } }),
      ),
    );
    assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    const winner = (await store.stat('race.txt'))?.metadata.w;
    assert.equal((await store.get('race.txt')).toString(), `writer ${winner}`);
  });
});

describe('local store: concurrency and crashes', () => {
  test('concurrent writers to one key: never a torn file, metadata matches the bytes', async () => {
    const store = new LocalStore(freshRoot());
    const size = 1024 * 1024;
    await store.put('shared.bin', Buffer.alloc(size, 0), { metadata: { writer: '0' } });
    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const [bytes, stat] = await Promise.all([
          store.get('shared.bin'),
          store.stat('shared.bin'),
        ]);
        assert.equal(bytes.length, size, 'a reader saw a partial file');
        const first = bytes[0] ?? -1;
        assert.ok(
          bytes.every((b) => b === first),
          'a reader saw bytes of two writers',
        );
        assert.ok(stat !== null);
        reads += 1;
      }
    })();
    const writers = Array.from({ length: 16 }, (_, i) =>
      store.put(
        'shared.bin',
        i % 2
          ? Buffer.alloc(size, i + 1)
          : Readable.from([Buffer.alloc(size / 2, i + 1), Buffer.alloc(size / 2, i + 1)]),
        {
          metadata: { writer: String(i + 1) },
        },
      ),
    );
    await Promise.all(writers);
    writing = false;
    await reader;
    assert.ok(reads > 0);
    const final = await store.get('shared.bin');
    const stat = await store.stat('shared.bin');
    assert.equal(String(final[0]), stat?.metadata.writer, 'metadata of another writer');
    const leftovers = readdirSync(join(store.root)).filter((n) => n.startsWith('.nes-tmp'));
    assert.deepEqual(leftovers, []);
  });

  test('a crash between write and rename leaves the old file; temp ignored, then swept', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    await store.put('runs/r/output.ipynb', 'old complete notebook', { metadata: { v: 'old' } });
    // A child process whose rename() kills the process: the crash happens after the temp file
    // and its sidecar are written and fsynced, before the rename.
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `
        import { createRequire, syncBuiltinESMExports } from 'node:module';
        const require = createRequire(import.meta.url);
        const fsp = require('node:fs/promises');
        const realRename = fsp.rename;
        fsp.rename = async (from, to) => {
          if (to.endsWith('output.ipynb')) process.kill(process.pid, 'SIGKILL');
          return realRename(from, to);
        };
        syncBuiltinESMExports();
        const { LocalStore } = await import(${JSON.stringify(new URL('../src/index.ts', import.meta.url).href)});
        await new LocalStore(${JSON.stringify(root)}).put('runs/r/output.ipynb', 'new half-saved notebook', { metadata: { v: 'new' } });
        `,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(child.signal, 'SIGKILL', child.stderr);
    const dir = join(root, 'runs/r');
    assert.equal(
      readdirSync(dir).filter((n) => n.startsWith('.nes-tmp')).length,
      1,
      'the temp file is there',
    );
    assert.equal((await store.get('runs/r/output.ipynb')).toString(), 'old complete notebook');
    assert.equal((await store.stat('runs/r/output.ipynb'))?.metadata.v, 'old');
    assert.deepEqual(
      (await store.list('runs/r/')).objects.map((o) => o.key),
      ['runs/r/output.ipynb'],
    );

    assert.equal(await store.sweep(60_000), 0, 'young temp files are left to their writer');
    assert.equal(await store.sweep(0), 2, 'the temp file and its orphan sidecar');
    assert.deepEqual(readdirSync(dir).filter((n) => n.startsWith('.nes-')).length, 1);
    assert.equal((await store.stat('runs/r/output.ipynb'))?.metadata.v, 'old', 'live sidecar kept');
  });
});

describe('local store: keys stay inside the root', () => {
  const bad = [
    '../x',
    'a/../../x',
    'a/..',
    '/etc/passwd',
    'a\0b',
    'a//b',
    'a/',
    '.',
    '',
    'C:/x',
    'a\\..\\b',
    '.nes-tmp.x',
    'a/.nes-meta.b',
    'line\nbreak',
  ];
  test('traversal, absolute, NUL and reserved keys are refused for every operation', async () => {
    const root = freshRoot();
    const store = new LocalStore(root);
    for (const key of bad) {
      await rejectsWith(store.put(key, 'x'), 'invalid_key');
      await rejectsWith(store.get(key), 'invalid_key');
      await rejectsWith(store.stat(key), 'invalid_key');
      await rejectsWith(store.delete(key), 'invalid_key');
    }
    await rejectsWith(store.list('../'), 'invalid_key');
    await rejectsWith(store.list('/abs'), 'invalid_key');
    assert.deepEqual(readdirSync(root), []);
  });

  test('symlinks leading out of the root are refused; inside the root they work', async () => {
    const root = freshRoot();
    const outside = freshRoot();
    writeFileSync(join(outside, 'secret.txt'), 'secret');
    symlinkSync(outside, join(root, 'escape'));
    symlinkSync(join(outside, 'secret.txt'), join(root, 'secret-link'));
    const store = new LocalStore(root);

    await rejectsWith(store.put('escape/planted.txt', 'x'), 'invalid_key');
    await rejectsWith(store.put('escape/deeper/planted.txt', 'x'), 'invalid_key');
    assert.deepEqual(readdirSync(outside), ['secret.txt'], 'nothing written outside');
    await rejectsWith(store.get('escape/secret.txt'), 'invalid_key');
    await rejectsWith(store.get('secret-link'), 'invalid_key');
    await rejectsWith(store.stat('secret-link'), 'invalid_key');
    await rejectsWith(store.list('escape/'), 'invalid_key');
    const top = await store.list('');
    assert.deepEqual([top.objects, top.prefixes], [[], []], 'escaping links are not listed');

    mkdirSync(join(root, 'real'));
    symlinkSync(join(root, 'real'), join(root, 'alias'));
    await store.put('alias/ok.txt', 'fine');
    assert.equal((await store.get('real/ok.txt')).toString(), 'fine');
  });
});

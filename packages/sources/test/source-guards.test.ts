/**
 * What a notebook URI must not reach: non-public addresses (in every spelling, and after DNS),
 * redirects that downgrade or loop; and special files under a notebook root, which must never
 * hold one of libuv's threads.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { forbiddenRange, resolveSource, SourceError, type SourceErrorCode } from '../src/index.ts';
import { fastRetry, notebookText } from './helpers.ts';

async function expectCode(promise: Promise<unknown>, code: SourceErrorCode): Promise<SourceError> {
  const outcome = await Promise.race([
    promise.then(
      () => 'resolved',
      (error: unknown) => error,
    ),
    new Promise((done) => setTimeout(() => done('still pending after 5 s'), 5000)),
  ]);
  assert.ok(outcome instanceof SourceError, `expected ${code}, got ${String(outcome)}`);
  assert.equal(outcome.code, code, outcome.message);
  return outcome;
}

describe('https sources reach only public addresses', () => {
  let server: Server;
  let port: number;
  let hits = 0;
  const body = notebookText(['1']);
  before(async () => {
    server = createServer((req, res) => {
      hits++;
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/loop') res.writeHead(302, { location: '/loop' }).end();
      else if (path?.startsWith('/hop/')) {
        const n = Number(path.slice(5));
        res.writeHead(302, { location: n === 0 ? '/nb.ipynb' : `/hop/${n - 1}` }).end();
      } else if (path === '/to-metadata') {
        res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((done) => server.close(done));
  });
  const options = (allowedHosts?: string) => ({
    allowHttp: true,
    retry: fastRetry,
    requestTimeoutMs: 2000,
    ...(allowedHosts === undefined ? {} : { allowedHosts }),
  });

  test('loopback in every spelling, over https and http, is refused before any request', async () => {
    hits = 0;
    for (const host of [
      '127.0.0.1',
      '0x7f.1',
      '2130706433',
      '0177.0.0.1',
      '127.1',
      '[::1]',
      '[::ffff:127.0.0.1]',
      '[::ffff:7f00:1]',
      '0.0.0.0',
      'localhost',
    ]) {
      for (const scheme of ['https', 'http']) {
        const error = await expectCode(
          resolveSource(`${scheme}://${host}:${port}/nb.ipynb`, options()),
          'forbidden_address',
        );
        assert.match(error.message, /NES_SOURCE_ALLOWED_HOSTS/);
      }
    }
    assert.equal(hits, 0, 'the server was never reached');
  });

  test('private, link-local, metadata and shared ranges are refused', async () => {
    for (const url of [
      'https://169.254.169.254/latest/meta-data/',
      'https://[fd00:ec2::254]/latest/meta-data/',
      'https://100.100.100.200/latest/meta-data/',
      'https://10.0.0.1/nb.ipynb',
      'https://172.16.5.4/nb.ipynb',
      'https://192.168.1.1/nb.ipynb',
      'https://[fe80::1]/nb.ipynb',
      'https://[fc00::1]/nb.ipynb',
      'https://[64:ff9b::7f00:1]/nb.ipynb',
    ]) {
      await expectCode(resolveSource(url, options()), 'forbidden_address');
    }
    assert.equal(forbiddenRange('8.8.8.8'), null);
    assert.equal(forbiddenRange('2001:4860:4860::8888'), null);
    assert.equal(forbiddenRange('::ffff:169.254.169.254'), 'linkLocal');
  });

  test('NES_SOURCE_ALLOWED_HOSTS: an IP, a CIDR range or a host name opens the door', async () => {
    for (const allowed of ['127.0.0.1', '127.0.0.0/8', 'localhost, 10.0.0.0/8']) {
      const host = allowed.startsWith('localhost') ? 'localhost' : '127.0.0.1';
      const source = await resolveSource(`http://${host}:${port}/nb.ipynb`, options(allowed));
      assert.equal(source.record.kind, 'https');
    }
    // Allowing one range does not allow another.
    await expectCode(
      resolveSource('https://169.254.169.254/x.ipynb', options('127.0.0.0/8')),
      'forbidden_address',
    );
  });

  test('a redirect to a forbidden address is refused at that hop', async () => {
    const error = await expectCode(
      resolveSource(`http://127.0.0.1:${port}/to-metadata`, options('127.0.0.1')),
      'forbidden_address',
    );
    assert.match(error.message, /169\.254\.169\.254/);
  });

  test('at most 5 redirects; a loop stops with a clear error after 6 requests', async () => {
    const ok = await resolveSource(`http://127.0.0.1:${port}/hop/4`, options('127.0.0.1'));
    assert.equal(ok.record.kind, 'https');
    hits = 0;
    const error = await expectCode(
      resolveSource(`http://127.0.0.1:${port}/loop`, options('127.0.0.1')),
      'redirect_refused',
    );
    assert.match(error.message, /more than 5 times/);
    assert.equal(hits, 6);
  });

  test('an https URL redirected to http:// is refused, never followed', async () => {
    const requested: string[] = [];
    const fakeFetch = (async (url: string) => {
      requested.push(url);
      if (url.startsWith('https://notebooks.example.com/'))
        return new Response(null, {
          status: 302,
          headers: { location: 'http://notebooks.example.com/nb.ipynb' },
        });
      return new Response(body, { status: 200 });
    }) as unknown as typeof fetch;
    const error = await expectCode(
      resolveSource('https://notebooks.example.com/nb.ipynb', {
        ...options(),
        fetch: fakeFetch,
      }),
      'redirect_refused',
    );
    assert.match(error.message, /never follows a redirect from https/);
    assert.deepEqual(requested, ['https://notebooks.example.com/nb.ipynb']);
  });
});

describe('local roots: only regular files, without ever blocking a thread', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'nes-special-'));
    await writeFile(join(root, 'ok.ipynb'), notebookText(['1']));
    execFileSync('mkfifo', [join(root, 'fifo.ipynb')]);
  });
  after(() => rm(root, { recursive: true, force: true }));

  test('a FIFO without a writer is refused at once, and other reads keep going', async () => {
    const options = { localRoots: [root] };
    // More FIFO reads than libuv has threads (4): a blocking open would starve every read.
    const fifos = Array.from({ length: 6 }, () =>
      expectCode(resolveSource(join(root, 'fifo.ipynb'), options), 'not_a_notebook'),
    );
    const ok = await Promise.race([
      resolveSource(join(root, 'ok.ipynb'), options).then(() => 'read'),
      new Promise((done) => setTimeout(() => done('blocked'), 3000)),
    ]);
    assert.equal(ok, 'read');
    const errors = await Promise.all(fifos);
    assert.match(errors[0]?.message ?? '', /not a regular file \(it is a FIFO\)/);
  });

  test('a FIFO with a writer that never writes is refused too', async () => {
    const writer = openSync(join(root, 'fifo.ipynb'), constants.O_RDWR | constants.O_NONBLOCK);
    try {
      await expectCode(
        resolveSource(join(root, 'fifo.ipynb'), { localRoots: [root] }),
        'not_a_notebook',
      );
    } finally {
      closeSync(writer);
    }
  });

  test('a Unix socket and a character device are refused', async () => {
    const socketPath = join(root, 'sock.ipynb');
    const server = createNetServer();
    await new Promise<void>((done) => server.listen(socketPath, done));
    try {
      const error = await expectCode(
        resolveSource(socketPath, { localRoots: [root] }),
        'not_a_notebook',
      );
      assert.match(error.message, /socket/);
    } finally {
      await new Promise((done) => server.close(done));
    }
    const error = await expectCode(
      resolveSource('/dev/zero', { localRoots: ['/dev'] }),
      'not_a_notebook',
    );
    assert.match(error.message, /character device/);
  });
});

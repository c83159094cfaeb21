import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  type GcsObjectReader,
  resolveSource,
  SourceError,
  type SourceErrorCode,
} from '../src/index.ts';
import { fastRetry, notebookText } from './helpers.ts';

async function expectCode(promise: Promise<unknown>, code: SourceErrorCode): Promise<SourceError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof SourceError, String(error));
    assert.equal(error.code, code, error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

describe('local paths under notebook roots', () => {
  let work: string;
  let root: string;
  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'nes-local-'));
    root = join(work, 'root');
    await mkdir(join(root, 'team'), { recursive: true });
    await writeFile(join(root, 'team', 'nb.ipynb'), notebookText(['1 + 1']));
    await writeFile(join(work, 'outside.ipynb'), notebookText(['"secret"']));
    await symlink(join(work, 'outside.ipynb'), join(root, 'team', 'escape.ipynb'));
    await symlink(join(root, 'team', 'nb.ipynb'), join(root, 'alias.ipynb'));
    await symlink(work, join(root, 'up'));
  });
  after(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('inside a root: absolute, relative to cwd, file: URI, and a link that stays inside', async () => {
    const options = { localRoots: [root], cwd: join(root, 'team') };
    for (const uri of [
      join(root, 'team', 'nb.ipynb'),
      'nb.ipynb',
      `file://${join(root, 'team', 'nb.ipynb')}`,
      join(root, 'alias.ipynb'),
    ]) {
      const source = await resolveSource(uri, options);
      assert.equal(source.record.kind, 'local');
      assert.equal(source.record.path, join(root, 'team', 'nb.ipynb'));
      assert.equal(source.localDirectory, join(root, 'team'));
      assert.equal(source.notebook.cells[0]?.source, '1 + 1');
    }
  });

  test('"..", absolute paths elsewhere and links out of the root are refused', async () => {
    const options = { localRoots: [root], cwd: root };
    for (const uri of [
      join(root, '..', 'outside.ipynb'),
      '../outside.ipynb',
      join(work, 'outside.ipynb'),
      '/etc/passwd',
      join(root, 'team', 'escape.ipynb'),
      join(root, 'up', 'outside.ipynb'),
    ]) {
      const error = await expectCode(resolveSource(uri, options), 'local_path_outside_roots');
      assert.match(error.message, /NES_NOTEBOOK_ROOTS/);
    }
    await expectCode(resolveSource(join(root, 'team', 'nb.ipynb'), {}), 'local_path_outside_roots');
  });

  test('missing, a directory, not JSON, too large', async () => {
    await writeFile(join(root, 'notes.txt'), 'hello');
    const options = { localRoots: [root] };
    await expectCode(resolveSource(join(root, 'missing.ipynb'), options), 'path_not_found');
    await expectCode(resolveSource(join(root, 'team'), options), 'not_a_notebook');
    const error = await expectCode(
      resolveSource(join(root, 'notes.txt'), options),
      'not_a_notebook',
    );
    assert.equal(error.details.line, 1);
    await expectCode(
      resolveSource(join(root, 'team', 'nb.ipynb'), { ...options, maxNotebookBytes: 10 }),
      'too_large',
    );
  });
});

describe('https sources', () => {
  let server: Server;
  let base: string;
  let hits = 0;
  let failuresLeft = 0;
  const body = notebookText(['print("over https")']);
  before(async () => {
    server = createServer((req, res) => {
      hits++;
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/flaky.ipynb' && failuresLeft > 0) {
        failuresLeft--;
        res.writeHead(503).end();
        return;
      }
      if (path === '/nb.ipynb' || path === '/flaky.ipynb') {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' }).end(body);
      } else if (path === '/reset.ipynb') {
        req.socket.resetAndDestroy();
      } else if (path === '/forbidden.ipynb') {
        res.writeHead(403).end();
      } else if (path === '/limited.ipynb') {
        res.writeHead(429, { 'retry-after': '30' }).end();
      } else if (path === '/chunked.ipynb') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('x'.repeat(60_000));
        res.end('x'.repeat(60_000));
      } else if (path === '/slow.ipynb') {
        // never answers; the client's timeout ends it
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  const options = () => ({
    allowHttp: true,
    allowedHosts: '127.0.0.1',
    retry: fastRetry,
    requestTimeoutMs: 300,
  });

  test('a plain GET, recorded', async () => {
    const source = await resolveSource(`${base}/nb.ipynb`, options());
    assert.equal(source.record.kind, 'https');
    assert.equal(source.record.etag, '"v1"');
    assert.equal(source.record.commitSha, null);
    assert.equal(source.notebook.cells[0]?.source, 'print("over https")');
    await expectCode(resolveSource(`${base}/nb.ipynb`, { retry: fastRetry }), 'unsupported_source');
  });

  test('5xx, resets and timeouts are retried (bounded); 4xx never', async () => {
    hits = 0;
    failuresLeft = 2;
    await resolveSource(`${base}/flaky.ipynb`, options());
    assert.equal(hits, 3);
    for (const [path, code, attempts] of [
      ['/reset.ipynb', 'source_unavailable', 4],
      ['/slow.ipynb', 'source_unavailable', 4],
      ['/missing.ipynb', 'path_not_found', 1],
      ['/forbidden.ipynb', 'access_denied', 1],
      ['/limited.ipynb', 'rate_limited', 1],
    ] as const) {
      hits = 0;
      const error = await expectCode(resolveSource(`${base}${path}`, options()), code);
      assert.equal(hits, attempts, path);
      if (code === 'rate_limited') assert.ok(typeof error.details.resetAt === 'string');
    }
  });

  test('size cap while streaming, and a query string never shown', async () => {
    const error = await expectCode(
      resolveSource(`${base}/chunked.ipynb?sig=SECRETSIG`, {
        ...options(),
        maxNotebookBytes: 50_000,
      }),
      'too_large',
    );
    assert.ok(!error.message.includes('SECRETSIG'));
  });
});

describe('gs:// sources', () => {
  test('read through the GCS reader, with the generation pinned in the record', async () => {
    const calls: unknown[] = [];
    const gcs: GcsObjectReader = {
      async read(bucket, object, options) {
        calls.push({ bucket, object, ...options });
        if (object === 'missing.ipynb')
          throw new SourceError('path_not_found', 'gs://b/missing.ipynb does not exist');
        return {
          bytes: new TextEncoder().encode(notebookText(['"gcs"'])),
          generation: '1700000000000001',
        };
      },
    };
    const source = await resolveSource('gs://nes-bucket/team/nb.ipynb', { gcs });
    assert.equal(source.record.kind, 'gcs');
    assert.equal(source.record.path, 'team/nb.ipynb');
    assert.equal(
      source.record.pinnedUri,
      'gs://nes-bucket/team/nb.ipynb?generation=1700000000000001',
    );
    assert.deepEqual(calls[0], {
      bucket: 'nes-bucket',
      object: 'team/nb.ipynb',
      generation: null,
      maxBytes: 64 * 1024 * 1024,
    });
    await resolveSource(source.record.pinnedUri, { gcs });
    assert.equal((calls[1] as { generation: string }).generation, '1700000000000001');
    await expectCode(resolveSource('gs://nes-bucket/missing.ipynb', { gcs }), 'path_not_found');
  });
});

/**
 * nes-run end to end across sources and stores: the GitHub test server (a real git repository
 * behind GitHub's REST endpoints), the GCS emulator behind a recording proxy, an HTTPS server with
 * a self-signed certificate, local files and stdin; real python3 kernels.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest } from 'node:http';
import { createServer as createHttpsServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type ObjectStore, openStore } from '@nes/stores';
import {
  type GcsEmulator,
  type GcsProxy,
  startGcsEmulator,
  startGcsProxy,
} from '../../../test/servers/gcs/index.ts';
import { GitRepository } from '../../../test/servers/github/git.ts';
import {
  type GitHubTestServer,
  startGitHubTestServer,
} from '../../../test/servers/github/server.ts';
import { cellSource, type Json, nesRun, tempDir } from './cli-helpers.ts';

const TOKEN = 'ghp_clitesttoken0123456789abcdefABCDEF';
const BUCKET = 'nes-cli-test';
const BROKEN_BUCKET = 'nes-cli-broken';

function notebookText(sources: string[], parameters = false): string {
  return `${JSON.stringify(
    {
      cells: sources.map((source, i) => ({
        cell_type: 'code',
        execution_count: null,
        id: `cell-${i}`,
        metadata: parameters && i === 0 ? { tags: ['parameters'] } : {},
        outputs: [],
        source,
      })),
      metadata: {
        kernelspec: { display_name: 'Python 3', language: 'python', name: 'python3' },
        language_info: { name: 'python' },
      },
      nbformat: 4,
      nbformat_minor: 5,
    },
    null,
    1,
  )}\n`;
}

const HELLO = notebookText(['x = 0', 'print("x is", x)'], true);
const streamText = (nb: Json): string =>
  nb.cells
    .flatMap((c: Json) => (c.cell_type === 'code' ? c.outputs : []))
    .map((o: Json) =>
      o.output_type === 'stream' ? (Array.isArray(o.text) ? o.text.join('') : o.text) : '',
    )
    .join('');

let dir: string;
let repo: GitRepository;
let github: GitHubTestServer;
let headSha: string;
let emulator: GcsEmulator;
let gcsProxy: GcsProxy;
let store: ObjectStore;
let https: Server;
let httpsUrl: string;
let env: NodeJS.ProcessEnv;

before(async () => {
  dir = tempDir();
  repo = await GitRepository.create(join(dir, 'repo'));
  headSha = await repo.commit(
    {
      'nb/hello.ipynb': HELLO,
      'nb/ctx.ipynb': notebookText(['import helper\nprint(helper.greet())']),
      'nb/helper.py': 'def greet():\n    return "hi from the repository"\n',
      'nb/fail.ipynb': notebookText(['x = 0', 'print("before")\n1 / x'], true),
    },
    'first',
  );
  // Later commits (the moving-branch test) land on "moving"; main stays at headSha.
  await repo.checkout('moving', true);
  github = await startGitHubTestServer({
    tokens: [TOKEN],
    repositories: [{ owner: 'acme', name: 'notebooks', git: repo, defaultBranch: 'main' }],
  });

  emulator = await startGcsEmulator();
  gcsProxy = await startGcsProxy(emulator.url, { enforcePreconditions: true });
  gcsProxy.setFault((r) =>
    r.path.includes(`/b/${BROKEN_BUCKET}/`) && r.method !== 'GET' ? { status: 403 } : null,
  );
  process.env.STORAGE_EMULATOR_HOST = gcsProxy.url;
  store = await openStore(`gs://${BUCKET}`);
  await store.put('in/hello.ipynb', HELLO);

  const pki = join(dir, 'pki');
  mkdirSync(pki);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1'],
      ...['-keyout', join(pki, 'key.pem'), '-out', join(pki, 'cert.pem')],
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
    ],
    { stdio: 'ignore' },
  );
  https = createHttpsServer(
    { key: readFileSync(join(pki, 'key.pem')), cert: readFileSync(join(pki, 'cert.pem')) },
    (req, res) => {
      if (req.url === '/nb/hello.ipynb') {
        res.writeHead(200, { 'content-type': 'application/x-ipynb+json' }).end(HELLO);
      } else res.writeHead(404).end('not found');
    },
  );
  await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
  httpsUrl = `https://127.0.0.1:${(https.address() as AddressInfo).port}`;

  env = {
    NES_GITHUB_API_URL: github.url,
    NES_GITHUB_TOKEN: TOKEN,
    STORAGE_EMULATOR_HOST: gcsProxy.url,
    NODE_EXTRA_CA_CERTS: join(pki, 'cert.pem'),
    // The test's HTTPS server is on loopback, which sources refuse unless allowed.
    NES_SOURCE_ALLOWED_HOSTS: '127.0.0.1',
    NES_NOTEBOOK_ROOTS: '',
  };
});

after(async () => {
  await new Promise<void>((resolve) => https.close(() => resolve()));
  await github.close();
  await gcsProxy.stop();
  await emulator.stop();
});

const run = (args: string[], options: { stdin?: string; env?: NodeJS.ProcessEnv } = {}) =>
  nesRun([...args, '--no-progress-bar'], { stdin: options.stdin, env: { ...env, ...options.env } });
const gcsJson = async (key: string): Promise<Json> => JSON.parse((await store.get(key)).toString());
const localJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8'));

function assertRan(nb: Json, x: string): void {
  assert.equal(cellSource(nb.cells[1]), `# Parameters\nx = ${x}\n`);
  assert.match(streamText(nb), new RegExp(`x is ${x}\\n`));
}

function assertNoToken(...texts: string[]): void {
  for (const text of texts) assert.ok(!text.includes(TOKEN), 'the GitHub token leaked');
}

describe('nes-run: sources x destinations', { concurrency: 2 }, () => {
  test('github:// to gs:// with -p: output in the bucket, pinned commit recorded', async () => {
    const uri = 'github://acme/notebooks/nb/hello.ipynb';
    const r = await run([uri, `gs://${BUCKET}/out/headline.ipynb`, '-p', 'x', '1']);
    assert.equal(r.code, 0, r.stderr);
    const nb = await gcsJson('out/headline.ipynb');
    assertRan(nb, '1');
    assert.equal(nb.metadata.papermill.input_path, uri);
    assert.equal(nb.metadata.papermill.output_path, `gs://${BUCKET}/out/headline.ipynb`);
    assert.deepEqual(nb.metadata.nes.source, {
      uri,
      ref: 'main',
      commitSha: headSha,
      pinnedUri: `github://acme/notebooks/nb/hello.ipynb?ref=${headSha}`,
    });
    const info = await store.stat('out/headline.ipynb');
    assert.equal(info?.contentType, 'application/x-ipynb+json');
    assert.equal(info?.metadata['nes-status'], 'succeeded');
    assertNoToken(r.stderr, JSON.stringify(nb));
  });

  test('GitHub blob URL to a local path; gs:// to stdout', async () => {
    const out = join(dir, 'blob', 'out.ipynb');
    const blob = `${github.url}/acme/notebooks/blob/main/nb/hello.ipynb`;
    const r = await run([blob, out, '-p', 'x', '2']);
    assert.equal(r.code, 0, r.stderr);
    const nb = localJson(out);
    assertRan(nb, '2');
    assert.equal(nb.metadata.nes.source.commitSha, headSha);
    assert.equal(nb.metadata.papermill.input_path, blob);

    const s = await run([`gs://${BUCKET}/in/hello.ipynb`, '-', '-p', 'x', '3']);
    assert.equal(s.code, 0, s.stderr);
    const fromStdout = JSON.parse(s.stdout);
    assertRan(fromStdout, '3');
    assert.match(fromStdout.metadata.nes.source.pinnedUri, /\?generation=\d+$/);
  });

  test('https:// to gs:// with a templated path; local to gs://; stdin to a local path', async () => {
    const h = await run([
      `${httpsUrl}/nb/hello.ipynb`,
      `gs://${BUCKET}/out/{x}.ipynb`,
      '-p',
      'x',
      '4',
    ]);
    assert.equal(h.code, 0, h.stderr);
    assertRan(await gcsJson('out/4.ipynb'), '4');

    const local = join(dir, 'local-hello.ipynb');
    writeFileSync(local, HELLO);
    const l = await run([local, `gs://${BUCKET}/out/local.ipynb`, '-p', 'x', '5']);
    assert.equal(l.code, 0, l.stderr);
    const nb = await gcsJson('out/local.ipynb');
    assertRan(nb, '5');
    assert.equal(nb.metadata.nes.source.pinnedUri, local);

    const out = join(dir, 'stdin-out.ipynb');
    const s = await run(['-', out, '-p', 'x', '6'], { stdin: HELLO });
    assert.equal(s.code, 0, s.stderr);
    const fromStdin = localJson(out);
    assertRan(fromStdin, '6');
    assert.deepEqual(fromStdin.metadata.nes.source, {
      uri: '-',
      ref: null,
      commitSha: null,
      pinnedUri: null,
    });
    // A plain local OUTPUT is just the file, as papermill writes it.
    assert.ok(
      !readFileSync(join(dir, 'stdin-out.ipynb')).toString().includes('nes-run-id'),
      'no store metadata in the notebook',
    );
  });

  test('--store --run-id on GCS: input as fetched, output, manifest, log', async () => {
    const uri = 'github://acme/notebooks/nb/hello.ipynb?ref=main';
    const r = await run([
      uri,
      '--store',
      `gs://${BUCKET}/nes`,
      '--run-id',
      'run-ok',
      '-p',
      'x',
      '7',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const input = await store.get('nes/runs/run-ok/input.ipynb');
    assert.equal(input.toString(), HELLO, 'input.ipynb is the notebook exactly as fetched');
    const nb = await gcsJson('nes/runs/run-ok/output.ipynb');
    assertRan(nb, '7');
    assert.equal(nb.metadata.nes.runId, 'run-ok');
    const manifest = await gcsJson('nes/runs/run-ok/manifest.json');
    assert.equal(manifest.status, 'succeeded');
    assert.equal(manifest.runId, 'run-ok');
    assert.equal(manifest.source.uri, uri);
    assert.equal(manifest.source.ref, 'main');
    assert.equal(manifest.source.commitSha, headSha);
    assert.equal(manifest.error, null);
    assert.deepEqual(manifest.parameters, { x: 7 });
    assert.equal(manifest.kernel, 'python3');
    assert.ok(manifest.timings.startedAt && manifest.timings.finishedAt);
    assert.deepEqual(manifest.artifacts, {
      input: `gs://${BUCKET}/nes/runs/run-ok/input.ipynb`,
      output: `gs://${BUCKET}/nes/runs/run-ok/output.ipynb`,
      manifest: `gs://${BUCKET}/nes/runs/run-ok/manifest.json`,
      log: `gs://${BUCKET}/nes/runs/run-ok/logs/runner.log`,
    });
    const log = (await store.get('nes/runs/run-ok/logs/runner.log')).toString();
    assert.match(log, /INFO Input Notebook: {2}github:\/\/acme/);
    assert.match(log, /nes-run: succeeded in/);
    assertNoToken(r.stderr, log, JSON.stringify(manifest));
    // The input is create-only (the emulator ignores preconditions on multipart uploads: check
    // what was sent; the local store test below checks the refusal).
    const inputUpload = gcsProxy.requests.find(
      (q) =>
        q.method === 'POST' &&
        q.path === `/upload/storage/v1/b/${BUCKET}/o` &&
        q.query.get('ifGenerationMatch') === '0',
    );
    assert.ok(inputUpload, 'the input is written create-only (ifGenerationMatch=0)');
  });

  test('--store on a local directory with a cell error, and --manifest beside OUTPUT', async () => {
    const runs = join(dir, 'store');
    const out = join(dir, 'fail-out.ipynb');
    const manifestPath = join(dir, 'fail-manifest.json');
    const r = await run([
      'github://acme/notebooks/nb/fail.ipynb',
      out,
      '--store',
      runs,
      '--run-id',
      'run-fail',
      '--manifest',
      manifestPath,
    ]);
    assert.equal(r.code, 1, r.stderr);
    const base = join(runs, 'runs', 'run-fail');
    assert.equal(
      readFileSync(join(base, 'input.ipynb'), 'utf8'),
      notebookText(['x = 0', 'print("before")\n1 / x'], true),
    );
    const output = localJson(join(base, 'output.ipynb'));
    assert.equal(output.metadata.papermill.exception, true);
    assert.deepEqual(localJson(out).cells.length, output.cells.length, 'OUTPUT gets a copy');
    for (const manifest of [localJson(join(base, 'manifest.json')), localJson(manifestPath)]) {
      assert.equal(manifest.status, 'failed');
      assert.equal(manifest.error.class, 'cell_error');
      assert.equal(manifest.error.ename, 'ZeroDivisionError');
      assert.equal(manifest.source.commitSha, headSha);
      assert.equal(manifest.extra.exitCode, 1);
      assert.match(manifest.artifacts.output, /^file:\/\/.*runs\/run-fail\/output\.ipynb$/);
    }
    assert.match(readFileSync(join(base, 'logs', 'runner.log'), 'utf8'), /ZeroDivisionError/);
    // A second attempt of the run (a replacement pod) may run the same input again...
    const retry = await run([
      'github://acme/notebooks/nb/fail.ipynb',
      '--store',
      runs,
      '--run-id',
      'run-fail',
    ]);
    assert.equal(retry.code, 1, retry.stderr);
    // ...but a run id never takes another input: the stored input is create-only.
    const other = await run([
      'github://acme/notebooks/nb/hello.ipynb',
      '--store',
      runs,
      '--run-id',
      'run-fail',
    ]);
    assert.equal(other.code, 2, other.stderr);
    assert.match(other.stderr, /--run-id run-fail: .* already exists/);
  });

  test('--context: a notebook imports its sibling module, at the commit pinned before the branch moved', async () => {
    // A proxy in front of the GitHub server moves the branch right after the ref is resolved.
    let moved = '';
    const proxy = createHttpServer((req, res) => {
      const target = new URL(github.url);
      const upstream = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        async (answer) => {
          if (req.url?.includes('/commits/moving') && moved === '') {
            moved = await repo.commit(
              {
                'nb/ctx.ipynb': notebookText(['print("moved")']),
                'nb/helper.py': 'def greet():\n    return "moved"\n',
              },
              'moved',
            );
          }
          const location = answer.headers.location?.replace(github.url, proxyUrl);
          res.writeHead(answer.statusCode ?? 502, {
            ...answer.headers,
            ...(location ? { location } : {}),
          });
          answer.pipe(res);
        },
      );
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    try {
      const out = join(dir, 'ctx-out.ipynb');
      const r = await run(
        ['github://acme/notebooks/nb/ctx.ipynb', out, '--ref', 'moving', '--context'],
        { env: { NES_GITHUB_API_URL: proxyUrl } },
      );
      assert.equal(r.code, 0, r.stderr);
      assert.notEqual(moved, '', 'the branch moved during the run');
      const nb = localJson(out);
      assert.equal(streamText(nb), 'hi from the repository\n');
      assert.equal(nb.metadata.nes.source.ref, 'moving');
      assert.equal(nb.metadata.nes.source.commitSha, headSha);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});

describe('nes-run: source and store errors', { concurrency: 3 }, () => {
  const cases: Array<[string, string, string[]]> = [
    ['missing repository', 'repository_not_found', ['github://acme/nope/nb/hello.ipynb']],
    [
      'missing ref',
      'ref_not_found',
      ['github://acme/notebooks/nb/hello.ipynb', '--ref', 'no-such-branch'],
    ],
    ['missing path', 'path_not_found', ['github://acme/notebooks/nb/missing.ipynb']],
  ];
  for (const [name, code, args] of cases) {
    test(`${name}: exit 3 with ${code}, nothing written`, async () => {
      const out = `gs://${BUCKET}/never/${code}.ipynb`;
      const local = join(dir, `never-${code}.ipynb`);
      const r = await run([...(args as [string, ...string[]]), out]);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, new RegExp(`nes-run: error: ${code}: `));
      assert.equal(await store.stat(`never/${code}.ipynb`), null);
      const l = await run([...args.slice(0, 1), local, ...args.slice(1)]);
      assert.equal(l.code, 3, l.stderr);
      assert.equal(existsSync(local), false);
      assertNoToken(r.stderr, l.stderr);
    });
  }

  test('a source error with --store: manifest records it, no output', async () => {
    const runs = join(dir, 'store-errors');
    const r = await run([
      'github://acme/notebooks/nb/missing.ipynb',
      '--store',
      runs,
      '--run-id',
      'run-missing',
    ]);
    assert.equal(r.code, 3, r.stderr);
    const base = join(runs, 'runs', 'run-missing');
    const manifest = localJson(join(base, 'manifest.json'));
    assert.equal(manifest.status, 'failed');
    assert.equal(manifest.error.class, 'source');
    assert.equal(manifest.error.ename, 'path_not_found');
    assert.equal(manifest.artifacts.input, null);
    assert.equal(manifest.artifacts.output, null);
    assert.equal(existsSync(join(base, 'output.ipynb')), false);
  });

  test('a GCS destination that refuses writes: exit 7, clear message, a local copy kept', async () => {
    const r = await run([
      'github://acme/notebooks/nb/hello.ipynb',
      `gs://${BROKEN_BUCKET}/out.ipynb`,
      '-p',
      'x',
      '8',
    ]);
    assert.equal(r.code, 7, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`Could not save the notebook to gs://${BROKEN_BUCKET}/out\\.ipynb`),
    );
    const copy = /a copy is at (\S+\.ipynb)/.exec(r.stderr)?.[1];
    assert.ok(copy, r.stderr);
    assertRan(localJson(copy), '8');
  });
});

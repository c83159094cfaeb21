import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { GitRepository } from '../../../test/servers/github/git.ts';
import {
  type GitHubTestServer,
  startGitHubTestServer,
} from '../../../test/servers/github/server.ts';
import {
  type ContextOptions,
  fetchRepositoryContext,
  GitHubClient,
  type ResolveOptions,
  resolveSource,
  SourceError,
  type SourceErrorCode,
  sourceOptionsFromEnv,
} from '../src/index.ts';
import { craftTarball, fastRetry, notebookText } from './helpers.ts';

const TOKEN = 'ghp_testtoken0123456789abcdefABCDEF0123';

let work: string;
let server: GitHubTestServer;
let repo: GitRepository;
let secret: GitRepository;
let firstSha: string;
let tagSha: string;
let featureSha: string;

const hello = notebookText(['import helper\nprint(helper.greet())']);

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'nes-github-'));
  repo = await GitRepository.create(join(work, 'repo'));
  firstSha = await repo.commit(
    {
      'nb/hello.ipynb': hello,
      'nb/helper.py': 'def greet():\n    return "hi"\n',
      'nb/broken.ipynb': '{"cells": [\n  1,\n',
      'nb/invalid.ipynb': JSON.stringify({
        nbformat: 4,
        nbformat_minor: 5,
        metadata: {},
        cells: [{ cell_type: 'bogus' }],
      }),
      'nb/big.ipynb': notebookText([`x = "${'a'.repeat(1_500_000)}"`]),
      'nb/data.csv': { symlink: '../data/table.csv' },
      'data/table.csv': 'a,b\n1,2\n',
      'README.md': '# notebooks\n',
    },
    'first',
  );
  await repo.tag('v1');
  tagSha = firstSha;
  await repo.checkout('feature/x', true);
  featureSha = await repo.commit(
    { 'nb/hello.ipynb': notebookText(['print("feature")']) },
    'feature',
  );
  await repo.checkout('main');
  await repo.commit({ 'nb/hello.ipynb': notebookText(['print("main v2")']) }, 'second');
  secret = await GitRepository.create(join(work, 'secret'));
  await secret.commit({ 'a.ipynb': notebookText(['1']), 'lib.py': 'X = 1\n' }, 'secret');
  server = await startGitHubTestServer({
    tokens: [TOKEN],
    repositories: [
      { owner: 'acme', name: 'notebooks', git: repo },
      { owner: 'acme', name: 'secret', git: secret, private: true },
    ],
  });
});

after(async () => {
  await server.close();
  await rm(work, { recursive: true, force: true });
});

beforeEach(() => {
  server.resetFaults();
  server.requests.length = 0;
});

function options(extra: ResolveOptions & ContextOptions = {}): ResolveOptions & ContextOptions {
  return { githubApiUrl: server.url, githubToken: TOKEN, retry: fastRetry, ...extra };
}

async function expectCode(promise: Promise<unknown>, code: SourceErrorCode): Promise<SourceError> {
  let caught: unknown;
  await promise.then(
    () => assert.fail(`expected ${code}`),
    (error: unknown) => {
      caught = error;
    },
  );
  assert.ok(caught instanceof SourceError, `expected SourceError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.equal(caught.class, 'source');
  assert.ok(!caught.message.includes(TOKEN) && !JSON.stringify(caught.details).includes(TOKEN));
  return caught;
}

const apiCalls = () => server.requests.filter((r) => r.path.startsWith('/repos/')).length;

describe('ref resolution', () => {
  test('no ref: the default branch, pinned to its commit', async () => {
    const head = (await repo.git('rev-parse', 'main')).trim();
    const source = await resolveSource('github://acme/notebooks/nb/hello.ipynb', options());
    assert.equal(source.record.kind, 'github');
    assert.equal(source.record.ref, 'main');
    assert.equal(source.record.commitSha, head);
    assert.equal(source.record.path, 'nb/hello.ipynb');
    assert.equal(source.record.repository, 'acme/notebooks');
    assert.equal(source.record.pinnedUri, `github://acme/notebooks/nb/hello.ipynb?ref=${head}`);
    assert.equal(source.notebook.cells[0]?.source, 'print("main v2")');
    // repository, commit, contents: one resolution, then reads at the SHA.
    const paths = server.requests.map((r) => r.path);
    assert.deepEqual(paths, [
      '/repos/acme/notebooks',
      '/repos/acme/notebooks/commits/main',
      '/repos/acme/notebooks/contents/nb%2Fhello.ipynb',
    ]);
    assert.ok(server.requests.every((r) => r.authorized));
  });

  test('branch, tag, full and short SHA, and the ref option', async () => {
    const cases: [string, ResolveOptions, string, string][] = [
      ['github://acme/notebooks/nb/hello.ipynb?ref=feature/x', {}, featureSha, 'print("feature")'],
      [
        'github://acme/notebooks/nb/hello.ipynb?ref=v1',
        {},
        tagSha,
        'import helper\nprint(helper.greet())',
      ],
      [
        `github://acme/notebooks/nb/hello.ipynb?ref=${firstSha}`,
        {},
        firstSha,
        'import helper\nprint(helper.greet())',
      ],
      [
        'github://acme/notebooks/nb/hello.ipynb',
        { ref: firstSha.slice(0, 8) },
        firstSha,
        'import helper\nprint(helper.greet())',
      ],
    ];
    for (const [uri, extra, sha, source] of cases) {
      const resolved = await resolveSource(uri, options(extra));
      assert.equal(resolved.record.commitSha, sha, uri);
      assert.equal(resolved.notebook.cells[0]?.source, source, uri);
    }
  });

  test('a branch that moves after resolution: every read stays at the resolved commit', async () => {
    const before = (await repo.git('rev-parse', 'main')).trim();
    let moved = '';
    // Push to main right after the server answered the commit lookup.
    const movingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (String(input).includes('/commits/main') && moved === '') {
        moved = await repo.commit({ 'nb/hello.ipynb': notebookText(['print("moved")']) }, 'moved');
      }
      return response;
    };
    const source = await resolveSource(
      'github://acme/notebooks/nb/hello.ipynb',
      options({ fetch: movingFetch }),
    );
    assert.notEqual(moved, '');
    assert.equal(source.record.commitSha, before);
    assert.equal(source.notebook.cells[0]?.source, 'print("main v2")');
    // The pinned URI and the context read the same commit although main has moved.
    const again = await resolveSource(source.record.pinnedUri, options());
    assert.equal(again.record.commitSha, before);
    assert.equal(again.notebook.cells[0]?.source, 'print("main v2")');
    const context = await fetchRepositoryContext(
      source.record,
      join(work, 'moved-context'),
      options(),
    );
    assert.match(await readFile(join(context.workingDirectory, 'hello.ipynb'), 'utf8'), /main v2/);
    await repo.git('reset', '-q', '--hard', before);
  });

  test('github.com blob URLs: the longest existing ref wins when the ref has slashes', async () => {
    const web = server.url;
    const source = await resolveSource(
      `${web}/acme/notebooks/blob/feature/x/nb/hello.ipynb`,
      options(),
    );
    assert.equal(source.record.ref, 'feature/x');
    assert.equal(source.record.path, 'nb/hello.ipynb');
    assert.equal(source.record.commitSha, featureSha);
    // "feature/x/nb" is tried first (not found), then "feature/x".
    const lookups = server.requests.filter((r) => r.path.includes('/commits/')).map((r) => r.path);
    assert.deepEqual(lookups, [
      '/repos/acme/notebooks/commits/feature%2Fx%2Fnb',
      '/repos/acme/notebooks/commits/feature%2Fx',
    ]);
    const plain = await resolveSource(`${web}/acme/notebooks/blob/v1/nb/hello.ipynb`, options());
    assert.equal(plain.record.commitSha, tagSha);
    const error = await expectCode(
      resolveSource(`${web}/acme/notebooks/blob/nope/x/nb.ipynb`, options()),
      'ref_not_found',
    );
    assert.match(error.message, /"nope\/x", "nope"/);
  });
});

describe('content', () => {
  test('a notebook over 1 MB is read through the git blobs API', async () => {
    const source = await resolveSource('github://acme/notebooks/nb/big.ipynb?ref=v1', options());
    assert.ok(source.bytes.byteLength > 1_500_000);
    assert.equal(source.notebook.cells[0]?.source.length, 1_500_006);
    const blob = server.requests.find((r) => r.path.includes('/git/blobs/'));
    assert.ok(blob !== undefined, 'read the blob');
    assert.match(blob.accept, /raw/);
  });

  test('token from NES_GITHUB_TOKEN_FILE (trimmed) reads a private repository', async () => {
    const file = join(work, 'token');
    await writeFile(file, `  ${TOKEN}\n`);
    const env = {
      NES_GITHUB_API_URL: server.url,
      NES_GITHUB_TOKEN_FILE: file,
      NES_NOTEBOOK_ROOTS: '/a:/b',
    };
    const fromEnv = sourceOptionsFromEnv(env);
    assert.equal(fromEnv.githubToken, TOKEN);
    assert.deepEqual(fromEnv.localRoots, ['/a', '/b']);
    const source = await resolveSource('github://acme/secret/a.ipynb', {
      ...fromEnv,
      retry: fastRetry,
    });
    assert.equal(source.record.ref, 'main');
    assert.throws(
      () => sourceOptionsFromEnv({ NES_GITHUB_TOKEN_FILE: join(work, 'missing') }),
      /NES_GITHUB_TOKEN_FILE/,
    );
  });
});

describe('errors', () => {
  test('repository_not_found: unknown, or private without access', async () => {
    let error = await expectCode(
      resolveSource('github://acme/nope/nb.ipynb', options()),
      'repository_not_found',
    );
    assert.match(error.message, /acme\/nope not found, or no access/);
    error = await expectCode(
      resolveSource('github://acme/secret/a.ipynb', options({ githubToken: undefined })),
      'repository_not_found',
    );
    assert.match(error.message, /NES_GITHUB_TOKEN/);
    assert.equal(apiCalls(), 2, 'a 404 is never retried');
  });

  test('github_unauthorized: a wrong token (401), never echoed', async () => {
    const bad = 'ghp_wrongtoken_wrongtoken_wrongtoken00';
    const error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb', options({ githubToken: bad })),
      'github_unauthorized',
    );
    assert.ok(!error.message.includes(bad) && !error.stack?.includes(bad));
    assert.match(error.message, /Bad credentials/);
    assert.equal(apiCalls(), 1);
  });

  test('github_forbidden: a 403 that is not a rate limit', async () => {
    server.faults.status = 403;
    const error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb', options()),
      'github_forbidden',
    );
    assert.match(error.message, /read access/);
    assert.equal(apiCalls(), 1);
  });

  test('rate_limited: primary (x-ratelimit-reset) and secondary (retry-after), not retried', async () => {
    const reset = Math.floor(Date.now() / 1000) + 1234;
    server.faults.rateLimitResetAt = reset;
    let error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb', options()),
      'rate_limited',
    );
    assert.equal(error.details.resetAt, new Date(reset * 1000).toISOString());
    assert.ok(error.message.includes(new Date(reset * 1000).toISOString()));
    assert.equal(error.transient, true);
    assert.equal(apiCalls(), 1);
    server.resetFaults();
    server.faults.secondaryRetryAfter = 60;
    error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb', options()),
      'rate_limited',
    );
    assert.equal(error.details.retryAfterSeconds, 60);
  });

  test('ref_not_found and path_not_found', async () => {
    let error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb?ref=no-such-branch', options()),
      'ref_not_found',
    );
    assert.match(error.message, /"no-such-branch"/);
    error = await expectCode(
      resolveSource('github://acme/notebooks/nb/missing.ipynb', options()),
      'path_not_found',
    );
    assert.match(
      error.message,
      /nb\/missing\.ipynb not found in acme\/notebooks at commit [0-9a-f]{40}/,
    );
  });

  test('not_a_notebook: invalid JSON (line, column), invalid nbformat (JSON path), a directory', async () => {
    let error = await expectCode(
      resolveSource('github://acme/notebooks/nb/broken.ipynb', options()),
      'not_a_notebook',
    );
    assert.equal(error.details.line, 3);
    error = await expectCode(
      resolveSource('github://acme/notebooks/nb/invalid.ipynb', options()),
      'not_a_notebook',
    );
    assert.equal(error.details.path, 'cells[0].cell_type');
    assert.match(error.message, /is not a valid notebook: cells\[0\]\.cell_type/);
    error = await expectCode(
      resolveSource('github://acme/notebooks/nb', options()),
      'not_a_notebook',
    );
    assert.match(error.message, /directory/);
    error = await expectCode(
      resolveSource('github://acme/notebooks/nb/data.csv?ref=v1', options()),
      'not_a_notebook',
    );
    assert.match(error.message, /symlink to \.\.\/data\/table\.csv/);
  });

  test('too_large: over the notebook cap, from the size GitHub reports', async () => {
    const error = await expectCode(
      resolveSource(
        'github://acme/notebooks/nb/big.ipynb?ref=v1',
        options({ maxNotebookBytes: 1_000_000 }),
      ),
      'too_large',
    );
    assert.equal(error.details.maxBytes, 1_000_000);
    assert.ok(!server.requests.some((r) => r.path.includes('/git/blobs/')), 'never downloaded');
  });
});

describe('retries', () => {
  test('5xx and connection resets are retried with back-off, then succeed', async () => {
    server.faults.serverErrors = 2;
    await resolveSource('github://acme/notebooks/nb/hello.ipynb', options());
    assert.equal(apiCalls(), 3 + 2);
    server.resetFaults();
    server.requests.length = 0;
    server.faults.resetConnections = 2;
    await resolveSource('github://acme/notebooks/nb/hello.ipynb', options());
    assert.equal(apiCalls(), 3 + 2);
  });

  test('bounded: after 4 attempts, source_unavailable', async () => {
    server.faults.serverErrors = 100;
    server.faults.serverErrorStatus = 502;
    const error = await expectCode(
      resolveSource('github://acme/notebooks/nb/hello.ipynb', options()),
      'source_unavailable',
    );
    assert.equal(error.details.attempts, 4);
    assert.equal(error.transient, true);
    assert.equal(apiCalls(), 4);
  });
});

describe('repository context', () => {
  test('the repository at the commit, with sibling modules and in-repo links', async () => {
    const source = await resolveSource('github://acme/notebooks/nb/hello.ipynb?ref=v1', options());
    const dir = join(work, 'context-v1');
    const context = await fetchRepositoryContext(source.record, dir, options());
    assert.equal(context.workingDirectory, join(dir, 'nb'));
    assert.equal(
      await readFile(join(context.workingDirectory, 'helper.py'), 'utf8'),
      'def greet():\n    return "hi"\n',
    );
    assert.equal(await readFile(join(context.workingDirectory, 'data.csv'), 'utf8'), 'a,b\n1,2\n');
    assert.deepEqual(context.skipped, []);
    const tarball = server.requests.find((r) => r.path.includes('/tarball/'));
    assert.equal(tarball?.path, `/repos/acme/notebooks/tarball/${firstSha}`);
    assert.equal(tarball?.status, 302);
    assert.ok(server.requests.some((r) => r.path.startsWith('/_codeload/') && r.status === 200));
  });

  test('a subdirectory only; a private repository through its download token', async () => {
    const source = await resolveSource('github://acme/secret/a.ipynb', options());
    const dir = join(work, 'context-secret');
    const context = await fetchRepositoryContext(source.record, dir, options());
    assert.deepEqual((await readdir(dir)).sort(), ['a.ipynb', 'lib.py']);
    assert.equal(context.workingDirectory, dir);
    const sub = await fetchRepositoryContext(
      (await resolveSource('github://acme/notebooks/nb/hello.ipynb?ref=v1', options())).record,
      join(work, 'context-sub'),
      options({ subdirectory: 'data' }),
    );
    assert.deepEqual(await readdir(sub.dir), ['data']);
  });

  test('a dropped download is retried whole; a crafted archive cannot escape', async () => {
    const source = await resolveSource('github://acme/notebooks/nb/hello.ipynb?ref=v1', options());
    server.faults.only = /^\/_codeload\//;
    server.faults.resetConnections = 1;
    const retried = await fetchRepositoryContext(
      source.record,
      join(work, 'context-retry'),
      options(),
    );
    assert.equal(retried.files > 0, true);
    assert.equal(server.requests.filter((r) => r.path.startsWith('/_codeload/')).length, 2);

    server.resetFaults();
    server.faults.tarball = craftTarball([
      { name: 'acme-notebooks-abc/../../evil.txt', content: 'pwned' },
      { name: 'acme-notebooks-abc/link', type: 'symlink', linkname: '/etc' },
      { name: 'acme-notebooks-abc/ok.py', content: 'ok' },
    ]);
    const dir = join(work, 'crafted', 'ctx');
    const crafted = await fetchRepositoryContext(source.record, dir, options());
    assert.deepEqual(await readdir(dir), ['ok.py']);
    assert.deepEqual(await readdir(dirname(dir)), ['ctx']);
    assert.deepEqual(crafted.skipped.map((s) => s.path).sort(), [
      'acme-notebooks-abc/../../evil.txt',
      'link',
    ]);
  });

  test('too_large while streaming', async () => {
    const source = await resolveSource('github://acme/notebooks/nb/hello.ipynb?ref=v1', options());
    const dir = join(work, 'context-small');
    await expectCode(
      fetchRepositoryContext(source.record, dir, options({ maxContextBytes: 100_000 })),
      'too_large',
    );
    await assert.rejects(readdir(dir));
  });

  test('only for GitHub sources', async () => {
    await expectCode(
      fetchRepositoryContext(
        {
          uri: 'x',
          kind: 'local',
          ref: null,
          commitSha: null,
          path: '/x',
          pinnedUri: '/x',
          size: 0,
          sha256: '',
        },
        join(work, 'nope'),
      ),
      'unsupported_source',
    );
  });
});

describe('test server shapes match recorded GitHub responses (@octokit/fixtures)', () => {
  const require = createRequire(import.meta.url);
  const scenario = (name: string) =>
    require(`@octokit/fixtures/scenarios/api.github.com/${name}/normalized-fixture.json`) as {
      method: string;
      path: string;
      status: number;
      response: unknown;
      headers: Record<string, string | number>;
    }[];
  const keysOf = (value: unknown) => Object.keys(value as object).sort();
  const get = async (path: string, accept = 'application/vnd.github.v3+json') => {
    const response = await fetch(`${server.url}${path}`, {
      headers: { accept, authorization: `token ${TOKEN}` },
      redirect: 'manual',
    });
    return {
      response,
      body: response.headers.get('content-type')?.includes('json')
        ? await response.json()
        : await response.text(),
    };
  };

  test('repository: every key NES reads, with the same types', async () => {
    const recorded = scenario('get-repository')[0]?.response as Record<string, unknown>;
    const { body } = await get('/repos/acme/notebooks');
    const ours = body as Record<string, unknown>;
    for (const key of [
      'full_name',
      'default_branch',
      'private',
      'name',
      'owner',
      'id',
      'url',
      'html_url',
    ]) {
      assert.ok(key in recorded, key);
      assert.equal(typeof ours[key], typeof recorded[key], key);
    }
    for (const key of keysOf(ours))
      assert.ok(key in recorded || key === 'visibility', `unknown key ${key}`);
  });

  test('contents: the entry shape, the raw media type, and a 404 error body', async () => {
    const recorded = scenario('get-content');
    const listing = recorded.find((r) => r.path.endsWith('/contents/'))?.response as Record<
      string,
      unknown
    >[];
    const { body: dir } = await get('/repos/acme/notebooks/contents/?ref=v1');
    const ourEntry = (dir as Record<string, unknown>[]).find((e) => e.type === 'file') ?? {};
    assert.deepEqual(keysOf(ourEntry), keysOf(listing[0]));
    const { body: file } = await get('/repos/acme/notebooks/contents/README.md?ref=v1');
    assert.deepEqual(keysOf(file), [...keysOf(listing[0]), 'content', 'encoding'].sort());
    const rawRecorded = recorded.find((r) => r.path.endsWith('README.md'));
    const { body: raw } = await get(
      '/repos/acme/notebooks/contents/README.md?ref=v1',
      'application/vnd.github.v3.raw',
    );
    assert.equal(typeof raw, typeof rawRecorded?.response);
    assert.equal(raw, '# notebooks\n');
    const { response, body: missing } = await get('/repos/acme/notebooks/contents/nope?ref=v1');
    assert.equal(response.status, 404);
    const recordedError = scenario('branch-protection').find((r) => r.status === 404)?.response;
    assert.deepEqual(keysOf(missing), keysOf(recordedError));
  });

  test('tarball: a 302 to a download location, with rate-limit headers like GitHub', async () => {
    const recorded = scenario('get-archive');
    const redirect = recorded[0];
    assert.equal(redirect?.status, 302);
    const { response } = await get('/repos/acme/notebooks/tarball/v1');
    assert.equal(response.status, redirect?.status);
    assert.match(response.headers.get('location') ?? '', /\/legacy\.tar\.gz\//);
    for (const header of [
      'x-ratelimit-limit',
      'x-ratelimit-remaining',
      'x-ratelimit-reset',
      'x-ratelimit-used',
      'x-ratelimit-resource',
    ]) {
      assert.ok(header in (redirect?.headers ?? {}), header);
      assert.ok(response.headers.get(header) !== null, header);
    }
    const download = await fetch(response.headers.get('location') ?? '');
    assert.equal(download.headers.get('content-type'), recorded[1]?.headers['content-type']);
  });

  test('git refs resolve to the commit SHAs the API answers', async () => {
    const recorded = scenario('git-refs')[0]?.response as { object: { sha: string } }[];
    assert.match(recorded[0]?.object.sha ?? '', /^[0-9a-f]{40}$/);
    const { body } = await get('/repos/acme/notebooks/commits/v1', 'application/vnd.github.sha');
    assert.equal(body, firstSha);
    const { body: json } = await get('/repos/acme/notebooks/commits/v1');
    assert.equal((json as { sha: string }).sha, firstSha);
  });
});

describe('comparisons: the compare API paged as GitHub pages it', () => {
  /** `count` commits on top of `base` in one `git fast-import` (one process, not hundreds). */
  function importCommits(git: GitRepository, base: string, count: number): string[] {
    // Times after the base commit's: git's range walks trust commit dates to go forward.
    const now = Math.floor(Date.now() / 1000) + 1;
    let stream = '';
    for (let i = 0; i < count; i++) {
      const message = `commit ${i}`;
      const content = `${i}\n`;
      stream += `commit refs/heads/main\nmark :${i + 1}\ncommitter NES Test <test@nes.invalid> ${now + i} +0000\n`;
      stream += `data ${message.length}\n${message}\n`;
      stream += i === 0 ? `from ${base}\n` : `from :${i}\n`;
      stream += `M 100644 inline part/${i % 3}.txt\ndata ${content.length}\n${content}\n`;
    }
    execFileSync('git', ['fast-import', '--quiet'], { cwd: git.dir, input: stream });
    return execFileSync('git', ['rev-list', '--reverse', `${base}..main`], { cwd: git.dir })
      .toString()
      .trim()
      .split('\n');
  }

  test('files from the merge base on the first page only, commits oldest first in pages, 250 without paging', async () => {
    const git = await GitRepository.create(join(work, 'long'));
    const base = await git.commit({ 'README.md': 'long\n', 'part/0.txt': 'x\n' }, 'base');
    const commits = importCommits(git, base, 260);
    const head = commits.at(-1) ?? '';
    server.addRepository({ owner: 'acme', name: 'long', git });
    const client = new GitHubClient(options());

    const comparison = await client.compareFiles('acme', 'long', base, head);
    assert.deepEqual(
      { ...comparison, files: comparison.files.map((f) => `${f.status} ${f.filename}`) },
      {
        status: 'ahead',
        aheadBy: 260,
        behindBy: 0,
        totalCommits: 260,
        files: ['modified part/0.txt', 'added part/1.txt', 'added part/2.txt'],
        complete: true,
      },
    );
    server.requests.length = 0;
    assert.deepEqual(await client.comparisonCommits('acme', 'long', base, head), commits);
    // Three pages of 100, each linked to the next.
    assert.equal(server.requests.filter((r) => r.path.includes('/compare/')).length, 3);

    const get = async (query: string) => {
      const response = await fetch(
        `${server.url}/repos/acme/long/compare/${base}...${head}${query}`,
      );
      return {
        link: response.headers.get('link') ?? '',
        body: (await response.json()) as {
          commits: Array<{ sha: string }>;
          files: unknown[];
          total_commits: number;
        },
      };
    };
    const unpaged = await get('');
    assert.equal(unpaged.body.commits.length, 250);
    assert.equal(unpaged.body.commits.at(-1)?.sha, head);
    assert.equal(unpaged.link, '');
    const second = await get('?per_page=100&page=2');
    assert.deepEqual(
      second.body.commits.map((c) => c.sha),
      commits.slice(100, 200),
    );
    assert.deepEqual(second.body.files, []);
    assert.match(second.link, /[?&]page=3>; rel="next"/);
    assert.match(second.link, /[?&]page=1>; rel="prev"/);
    // per_page above 100 is 100, as GitHub caps it.
    assert.equal((await get('?per_page=500')).body.commits.length, 100);

    const back = await client.compareFiles('acme', 'long', head, base);
    assert.deepEqual(
      [back.status, back.aheadBy, back.behindBy, back.totalCommits],
      ['behind', 0, 260, 0],
    );
    await expectCode(client.compareFiles('acme', 'long', base, 'no-such-branch'), 'ref_not_found');
  });
});

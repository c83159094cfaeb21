import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readHttpsNotebook } from '../src/https.ts';
import { parseSourceUri, pinnedSourceUri, SourceError, safeUri } from '../src/index.ts';
import { scrubUrls } from '../src/uri.ts';

test('source URIs parse to locations', () => {
  const table: [string, object][] = [
    [
      'github://acme/nb/a/b.ipynb',
      { kind: 'github', owner: 'acme', repo: 'nb', ref: null, path: 'a/b.ipynb' },
    ],
    [
      'github://Acme/nb.git/a.ipynb?ref=v1',
      { kind: 'github', owner: 'Acme', repo: 'nb', ref: 'v1', path: 'a.ipynb' },
    ],
    [
      'https://github.com/acme/nb/blob/main/a.ipynb',
      { kind: 'github', owner: 'acme', repo: 'nb', ref: 'main', path: 'a.ipynb' },
    ],
    [
      'gs://bucket/dir/a b.ipynb',
      { kind: 'gcs', bucket: 'bucket', object: 'dir/a b.ipynb', generation: null },
    ],
    [
      'gs://bucket/a.ipynb?generation=12',
      { kind: 'gcs', bucket: 'bucket', object: 'a.ipynb', generation: '12' },
    ],
    ['https://example.org/a.ipynb', { kind: 'https', url: 'https://example.org/a.ipynb' }],
    ['/srv/nb/a.ipynb', { kind: 'local', path: '/srv/nb/a.ipynb' }],
    ['nb/a.ipynb', { kind: 'local', path: 'nb/a.ipynb' }],
  ];
  for (const [uri, expected] of table) assert.deepEqual(parseSourceUri(uri), expected, uri);
  const slashed = parseSourceUri('https://github.com/acme/nb/blob/feature/x/a.ipynb');
  assert.deepEqual(slashed.kind === 'github' && slashed.candidates, [
    { ref: 'feature/x', path: 'a.ipynb' },
    { ref: 'feature', path: 'x/a.ipynb' },
  ]);
  assert.deepEqual(
    parseSourceUri('https://github.com/acme/nb/blob/feature/x/a.ipynb', { ref: 'feature' }),
    {
      kind: 'github',
      owner: 'acme',
      repo: 'nb',
      ref: 'feature',
      path: 'x/a.ipynb',
    },
  );
  assert.deepEqual(parseSourceUri('github://acme/nb/a.ipynb', { ref: 'dev' }), {
    kind: 'github',
    owner: 'acme',
    repo: 'nb',
    ref: 'dev',
    path: 'a.ipynb',
  });
});

test('unsupported and malformed locations', () => {
  const code = (uri: string, ref?: string) => {
    try {
      parseSourceUri(uri, { ref });
    } catch (error) {
      assert.ok(error instanceof SourceError);
      return error.code;
    }
    return 'ok';
  };
  assert.equal(code('s3://bucket/a.ipynb'), 'unsupported_source');
  assert.equal(code('ftp://host/a.ipynb'), 'unsupported_source');
  assert.equal(code('github://acme'), 'invalid_source');
  assert.equal(code('github://acme/nb/../x.ipynb'), 'invalid_source');
  assert.equal(code('github://acme/nb/a.ipynb?ref=v1', 'v2'), 'invalid_source');
  assert.equal(code('https://github.com/acme/nb/tree/main'), 'invalid_source');
  assert.equal(code('gs://bucket'), 'invalid_source');
  assert.equal(code('gs://b/a.ipynb', 'main'), 'invalid_source');
  assert.equal(code(''), 'invalid_source');
});

test('credentials in a location are refused, and never echoed in a message', async () => {
  for (const uri of [
    'https://alice:hunter2pass@example.org/a.ipynb',
    'http://alice:hunter2pass@example.org/a.ipynb',
    'https://alice:hunter2pass@github.com/acme/nb/blob/main/a.ipynb',
    'https://hunter2pass@example.org/a.ipynb',
    'https://a:b@c:hunter2pass@example.org/a.ipynb',
    'github://alice:hunter2pass@acme/nb/a.ipynb',
    'gs://alice:hunter2pass@bucket/a.ipynb',
    'ftp://alice:hunter2pass@example.org/a.ipynb',
  ]) {
    assert.throws(
      () => parseSourceUri(uri),
      (error: unknown) =>
        error instanceof SourceError &&
        error.code === 'invalid_source' &&
        !error.message.includes('hunter2pass') &&
        !JSON.stringify(error).includes('hunter2pass'),
      uri,
    );
  }
  assert.equal(safeUri('gs://alice:hunter2pass@bucket/a.ipynb'), 'gs://bucket/a.ipynb');
  assert.equal(
    safeUri('https://alice:pw@example.org/a.ipynb?x=1'),
    'https://example.org/a.ipynb?…',
  );
  // Free text from fetch quotes the URL: user information and queries are taken out.
  assert.equal(
    scrubUrls(
      'Request cannot be constructed from a URL that includes credentials: https://alice:hunter2pass@example.org/a.ipynb?sig=1',
    ),
    'Request cannot be constructed from a URL that includes credentials: https://example.org/a.ipynb?…',
  );
  // The https reader itself scrubs what fetch says, were it given such a URL directly.
  await assert.rejects(
    readHttpsNotebook('https://alice:hunter2pass@127.0.0.1:1/a.ipynb', {
      retry: { attempts: 1, baseDelayMs: 1, maxDelayMs: 1 },
    }),
    (error: unknown) => error instanceof SourceError && !error.message.includes('hunter2pass'),
  );
});

test('a GitHub notebook is read at the commit resolved at submit time; the pinned URI reads back', () => {
  const sha = 'a'.repeat(40);
  assert.deepEqual(pinnedSourceUri('github://o/r/dir/nb.ipynb', 'main', sha), {
    uri: `github://o/r/dir/nb.ipynb?ref=${sha}`,
    ref: null,
  });
  // No ref stored: still the submit-time commit, not whatever the default branch is by then.
  assert.deepEqual(pinnedSourceUri('github://o/r/nb.ipynb', null, sha), {
    uri: `github://o/r/nb.ipynb?ref=${sha}`,
    ref: null,
  });
  assert.deepEqual(
    pinnedSourceUri('https://github.com/o/r/blob/feature/x/nb.ipynb', 'feature/x', sha),
    { uri: `github://o/r/nb.ipynb?ref=${sha}`, ref: null },
  );
  // An ambiguous blob URL without its ref: the path is not known, the reader resolves it.
  assert.deepEqual(pinnedSourceUri('https://github.com/o/r/blob/a/b/nb.ipynb', null, sha), {
    uri: 'https://github.com/o/r/blob/a/b/nb.ipynb',
    ref: null,
  });
  // Names with characters a URI gives meaning to come back as the same path.
  const odd = pinnedSourceUri('github://o/r/my%20dir/50%25%231%3F.ipynb', 'main', sha);
  assert.deepEqual(parseSourceUri('github://o/r/my%20dir/50%25%231%3F.ipynb'), {
    kind: 'github',
    owner: 'o',
    repo: 'r',
    ref: null,
    path: 'my dir/50%#1?.ipynb',
  });
  assert.deepEqual(parseSourceUri(odd.uri), {
    kind: 'github',
    owner: 'o',
    repo: 'r',
    ref: sha,
    path: 'my dir/50%#1?.ipynb',
  });
  for (const [notebook, ref] of [
    ['/nb/a.ipynb', null],
    ['gs://b/a.ipynb', null],
    ['github://o/r/a.ipynb', 'main'],
  ] as const) {
    assert.deepEqual(pinnedSourceUri(notebook, ref, null), { uri: notebook, ref });
  }
  assert.deepEqual(pinnedSourceUri('/nb/a.ipynb', null, sha), { uri: '/nb/a.ipynb', ref: null });
});
